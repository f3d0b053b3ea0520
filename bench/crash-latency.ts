// Benchmark: crash → NodeFailed latency. One etcd member, one watcher, agents with TTL T (default 3 s)
// SIGKILLed at a random point of their keepalive cycle; latency = the watcher's event time − the kill.
// The physical bound: etcd expires a lease T after its last keepalive (sent every T/3), checked every
// 500 ms, so crash → delete lies in [2T/3, T] + up to 0.5 s.
// Run: npm run bench:crash   (or: npm run build && node dist/bench/crash-latency.js [trials=30] [ttl=3] [parallel=3])
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { EtcdCluster, waitFor } from '../test/helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../test/helpers/process.js';

const trials = Number(process.argv[2] ?? 30);
const ttl = Number(process.argv[3] ?? 3);
const parallel = Number(process.argv[4] ?? 3);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const etcd = await EtcdCluster.start();
const prefix = '/bench-crash';
const watcherCfg = writeConfig(
  JSON.stringify({
    etcd: { endpoints: [etcd.endpoints] },
    prefix,
    log: { level: 'info' },
    // No hooks: the figure is detection. The guard stays quiet for one node at a time.
    watcher: { id: 'bench', electionTtl: '3s', massFailure: { minNodes: 1000 } },
  }),
  'watcher.json',
);
const watcher = new BeaconProcess(['watcher', '--config', watcherCfg]);
await watcher.waitLine((l) => l.msg === 'in sync', 20_000);

const nodeEvent = (event: string, node: string) =>
  watcher.lines.find((l) => l.msg === 'node event' && l.event === event && l.node === node);

async function trial(i: number): Promise<number> {
  const node = `c${i}`;
  const cfg = writeConfig(`etcd:\n  endpoints: [${etcd.endpoints}]\nprefix: ${prefix}\nnode: { name: ${node}, ttl: ${ttl}s }\n`);
  const agent = new BeaconProcess(['agent', '--config', cfg]);
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  await waitFor(() => nodeEvent('NodeJoined', node), { timeoutMs: 10_000, what: `NodeJoined ${node}` });
  // Kill at a random phase of the keepalive cycle (after at least one keepalive).
  await sleep(ttl * 1000 * (1 / 3 + Math.random()));
  const killedAt = Date.now();
  await agent.stop('SIGKILL');
  const ev = await waitFor(() => nodeEvent('NodeFailed', node), { timeoutMs: (ttl + 5) * 1000, what: `NodeFailed ${node}` });
  return Date.parse(ev.time as string) - killedAt;
}

const latencies: number[] = [];
let next = 0;
await Promise.all(
  Array.from({ length: parallel }, async () => {
    while (next < trials) {
      const i = next++;
      const ms = await trial(i);
      latencies.push(ms);
      process.stderr.write(`trial ${i}: ${ms} ms\n`);
    }
  }),
);
await watcher.stop('SIGTERM');
await etcd.destroy();

const T = ttl * 1000;
const etcdVersion = execFileSync('etcd', ['--version'], { encoding: 'utf8' }).split('\n')[0];
const result = {
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version, etcd: etcdVersion },
  ttlS: ttl,
  trials,
  parallel,
  latencyMs: { min: Math.min(...latencies), p50: pct(latencies, 50), p99: pct(latencies, 99), max: Math.max(...latencies) },
  boundMs: [Math.round((2 * T) / 3), T + 500],
  targetsMs: { p50: T, p99: T + 600 },
  outsideBound: latencies.filter((x) => x < (2 * T) / 3 || x > T + 500).length,
};
console.log(JSON.stringify(result, null, 2));
