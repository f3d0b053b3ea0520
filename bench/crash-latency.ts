// Benchmark: crash → NodeFailed latency, and whether any crash goes unreported. One etcd member, one
// watcher, agents with TTL T (default 3 s) SIGKILLed at a random point of their keepalive cycle;
// latency = the watcher's event time − the kill. The physical bound: etcd expires a lease T after its
// last keepalive (sent every T/3), checked every 500 ms, so crash → delete lies in [2T/3, T] + up to 0.5 s.
//
// Several agents run at once (`--concurrency`, their starts staggered) so that 1,000 kills fit in a
// quarter of an hour. For every kill the dead node's lease is polled with `lease timetolive` every
// 200 ms until it is gone, so that a late or missing report can be put down to its cause: etcd did not
// revoke an expired lease (remaining TTL ≤ 0 while the lease stays), something renewed the lease after
// the kill (remaining TTL went up), or etcd deleted it on time and the watcher did not say so.
//
// Run: npm run bench:crash -- --kills 1000 --concurrency 8
//      (or: npm run build && node dist/bench/crash-latency.js [--kills 30] [--ttl 3] [--concurrency 3]
//       [--no-audit] [--out result.json]; the old positional form `crash-latency.js 30 3 3` still works)
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Store } from '../src/etcd/store.js';
import { EtcdCluster, waitFor } from '../test/helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../test/helpers/process.js';
import { machine } from './fleet/machine.js';
import { pct, sleep } from './report.js';

const { values: v, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    kills: { type: 'string' },
    ttl: { type: 'string' },
    concurrency: { type: 'string' },
    'no-audit': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const kills = Number(v.kills ?? positionals[0] ?? 30);
const ttl = Number(v.ttl ?? positionals[1] ?? 3);
const concurrency = Number(v.concurrency ?? positionals[2] ?? 3);
const T = ttl * 1000;
// A crash not reported within this long is "missed" (the definition: nothing within 8 s at T = 3 s).
const MISS_MS = T + 5_000;
// The promise: every death reported within T + 2 s, whatever etcd does.
const LATE_MS = T + 2_000;
const POLL_MS = 200;

/** One sample of the dead node's lease: ms since the kill, remaining TTL (-1: gone), granted TTL. */
type Sample = [ms: number, ttl: number, granted: number];

/** What became of one kill. */
interface Kill {
  node: string;
  lease: string;
  killedAt: number;
  /** Kill → the watcher's NodeFailed time (undefined: none within MISS_MS). */
  latencyMs?: number;
  reason?: string;
  detectedBy?: string;
  /** Leases the agent registered under before the kill (more than 1: it lost one while alive). */
  registrations: number;
  /** Kill → the first poll that found the lease gone. */
  leaseGoneMs?: number;
  /** The machine's 1-minute load average at the kill. */
  load1: number;
  /** Why a report was late or missing (or `ok`). */
  cause: 'ok' | 'etcd-did-not-revoke' | 'lease-renewed-after-kill' | 'watcher-missed-delete' | 'poll-failed';
  samples: Sample[];
}

const m = machine();
const etcd = await EtcdCluster.start(1);
const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 2_000, dialTimeoutMs: 2_000 });
const prefix = '/bench-crash';
const watcherCfg = writeConfig(
  JSON.stringify({
    etcd: { endpoints: [etcd.endpoints] },
    prefix,
    log: { level: 'info' },
    // No hooks: the figure is detection. The guard stays quiet for one node at a time.
    watcher: { id: 'bench', electionTtl: '3s', massFailure: { minNodes: 1000 }, ...(v['no-audit'] ? { leaseAudit: false } : {}) },
  }),
  'watcher.json',
);
const watcher = new BeaconProcess(['watcher', '--config', watcherCfg]);
await watcher.waitLine((l) => l.msg === 'in sync', 20_000);

