// Benchmark: the watcher at fleet scale. Loads N nodes (default 10,000) into a real single-member
// etcd with a fast loader (leases granted 128 at a time, each node's records from beacon's own Agent
// render, written 18 nodes per transaction), then starts a real `beacon watcher` process and measures
// process start → `in sync` (first listing, election, every node compared and recorded), its RSS,
// and its CPU at steady state. Twice: a first watcher (no status records: one NodeJoined transaction
// per node) and a restarted one (status records present: nothing to write).
// Run: npm run build && node dist/bench/watcher-scale.js [--nodes 10000] [--window 30] [--docs]
import { parseArgs } from 'node:util';
import { EtcdCluster } from '../test/helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../test/helpers/process.js';
import { Store, type Compare, type Grant, type TxnOp } from '../src/etcd/store.js';
import { gatherFacts } from '../src/facts/host.js';
import { createLogger } from '../src/log.js';
import { agentRenderer, type FleetBase } from './fleet/virtual-node.js';
import { cpuSeconds, machine, rssMiB } from './fleet/machine.js';
import { DEFAULT_DOCS, RssSampler, commandLine, round, sleep, writeSection } from './report.js';

const { values: v } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10000' },
    window: { type: 'string', default: '30' },
    timeout: { type: 'string', default: '300' },
    docs: { type: 'boolean', default: false },
    'docs-file': { type: 'string' },
    'watcher-node-options': { type: 'string' },
  },
});
const N = Number(v.nodes);
const windowS = Number(v.window);
const timeoutMs = Number(v.timeout) * 1000;
/** The heading this benchmark owns in docs/benchmarks.md. */
export const WATCHER_SCALE_HEADING = '## Watcher at scale: 10,000 nodes';

const progress = (s: string) => process.stderr.write(`[watcher-scale] ${s}\n`);
const m = machine();
const prefix = '/bench-scale';
const etcd = await EtcdCluster.start(1);

/** Run `fn` over 0..n-1 with at most `k` in flight. */
async function pool(n: number, k: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(k, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

// 1. Load: one long lease per node (no keepalives needed while measuring), the agent's exact records.
const log = createLogger('warn', process.stderr);
const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 30_000, dialTimeoutMs: 5_000 });
const base: FleetBase = { endpoints: etcd.endpoints.split(','), prefix, ttl: 3600, keepaliveIntervalMs: 1_200_000, facts: await gatherFacts({ log }), log };
const t0 = Date.now();
const grants: Grant[] = new Array(N);
await pool(N, 128, async (i) => {
  grants[i] = await store.grant(3600);
});
const grantMs = Date.now() - t0;
const PER_TXN = 18; // 18 nodes × 7 keys stays under etcd's default --max-txn-ops 128
let keys = 0;
await pool(Math.ceil(N / PER_TXN), 32, async (b) => {
  const ops: TxnOp[] = [];
  for (let i = b * PER_TXN; i < Math.min(N, (b + 1) * PER_TXN); i++) {
    const d = agentRenderer(i, base).render(grants[i]!, 'up');
    for (const [k, val] of d.leased) ops.push({ put: k, value: val, lease: grants[i]!.id });
    for (const [k, val] of d.unleased) ops.push({ put: k, value: val });
  }
  keys += ops.length;
  await store.txn([{ key: `${prefix}/none`, target: 'Version', op: '==', value: 0 }], ops);
});
const loadMs = Date.now() - t0;
const listed = (await store.list(`${prefix}/v1/nodes/`)).kvs.length;
// The etcd side alone: as many writes shaped like the watcher's NodeJoined (a compare, a status put, an
// event put under one lease), one transaction per node with 64 in flight (the watcher before it recorded
// a batch together), then 50 nodes per transaction (as it does now): its floor on this machine.
const floorLease = await store.grant(600);
const sample = agentRenderer(0, base).render(grants[0]!, 'up');
const statusLike = JSON.stringify({ schema: 1, node: 'x', state: 'up', since: new Date().toISOString(), lease: grants[0]!.id, bootId: 'b', address: '10.0.0.1', reason: 'Registered' });
const eventLike = [...sample.leased.values()][0]!;
const f0 = Date.now();
await pool(N, 64, async (i) => {
  await store.txn([{ key: `/bench-floor/status/${i}`, target: 'Mod', op: '==', value: 0 }], [
    { put: `/bench-floor/status/${i}`, value: statusLike },
    { put: `/bench-floor/events/${i}`, value: eventLike, lease: floorLease.id },
  ]);
});
const etcdFloorMs = Date.now() - f0;
// The same with 50 nodes per transaction, as the watcher's leader records a batch (≤ 100 operations).
const b0 = Date.now();
await pool(Math.ceil(N / 50), 8, async (b) => {
  const cmp: Compare[] = [];
  const ops: TxnOp[] = [];
  for (let i = b * 50; i < Math.min(N, (b + 1) * 50); i++) {
    cmp.push({ key: `/bench-floor/status2/${i}`, target: 'Mod', op: '==', value: 0 });
    ops.push({ put: `/bench-floor/status2/${i}`, value: statusLike }, { put: `/bench-floor/events2/${i}`, value: eventLike, lease: floorLease.id });
  }
  await store.txn(cmp, ops);
});
const etcdFloorBatchedMs = Date.now() - b0;
await store.revoke(floorLease.id);
await store.txn([{ key: '/bench-floor/none', target: 'Version', op: '==', value: 0 }], [{ deletePrefix: '/bench-floor/' }]);
store.close();
progress(`etcd alone: ${N} transition-shaped transactions, 64 in flight: ${etcdFloorMs} ms; 50 nodes per transaction: ${etcdFloorBatchedMs} ms`);
progress(`loaded ${N} nodes, ${keys} keys (${listed} under nodes/) in ${loadMs} ms (grants ${grantMs} ms)`);

