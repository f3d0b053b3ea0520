// A fleet worker process (child_process.fork): runs its share of virtual nodes, beacon's or sidekick's,
// and answers the orchestrator's samples with its counters. Started by bench/fleet/fleet.ts.
import { setMaxListeners } from 'node:events';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { gatherFacts } from '../../src/facts/host.js';
import { Keys } from '../../src/etcd/keys.js';
import { Store } from '../../src/etcd/store.js';
import type { EtcdConfig } from '../../src/etcd/options.js';
import { createLogger } from '../../src/log.js';
import { zeroCounters, type ErrorTally, type FromWorker, type ToWorker, type WorkerSpec } from './protocol.js';
import { KeepAliveStreams, kaStats } from './keepalive-streams.js';
import { SidekickNode } from './sidekick.js';
import { BeaconNode, agentRenderer, countCalls, type FleetBase } from './virtual-node.js';

interface Running {
  start(signal: AbortSignal): Promise<void>;
  isRegistered(): boolean;
  stopped(): Promise<void>;
}

/** A started node and its own stop switch: the fleet stops with bounded concurrency, as it ramped. */
interface Started {
  node: Running;
  stop: AbortController;
}

const counters = zeroCounters();
const errors: ErrorTally = {};
// Stops the ramp; each node has its own signal (see Started).
const stop = new AbortController();
const nodes: Started[] = [];
let concurrency = 1;
const stores: Store[] = [];
const keepalives: KeepAliveStreams[] = [];
let registered = 0;
let startedAt = 0;

function send(msg: FromWorker): void {
  process.send?.(msg);
}

// One etcd3 client (a connection of its own, one watch stream) per `perClient` nodes: 1 is an agent's,
// Infinity the worker's.
function makeStore(cfg: EtcdConfig, keepaliveStream: WorkerSpec['keepaliveStream']): Store {
  const raw = Store.connect(cfg, { ownConnection: true });
  if (keepaliveStream === 'lease') {
    const streams = new KeepAliveStreams(cfg);
    keepalives.push(streams);
    raw.keepAliveOnce = (lease, timeoutMs) => streams.keepAliveOnce(lease, timeoutMs);
  }
  const s = countCalls(raw, counters, errors);
  stores.push(s);
  return s;
}

async function start(spec: WorkerSpec): Promise<void> {
  startedAt = Date.now();
  concurrency = Math.max(1, spec.concurrency);
  // Warnings only: a healthy fleet logs nothing; trouble shows on the benchmark's stderr.
  const log = createLogger('warn', process.stderr);
  const base: FleetBase = {
    endpoints: spec.endpoints,
    prefix: spec.prefix,
    ttl: spec.ttl,
    keepaliveIntervalMs: spec.intervalMs,
    facts: await gatherFacts({ log }),
    log,
  };
  const etcd: EtcdConfig = { endpoints: spec.endpoints, requestTimeoutMs: 2_000, dialTimeoutMs: 2_000 };
  const perClient = spec.clientPer === 'node' ? 1 : spec.clientPer === 'worker' ? Infinity : spec.clientPer;
  let current: Store | undefined;
  let onCurrent = 0;
  const storeFor = (): Store => {
    if (!current || onCurrent >= perClient) {
      current = makeStore(etcd, spec.keepaliveStream);
      onCurrent = 0;
    }
    onCurrent++;
    return current;
  };
  const keys = new Keys(spec.prefix);
  const progress = setInterval(() => send({ type: 'progress', registered }), 250);
  let next = 0;
  // Bounded ramp: at most `concurrency` nodes of this worker registering at once.
  await Promise.all(
    Array.from({ length: Math.max(1, spec.concurrency) }, async () => {
      while (next < spec.nodes.length && !stop.signal.aborted) {
        const i = spec.nodes[next++]!;
        const store = storeFor();
        let node: Running;
        if (spec.side === 'beacon') {
          node = new BeaconNode(i, base, store, counters);
        } else {
          // The sidekick announces the same endpoint records (same keys, same bytes) as the agent.
          const { render } = agentRenderer(i, base);
          const all = render({ id: '', ttl: spec.ttl }, 'up').leased;
          const endpoints = new Map([...all].filter(([k]) => k.startsWith(keys.services)));
          node = new SidekickNode(store, endpoints, spec.ttl, spec.intervalMs, counters);
        }
        const own = new AbortController();
        setMaxListeners(0, own.signal); // five sidekick loops, or a registration's waits, share it
        nodes.push({ node, stop: own });
        await node.start(own.signal);
        if (!own.signal.aborted) registered++;
      }
    }),
  );
  clearInterval(progress);
  send({ type: 'ramped', registered, ms: Date.now() - startedAt });
}

