// Benchmark: what the watch probe's key count costs etcd. Every follower (the watcher's node feed, the
// client library, beacon render, /http_sd) probes etcd every probeInterval with a read that counts the
// keys under the prefix it follows, so that a watch stream silent on a hung member is noticed
// (src/etcd/watch-check.ts). etcd counts by walking its index, so the cost grows with the keys. Loads
// N nodes' worth of keys (7 per node, ~800 bytes each, like the fleet's) into a real single-member etcd,
// then times R count reads of the whole nodes prefix beside R single-key gets (the probe before the
// count), and reads etcd's CPU from /proc around each series.
// Run: npm run build && node dist/bench/probe-count.js [--nodes 10000] [--reads 200] [--docs]
import { parseArgs } from 'node:util';
import { Keys } from '../src/etcd/keys.js';
import { Store, type TxnOp } from '../src/etcd/store.js';
import { EtcdCluster } from '../test/helpers/etcd.js';
import { cpuSeconds, machine } from './fleet/machine.js';
import { DEFAULT_DOCS, commandLine, pct, round, writeSection } from './report.js';

/** The heading this benchmark owns in docs/benchmarks.md. */
export const PROBE_COUNT_HEADING = "## The probe's key count";

const { values: v } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10000' },
    reads: { type: 'string', default: '200' },
    docs: { type: 'boolean', default: false },
    'docs-file': { type: 'string' },
  },
});
const N = Number(v.nodes);
const R = Math.max(10, Number(v.reads));
const KEYS_PER_NODE = 7;
const m = machine();
const etcd = await EtcdCluster.start(1);
const keys = new Keys('/bench-probe');
const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 30_000, dialTimeoutMs: 5_000 });
try {
  const value = 'x'.repeat(800);
  const all: string[] = [];
  for (let n = 0; n < N; n++) for (let k = 0; k < KEYS_PER_NODE; k++) all.push(`${keys.nodes}n${n}/k${k}`);
  // 100 puts per transaction (etcd's default --max-txn-ops is 128), 16 transactions in flight.
  const batches: string[][] = [];
  for (let i = 0; i < all.length; i += 100) batches.push(all.slice(i, i + 100));
  for (let i = 0; i < batches.length; i += 16) {
    await Promise.all(
      batches.slice(i, i + 16).map((b) =>
        store.txn([{ key: `${keys.root}x`, target: 'Version', op: '>', value: -1 }], b.map((key): TxnOp => ({ put: key, value }))),
      ),
    );
  }
  const pid = etcd.members[0]!.proc!.pid!;
  const counted = await store.count(keys.nodes);
  if (counted.count !== all.length) throw new Error(`count says ${counted.count} keys, ${all.length} were written`);

  // R reads one after the other: latency of each, and etcd's CPU over the series.
  const series = async (read: () => Promise<unknown>) => {
    const lat: number[] = [];
    const c0 = cpuSeconds(pid);
    for (let i = 0; i < R; i++) {
      const t0 = performance.now();
      await read();
      lat.push(performance.now() - t0);
    }
    const etcdCpuMsPerRead = ((cpuSeconds(pid) - c0) * 1000) / R;
    return { p50Ms: round(pct(lat, 50), 2), p99Ms: round(pct(lat, 99), 2), etcdCpuMsPerRead: round(etcdCpuMsPerRead, 2) };
  };
  const count = await series(() => store.count(keys.nodes));
  const get = await series(() => store.get(`${keys.watcher}probe`));
  // At the default probeInterval (2 s): one count per follower every 2 s.
  const countPctOfCoreAt2s = round((count.etcdCpuMsPerRead / 2_000) * 100, 2);
  const result = { benchmark: 'probe-count', machine: m, nodes: N, keys: all.length, reads: R, count, get, countPctOfCoreAt2s };
  if (v.docs) {
    const table = [
      `| read (${N.toLocaleString('en-US')} nodes, ${all.length.toLocaleString('en-US')} keys under \`nodes/\`, ${R} reads each) | p50 | p99 | etcd CPU per read |`,
      '|---|---|---|---|',
      `| count of the whole \`nodes/\` prefix (the probe now) | ${count.p50Ms} ms | ${count.p99Ms} ms | ${count.etcdCpuMsPerRead} ms |`,
      `| get of one key (the probe before) | ${get.p50Ms} ms | ${get.p99Ms} ms | ${get.etcdCpuMsPerRead} ms |`,
      '',
      `One follower probing every 2 s (the default) costs etcd ${countPctOfCoreAt2s} % of a core at this size.`,
    ].join('\n');
    writeSection(v['docs-file'] ?? DEFAULT_DOCS, PROBE_COUNT_HEADING, 'probe-count', m, commandLine('probe-count.js'), table, result);
  }
  console.log(JSON.stringify({ ...result, command: commandLine('probe-count.js') }, null, 2));
} finally {
  store.close();
  await etcd.destroy();
}
