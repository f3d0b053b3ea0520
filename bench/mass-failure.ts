// Benchmark: N nodes killed at once. N virtual nodes (default 1,000) register through beacon's real
// Registration in fleet worker processes (bench/fleet/worker.ts), a real `beacon watcher` process
// reports them joined, then every worker is SIGKILLed at the same instant. Measured per node: kill →
// the live key's DELETE (etcd's expiry, seen by a plain watch in this process) and kill → the watcher's
// NodeFailed (`time` of its line). etcd's leader revokes at most ~1,000 expired leases a second, so the
// floor for N nodes is about [2T/3, T] + 0.5 s + N/1000 s. Target: the last NodeFailed ≤ T + 2 s.
// Run: npm run build && node dist/bench/mass-failure.js [--nodes 1000] [--ttl 3] [--workers 2] [--docs]
import { fork, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { EtcdCluster } from '../test/helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../test/helpers/process.js';
import { Store } from '../src/etcd/store.js';
import { Keys } from '../src/etcd/keys.js';
import { machine } from './fleet/machine.js';
import type { FromWorker, ToWorker, WorkerSpec } from './fleet/protocol.js';
import { nodeName } from './fleet/virtual-node.js';
import { DEFAULT_DOCS, commandLine, pct, sleep, writeSection } from './report.js';

/** The heading this benchmark owns in docs/benchmarks.md. */
export const MASS_FAILURE_HEADING = '## Mass failure: 1,000 nodes killed at once';

const { values: v } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    ttl: { type: 'string', default: '3' },
    workers: { type: 'string', default: '2' },
    'client-per': { type: 'string', default: 'worker' },
    docs: { type: 'boolean', default: false },
    'docs-file': { type: 'string' },
  },
});
const N = Number(v.nodes);
const ttl = Number(v.ttl);
const W = Math.max(1, Math.min(Number(v.workers), N));
const clientPer = v['client-per'] === 'node' ? 'node' : 'worker';
const T = ttl * 1000;
const progress = (s: string) => process.stderr.write(`[mass-failure] ${s}\n`);
const m = machine();
const prefix = '/bench-mass';
const keys = new Keys(prefix);
const etcd = await EtcdCluster.start(1);

const watcher = new BeaconProcess([
  'watcher',
  '--config',
  writeConfig(
    JSON.stringify({
      etcd: { endpoints: etcd.endpoints.split(',') },
      prefix,
      log: { level: 'info' },
      // The defaults, guard included: it raises PartitionSuspected and holds remedies (there are none
      // here); NodeFailed events go out either way.
      watcher: { id: 'mass', electionTtl: '3s' },
    }),
    'watcher.json',
  ),
]);

// Fleet workers: beacon's Registration for each virtual node, keepalive every T/3 as the agent.
const workers: { proc: ChildProcess; ramped: Promise<number> }[] = [];
for (let k = 0; k < W; k++) {
  const proc = fork(new URL('./fleet/worker.js', import.meta.url), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const ready = new Promise<void>((r) => proc.on('message', (msg: FromWorker) => msg.type === 'ready' && r()));
  const ramped = new Promise<number>((resolve, reject) => {
    proc.on('message', (msg: FromWorker) => {
      if (msg.type === 'ramped') resolve(msg.registered);
      if (msg.type === 'failed') reject(new Error(msg.error));
    });
  });
  await ready;
  const spec: WorkerSpec = {
    side: 'beacon',
    endpoints: etcd.endpoints.split(','),
    prefix,
    ttl,
    intervalMs: Math.floor(T / 3),
    concurrency: Math.max(1, Math.round(64 / W)),
    clientPer,
    keepaliveStream: 'call',
    nodes: Array.from({ length: N }, (_, i) => i).filter((i) => i % W === k),
  };
  proc.send({ type: 'start', spec } satisfies ToWorker);
  workers.push({ proc, ramped });
}
const registered = (await Promise.all(workers.map((w) => w.ramped))).reduce((a, b) => a + b, 0);
progress(`${registered} nodes registered`);
const joinedAll = async () => {
  for (let i = 0; i < 600; i++) {
    const joined = new Set(watcher.lines.filter((l) => l.msg === 'node event' && l.event === 'NodeJoined').map((l) => l.node));
    if (joined.size >= N) return;
    await sleep(500);
  }
  throw new Error('the watcher did not report every node joined within 300 s');
};
await joinedAll();
progress(`watcher reported ${N} NodeJoined`);

// A plain watch on the live keys: when etcd deleted each one (its expiry), apart from the watcher's work.
const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 10_000, dialTimeoutMs: 5_000 });
const deletedAt = new Map<string, number>();
const w = await store.watch(keys.nodes, String(etcd.revision() + 1));
w.on('event', (e) => {
  const k = keys.parse(e.kv.key);
  if (e.type === 'delete' && k.kind === 'live' && !deletedAt.has(k.node)) deletedAt.set(k.node, Date.now());
});