// Stop every node (beacon: graceful leave, a transaction and a revoke), `concurrency` at a time:
// ten thousand leaves at the same instant measure a burst no fleet produces, not the leave.
async function shutdown(): Promise<void> {
  const t0 = Date.now();
  const before = { ...errors };
  stop.abort();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < nodes.length) {
        const n = nodes[next++]!;
        n.stop.abort();
        await n.node.stopped().catch(() => undefined);
      }
    }),
  );
  for (const s of stores) s.close();
  for (const k of keepalives) k.close();
  const stopErrors = Object.fromEntries(
    Object.entries(errors).map(([k, v]) => [k, v - (before[k] ?? 0)] as const).filter(([, v]) => v > 0),
  );
  process.send?.({ type: 'stopped', ms: Date.now() - t0, errors: stopErrors } satisfies FromWorker, () => process.exit(0));
}

// No stack traces in the simulator: grpc-js captures the caller's stack on every call and each failed call
// builds and formats several errors (gRPC's, etcd3's, beacon's with its cause), a quarter of the workers'
// CPU when thousands of simulated agents fail at once after an outage (a CPU profile of the 10,000-node
// run), which then made the simulator, not etcd, miss every deadline. An agent pays this on a CPU of its own.
Error.stackTraceLimit = 0;

// A keepalive answered in time but read late (the worker's CPU saturated) misses its deadline just the
// same: the outage series records this delay so a saturated simulator is not taken for a slow etcd.
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();

if (process.env.BENCH_KA_DEBUG) {
  setInterval(() => {
    process.stderr.write(`[ka ${process.pid}] ${new Date().toISOString().slice(11, 19)} ${JSON.stringify(kaStats)}\n`);
    kaStats.openMsMax = 0;
    kaStats.answerMsMax = 0;
  }, 5_000).unref();
}

// BENCH_FLEET_CPU_PROFILE=DIR: profile this worker from its start until it is told to stop, written as
// DIR/worker-<pid>-from-<epoch ms>.cpuprofile before the (possibly long, possibly killed) graceful leave, unlike
// --cpu-prof, which writes only at a clean exit.
const profileDir = process.env.BENCH_FLEET_CPU_PROFILE;
const profiler = profileDir ? new Session() : undefined;
const profiledFrom = Date.now();
if (profiler) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.start');
}
async function writeProfile(): Promise<void> {
  if (!profiler || !profileDir) return;
  const { profile } = await profiler.post('Profiler.stop');
  writeFileSync(join(profileDir, `worker-${process.pid}-from-${profiledFrom}.cpuprofile`), JSON.stringify(profile));
}

process.on('message', (m: ToWorker) => {
  if (m.type === 'start') {
    start(m.spec).catch((err: unknown) => send({ type: 'failed', error: String((err as Error)?.stack ?? err) }));
  } else if (m.type === 'sample') {
    let registeredNow = 0;
    for (const n of nodes) if (n.node.isRegistered()) registeredNow++;
    const loopLagMs = Math.round(loopDelay.max / 1e6);
    loopDelay.reset();
    send({ type: 'sample', counters: { ...counters }, registeredNow, errors: { ...errors }, loopLagMs });
  } else if (m.type === 'stop') {
    void writeProfile().finally(() => shutdown());
  }
});
// Orphaned (the orchestrator died): leave as if stopped.
process.on('disconnect', () => {
  if (!stop.signal.aborted) void shutdown().finally(() => process.exit(0));
});
send({ type: 'ready' });