// 2. A real watcher process: start → in sync, twice.
const cfg = writeConfig(
  JSON.stringify({
    etcd: { endpoints: etcd.endpoints.split(',') },
    prefix,
    log: { level: 'info' },
    watcher: { id: 'scale', electionTtl: '3s', massFailure: { minNodes: N + 1 } },
  }),
  'watcher.json',
);

interface Run {
  /** Process spawn → `watcher started` logged (Node start and module loading). */
  startedMs: number;
  /** Spawn → `leading: reconciling` (first listing, elected, status records loaded). */
  leadingMs: number;
  /** Spawn → `in sync`: every node compared and every transition recorded. */
  inSyncMs: number;
  /** `leading: reconciling` → `in sync`. */
  reconcileMs: number;
  joined: number;
  rssAtSyncMiB: number;
  peakRssMiB: number;
}

async function startWatcher(): Promise<{ p: BeaconProcess; run: Run }> {
  const env: NodeJS.ProcessEnv = v['watcher-node-options'] ? { NODE_OPTIONS: v['watcher-node-options'] } : {};
  const spawned = Date.now();
  const p = new BeaconProcess(['watcher', '--config', cfg], env);
  const rss = new RssSampler(p.proc.pid!);
  const at = async (msg: string) => {
    try {
      return Date.parse((await p.waitLine((l) => l.msg === msg, timeoutMs)).time as string) - spawned;
    } catch (err) {
      // What the watcher said instead (its events left out), to see why it did not get there.
      for (const l of p.lines.filter((x) => x.msg !== 'node event').slice(-30)) progress(JSON.stringify(l).slice(0, 600));
      throw err;
    }
  };
  const startedMs = await at('watcher started');
  const leadingMs = await at('leading: reconciling');
  const lead = p.lines.findIndex((l) => l.msg === 'leading: reconciling');
  const sync = await p.waitLine((l) => l.msg === 'in sync', timeoutMs, lead);
  const inSyncMs = Date.parse(sync.time as string) - spawned;
  const rssAtSyncMiB = round(rssMiB(p.proc.pid!));
  const run: Run = {
    startedMs,
    leadingMs,
    inSyncMs,
    reconcileMs: inSyncMs - leadingMs,
    joined: p.lines.filter((l) => l.msg === 'node event' && l.event === 'NodeJoined').length,
    rssAtSyncMiB,
    peakRssMiB: rss.stop(),
  };
  return { p, run };
}