// The watcher's node events by type, node and lease (indexed as lines arrive: the log grows to many thousands).
const seen = new Map<string, Record<string, unknown>>();
let scanned = 0;
const nodeEvent = (event: string, node: string, lease = '') => {
  for (; scanned < watcher.lines.length; scanned++) {
    const l = watcher.lines[scanned]!;
    if (l.msg === 'node event') {
      seen.set(`${l.event as string}/${l.node as string}/${l.lease as string}`, l);
      seen.set(`${l.event as string}/${l.node as string}/`, l);
    }
  }
  return seen.get(`${event}/${node}/${lease}`);
};

// Poll the lease every POLL_MS from the kill until it is gone and the watcher reported, or MISS_MS.
async function follow(lease: string, node: string, killedAt: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  let gone = false;
  while (Date.now() - killedAt < MISS_MS && !(gone && nodeEvent('NodeFailed', node, lease))) {
    const at = Date.now();
    if (!gone) {
      try {
        const r = await store.timeToLive(lease);
        samples.push([at - killedAt, r.ttl, r.grantedTtl]);
        gone = r.ttl < 0 && r.grantedTtl === 0;
      } catch {
        samples.push([at - killedAt, NaN, NaN]);
      }
    }
    await sleep(POLL_MS - (Date.now() - at));
  }
  return samples;
}

function causeOf(k: Omit<Kill, 'cause'>): Kill['cause'] {
  const live = k.samples.filter(([, t, g]) => g > 0 && Number.isFinite(t));
  // Remaining TTL went up after the kill: a keepalive landed after the agent died (or someone renewed it).
  const renewed = live.some(([, t], i) => i > 0 && t > live[i - 1]![1]);
  const late = k.latencyMs === undefined || k.latencyMs > LATE_MS;
  if (!late) return 'ok';
  if (renewed) return 'lease-renewed-after-kill';
  if (k.leaseGoneMs === undefined || k.leaseGoneMs > LATE_MS) return live.length > 0 ? 'etcd-did-not-revoke' : 'poll-failed';
  return 'watcher-missed-delete';
}

async function trial(i: number): Promise<Kill> {
  const node = `c${i}`;
  const cfg = writeConfig(`etcd:\n  endpoints: [${etcd.endpoints}]\nprefix: ${prefix}\nnode: { name: ${node}, ttl: ${ttl}s }\n`);
  const agent = new BeaconProcess(['agent', '--config', cfg]);
  try {
    await agent.waitLine((l) => l.msg === 'registered', 30_000);
    await waitFor(() => nodeEvent('NodeJoined', node), { timeoutMs: 15_000, what: `NodeJoined ${node}` });
    // Kill at a random phase of the keepalive cycle (after at least one keepalive).
    await sleep(T * (1 / 3 + Math.random()));
    const killedAt = Date.now();
    await agent.stop('SIGKILL');
    // The registration it held when it died (on a loaded machine an agent can lose a lease while alive
    // and register again: the failure that matters is the last lease's).
    const lease = agent.withMsg('registered').at(-1)!.lease as string;
    const samples = await follow(lease, node, killedAt);
    const ev = nodeEvent('NodeFailed', node, lease);
    const gone = samples.find(([, t, g]) => t < 0 && g === 0);
    const k = {
      node,
      lease,
      registrations: agent.withMsg('registered').length,
      killedAt,
      load1: Math.round(loadavg()[0]! * 10) / 10,
      samples,
      ...(ev ? { latencyMs: Date.parse(ev.time as string) - killedAt, reason: ev.reason as string, detectedBy: ev.detectedBy as string } : {}),
      ...(gone ? { leaseGoneMs: gone[0] } : {}),
    };
    return { ...k, cause: causeOf(k) };
  } finally {
    await agent.stop('SIGKILL');
  }
}