// Let at least one keepalive round go by, then kill every worker at the same instant.
await sleep(T / 3 + Math.random() * (T / 3));
const lineMark = watcher.lines.length;
const killedAt = Date.now();
for (const x of workers) x.proc.kill('SIGKILL');
const failedLines = () => watcher.lines.slice(lineMark).filter((l) => l.msg === 'node event' && l.event === 'NodeFailed');
const deadline = Date.now() + T + 60_000;
while (failedLines().length < N && Date.now() < deadline) await sleep(100);
await sleep(500);
const failed = failedLines();
const names = new Set(Array.from({ length: N }, (_, i) => nodeName(i)));
const latencies = failed.filter((l) => names.has(l.node as string)).map((l) => Date.parse(l.time as string) - killedAt);
const expiries = [...deletedAt.values()].map((t) => t - killedAt);
const partition = watcher.lines.slice(lineMark).filter((l) => l.msg === 'node event' && l.event === 'PartitionSuspected').length;
await w.cancel();
store.close();
watcher.kill('SIGTERM');
const t = setTimeout(() => watcher.kill('SIGKILL'), 10_000);
await watcher.exited;
clearTimeout(t);
await etcd.destroy();

const stats = (xs: number[]) => ({ first: Math.min(...xs), p50: pct(xs, 50), p99: pct(xs, 99), max: Math.max(...xs) });
const result = {
  benchmark: 'mass-failure',
  machine: m,
  nodes: N,
  ttlS: ttl,
  workers: W,
  clientPer,
  reported: latencies.length,
  partitionSuspected: partition,
  /** Kill → etcd deleted the live key (lease expired and revoked), per node. */
  expiryMs: stats(expiries),
  /** Kill → NodeFailed line, per node; max = when the last one was out. */
  nodeFailedMs: stats(latencies),
  /** NodeFailed after the key's DELETE (the watcher's own share), per node. */
  watcherShareMs: (() => {
    const byNode = new Map(failed.map((l) => [l.node as string, Date.parse(l.time as string)]));
    const d = [...deletedAt].filter(([n]) => byNode.has(n)).map(([n, at]) => byNode.get(n)! - at);
    return { p50: pct(d, 50), max: Math.max(...d) };
  })(),
  targetLastMs: T + 2000,
};
const command = commandLine('mass-failure.js');
if (v.docs) {
  const r = result;
  const table = [
    `| figure (${N.toLocaleString('en-US')} nodes, TTL ${ttl} s, ${W} fleet processes SIGKILLed at once) | first | p50 | p99 | last | target |`,
    '|---|---|---|---|---|---|',
    `| kill → live key deleted by etcd (lease expired and revoked) | ${r.expiryMs.first} ms | ${r.expiryMs.p50} ms | ${r.expiryMs.p99} ms | ${r.expiryMs.max} ms | |`,
    `| **kill → \`NodeFailed\` out** (${r.reported}/${N} reported) | ${r.nodeFailedMs.first} ms | ${r.nodeFailedMs.p50} ms | ${r.nodeFailedMs.p99} ms | **${r.nodeFailedMs.max} ms** | last ≤ ${T + 2000} ms |`,
    `| the watcher's share (DELETE seen → \`NodeFailed\` out) | | ${r.watcherShareMs.p50} ms | | ${r.watcherShareMs.max} ms | |`,
    '',
    `\`PartitionSuspected\` raised: ${partition} time(s) (the mass-failure guard, default settings).`,
  ].join('\n');
  writeSection(v['docs-file'] ?? DEFAULT_DOCS, MASS_FAILURE_HEADING, 'mass-failure', m, command, table, result);
}
console.log(JSON.stringify({ ...result, command }, null, 2));