async function stop(p: BeaconProcess): Promise<void> {
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
  await p.exited;
  clearTimeout(t);
}

progress('first watcher (no status records)');
const first = await startWatcher();
progress(`first: in sync after ${first.run.inSyncMs} ms (${first.run.joined} NodeJoined)`);
// Steady state: nothing changes in the registry; the watcher probes etcd and keeps its election lease.
await sleep(2_000);
const pid = first.p.proc.pid!;
const c0 = cpuSeconds(pid);
const w0 = Date.now();
const rss: number[] = [];
while (Date.now() - w0 < windowS * 1000) {
  await sleep(1_000);
  rss.push(rssMiB(pid));
}
const steady = {
  windowS,
  cpuPctOfOneCore: round(((cpuSeconds(pid) - c0) / ((Date.now() - w0) / 1000)) * 100, 2),
  rssMiB: { min: round(Math.min(...rss)), max: round(Math.max(...rss)) },
};
await stop(first.p);
progress('restarted watcher (status records present)');
const second = await startWatcher();
progress(`restart: in sync after ${second.run.inSyncMs} ms (${second.run.joined} NodeJoined)`);
await stop(second.p);
await etcd.destroy();

const result = {
  benchmark: 'watcher-scale',
  machine: m,
  nodes: N,
  keys,
  keysUnderNodes: listed,
  loadMs,
  /** etcd alone: N transactions shaped like the watcher's NodeJoined, 64 in flight. */
  etcdFloorMs,
  /** The same N transitions, 50 nodes per transaction, 8 in flight. */
  etcdFloorBatchedMs,
  first: first.run,
  steady,
  restart: second.run,
  targets: { inSyncMs: 3000, rssMiB: 200 },
};
const command = commandLine('watcher-scale.js');
if (v.docs) {
  const f = first.run;
  const r = second.run;
  const table = [
    `| figure (${N.toLocaleString('en-US')} nodes, ${keys.toLocaleString('en-US')} keys, ${listed.toLocaleString('en-US')} of them under \`nodes/\`) | first watcher (writes ${f.joined.toLocaleString('en-US')} NodeJoined) | restarted watcher (status records present) | target |`,
    '|---|---|---|---|',
    `| process start → \`watcher started\` | ${f.startedMs} ms | ${r.startedMs} ms | |`,
    `| process start → \`leading: reconciling\` (listed, elected, statuses loaded) | ${f.leadingMs} ms | ${r.leadingMs} ms | |`,
    `| **process start → \`in sync\`** | **${f.inSyncMs} ms** | **${r.inSyncMs} ms** | ≤ 3,000 ms |`,
    `| of which reconcile (\`leading\` → \`in sync\`) | ${f.reconcileMs} ms | ${r.reconcileMs} ms | |`,
    `| RSS at \`in sync\` / peak while starting | ${f.rssAtSyncMiB} / ${f.peakRssMiB} MiB | ${r.rssAtSyncMiB} / ${r.peakRssMiB} MiB | ≤ 200 MiB |`,
    `| steady state over ${windowS} s: CPU, % of one core · RSS min–max | ${steady.cpuPctOfOneCore} % · ${steady.rssMiB.min}–${steady.rssMiB.max} MiB | | |`,
    `| etcd alone, from the bench process: ${N.toLocaleString('en-US')} NodeJoined-shaped writes (status + event), one transaction per node, 64 in flight · 50 nodes per transaction | ${etcdFloorMs} ms · ${etcdFloorBatchedMs} ms | | |`,
    `| loader: ${N.toLocaleString('en-US')} leases + every key written | ${(loadMs / 1000).toFixed(1)} s | | |`,
  ].join('\n');
  writeSection(v['docs-file'] ?? DEFAULT_DOCS, WATCHER_SCALE_HEADING, 'watcher-scale', m, command, table, result);
}
console.log(JSON.stringify({ ...result, command }, null, 2));