const results: Kill[] = [];
let next = 0;
const started = Date.now();
// Workers start staggered over one kill cycle, so kills spread out instead of coming in waves.
const cycleMs = 2_000 + 2 * T;
await Promise.all(
  Array.from({ length: concurrency }, async (_, w) => {
    await sleep((w * cycleMs) / concurrency);
    while (next < kills) {
      const i = next++;
      try {
        const k = await trial(i);
        results.push(k);
        const tag = k.cause === 'ok' ? '' : ` ${k.cause.toUpperCase()} ${JSON.stringify(k.samples)}`;
        process.stderr.write(`kill ${i}: ${k.latencyMs ?? 'MISSED'} ms ${k.reason ?? ''}/${k.detectedBy ?? ''}${tag}\n`);
      } catch (err) {
        process.stderr.write(`kill ${i}: setup failed: ${(err as Error).message.slice(0, 200)}\n`);
      }
    }
  }),
);
const wallS = Math.round((Date.now() - started) / 1000);
// A kill not reported within MISS_MS may still be reported later: wait a little for those, so the result
// tells "late" from "never", and keep the watcher's lines around each anomaly as its evidence.
const anomalous = () => results.filter((k) => k.cause !== 'ok' || k.reason !== 'LeaseExpired');
await waitFor(() => anomalous().every((k) => k.latencyMs !== undefined || nodeEvent('NodeFailed', k.node, k.lease)), {
  timeoutMs: 30_000,
  what: 'late reports',
}).catch(() => undefined);
const evidence = (k: Kill) => {
  const ev = nodeEvent('NodeFailed', k.node, k.lease);
  const from = k.killedAt - 1_000;
  const to = k.killedAt + MISS_MS + 5_000;
  return {
    eventuallyMs: ev ? Date.parse(ev.time as string) - k.killedAt : null,
    watcherLines: watcher.lines
      .filter((l) => {
        const at = typeof l.time === 'number' ? l.time : Date.parse(String(l.time));
        return at >= from && at <= to && (l.node === k.node || (l.level as number) >= 40 || /sync|list|watch|audit/i.test(String(l.msg)));
      })
      .slice(0, 50),
  };
};
await watcher.stop('SIGTERM');
store.close();
await etcd.destroy();

const lat = results.filter((k) => k.latencyMs !== undefined).map((k) => k.latencyMs!);
const count = (f: (k: Kill) => boolean) => results.filter(f).length;
const result = {
  benchmark: 'crash-latency',
  machine: m,
  ttlS: ttl,
  kills: results.length,
  trials: results.length,
  setupFailures: kills - results.length,
  concurrency,
  parallel: concurrency,
  audit: !v['no-audit'],
  wallS,
  latencyMs: { min: Math.min(...lat), p50: pct(lat, 50), p90: pct(lat, 90), p99: pct(lat, 99), max: Math.max(...lat) },
  missed: count((k) => k.latencyMs === undefined),
  lateOverTPlus2s: count((k) => k.latencyMs !== undefined && k.latencyMs > LATE_MS),
  causes: Object.fromEntries(['etcd-did-not-revoke', 'lease-renewed-after-kill', 'watcher-missed-delete', 'poll-failed'].map((c) => [c, count((k) => k.cause === c)])),
  byReason: Object.fromEntries([...new Set(results.map((k) => `${k.reason ?? 'none'}/${k.detectedBy ?? 'none'}`))].map((r) => [r, count((k) => `${k.reason ?? 'none'}/${k.detectedBy ?? 'none'}` === r)])),
  // Kill → lease gone as polled: etcd's own expiry (or the audit's revocation).
  leaseGoneMs: (() => {
    const g = results.filter((k) => k.leaseGoneMs !== undefined).map((k) => k.leaseGoneMs!);
    return { p50: pct(g, 50), p99: pct(g, 99), max: Math.max(...g) };
  })(),
  boundMs: [Math.round((2 * T) / 3), T + 500],
  targetsMs: { p50: T, p99: T + 600, missed: 0 },
  outsideBound: lat.filter((x) => x < (2 * T) / 3 || x > T + 500).length,
  // Agents that lost a lease while alive, before the kill (load on the machine), and registered again.
  reregisteredBeforeKill: count((k) => k.registrations > 1),
  loadAtKill: { p50: pct(results.map((k) => k.load1), 50), max: Math.max(...results.map((k) => k.load1)) },
  anomalies: anomalous().map((k) => ({ ...k, ...evidence(k), killedAt: new Date(k.killedAt).toISOString() })),
};
if (v.out) writeFileSync(v.out, JSON.stringify(result, null, 2));
console.log(JSON.stringify(result, null, 2));
