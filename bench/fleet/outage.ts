// The fleet's outage scenario: every node registered, etcd stopped for longer than the TTL (every node
// gives its lease up by its own deadline), then started on the same data dir. What recovery asks of
// etcd is what matters: how long until every node is registered again, the peak of proposals per second
// and of the apply backlog (etcd refuses with `too many requests` above 5,000 pending), how many
// requests it refused, how many orphan leases (granted, held by nobody) are left at the end.
import { spawnSync } from 'node:child_process';
import type { EtcdCluster } from '../../test/helpers/etcd.js';
import { requireBinary } from '../../test/helpers/etcd.js';
import type { Counters, ErrorTally } from './protocol.js';

/** What the orchestrator lends the scenario: the fleet's samples and etcd's counters. */
export interface OutageDeps {
  etcd: EtcdCluster;
  nodes: number;
  ttlS: number;
  outageS: number;
  /** Counters, errors and nodes registered now, summed over the workers. */
  sample(): Promise<{ counters: Counters; registeredNow: number; errors: ErrorTally; loopLagMs: number }>;
  /** CPU seconds used so far by etcd (its current process) and by the simulator's workers. */
  cpuSeconds(): { etcd: number; workers: number };
  /** etcd's proposals applied and pending (from /metrics). */
  proposals(): Promise<{ applied: number; pending: number }>;
  progress(line: string): void;
}

/** The figures of one outage. Times from etcd answering again, unless said otherwise. */
export interface OutageResult {
  outageS: number;
  /** etcd stopped → started (the outage as the fleet saw it, s). */
  downS: number;
  /** etcd started → answering a read (ms). */
  answeringAfterStartMs: number;
  /** Nodes that believed themselves registered when etcd was stopped, and at the outage's end (both from the workers). */
  registeredBefore: number;
  registeredWhenBack: number;
  /** etcd answering → every node registered again (ms); null: not within the deadline. */
  allRegisteredMs: number | null;
  /**
   * Every second from etcd answering until all registered (+ a TTL): nodes registered, proposals applied
   * that second, pending; the CPU etcd and the workers used that second (cores); the largest event-loop
   * delay of any worker (ms: a saturated simulator reads answers late, and takes them for missed deadlines).
   */
  series: { t: number; registered: number; proposalsPerSecond: number; pending: number; etcdCpu: number; workersCpu: number; loopLagMs: number }[];
  peakProposalsPerSecond: number;
  /** The largest apply backlog seen (etcd refuses new requests above 5,000). */
  peakPending: number;
  /** Requests etcd refused with `too many requests` from the outage's start to the end. */
  tooManyRequests: number;
  /** Deadlines (client side or etcd's `request timed out`) in the same span. */
  deadlines: number;
  /** Registrations given up (by deadline, or found gone) from the outage's start to the end: at least one per node. */
  lostEvents: number;
  /** Client requests during recovery (from the outage's start to the end). */
  grants: number;
  keepalives: number;
  writeTxns: number;
  reads: number;
  revokes: number;
  /** Leases on etcd one TTL after every node was back (or after the deadline), and those beyond one per node. */
  leasesAtEnd: number;
  orphanLeases: number;
  /** Nodes not registered at the end. */
  lostRegistrations: number;
}

function etcdctl(etcd: EtcdCluster, args: string[], timeoutS = 30): string | undefined {
  const r = spawnSync(requireBinary('etcdctl'), ['--endpoints', etcd.endpoints, `--command-timeout=${timeoutS}s`, ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  });
  return r.status === 0 ? r.stdout : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = (t: ErrorTally, re: RegExp) => Object.entries(t).reduce((a, [k, v]) => a + (re.test(k) ? v : 0), 0);

/** Stop etcd for `outageS`, start it on the same data, and measure the fleet's recovery. */
export async function runOutage(d: OutageDeps): Promise<OutageResult> {
  const member = d.etcd.members[0]!;
  const s0 = await d.sample();
  d.progress(`outage: ${s0.registeredNow}/${d.nodes} registered; stopping etcd for ${d.outageS} s`);
  const stoppedAt = Date.now();
  await member.stop('SIGTERM');
  while (Date.now() - stoppedAt < d.outageS * 1000) {
    await sleep(Math.min(5_000, d.outageS * 1000 - (Date.now() - stoppedAt)));
    const s = await d.sample();
    d.progress(`outage: ${((Date.now() - stoppedAt) / 1000).toFixed(0)} s down, ${s.registeredNow} nodes still believe themselves registered`);
  }
  const startedAt = Date.now();
  await member.start();
  const answeredAt = Date.now();
  const back = await d.sample();
  d.progress(`outage: etcd answering ${answeredAt - startedAt} ms after its start; ${back.registeredNow} registered`);

  // Recovery: sample every second until every node is registered, then one TTL more (late grants,
  // leases expiring), bounded by 2 × TTL + a generous 1 s per 100 nodes.
  const limitMs = (2 * d.ttlS + 30 + d.nodes / 100) * 1000;
  const series: OutageResult['series'] = [];
  let allRegisteredMs: number | null = null;
  let prev = await d.proposals().catch(() => ({ applied: 0, pending: 0 }));
  let prevT = Date.now();
  let prevCpu = d.cpuSeconds();
  let last = back;
  while (true) {
    await sleep(1_000 - ((Date.now() - answeredAt) % 1_000));
    const [s, p] = await Promise.all([d.sample(), d.proposals().catch(() => prev)]);
    const t = Date.now();
    const cpu = d.cpuSeconds();
    const secs = (t - prevT) / 1000;
    last = s;
    series.push({
      t: +((t - answeredAt) / 1000).toFixed(1),
      registered: s.registeredNow,
      proposalsPerSecond: Math.round((p.applied - prev.applied) / secs),
      pending: p.pending,
      etcdCpu: +((cpu.etcd - prevCpu.etcd) / secs).toFixed(2),
      workersCpu: +((cpu.workers - prevCpu.workers) / secs).toFixed(2),
      loopLagMs: s.loopLagMs,
    });
    prev = p;
    prevT = t;
    prevCpu = cpu;
    if (allRegisteredMs === null && s.registeredNow >= d.nodes) {
      allRegisteredMs = t - answeredAt;
      d.progress(`outage: all ${d.nodes} registered again ${allRegisteredMs} ms after etcd answered`);
    }
    const endAt = allRegisteredMs === null ? limitMs : allRegisteredMs + d.ttlS * 1000 + 2_000;
    if (t - answeredAt >= endAt) break;
    if (series.length % 5 === 0) {
      const x = series.at(-1)!;
      d.progress(`outage: ${s.registeredNow}/${d.nodes} registered after ${x.t} s (cpu: etcd ${x.etcdCpu}, workers ${x.workersCpu}; worker loop lag ${x.loopLagMs} ms)`);
    }
  }
  const leasesAtEnd = Number(/found (\d+) leases/.exec(etcdctl(d.etcd, ['lease', 'list']) ?? '')?.[1] ?? -1);
  const diff = (k: keyof Counters) => last.counters[k] - s0.counters[k];
  const errors: ErrorTally = {};
  for (const [k, v] of Object.entries(last.errors)) errors[k] = v - (s0.errors[k] ?? 0);
  return {
    outageS: d.outageS,
    downS: +((startedAt - stoppedAt) / 1000).toFixed(1),
    answeringAfterStartMs: answeredAt - startedAt,
    registeredBefore: s0.registeredNow,
    registeredWhenBack: back.registeredNow,
    allRegisteredMs,
    series,
    peakProposalsPerSecond: Math.max(0, ...series.map((x) => x.proposalsPerSecond)),
    peakPending: Math.max(0, ...series.map((x) => x.pending)),
    tooManyRequests: count(errors, /too many requests/),
    deadlines: count(errors, /DEADLINE_EXCEEDED|deadline exceeded|request timed out/i),
    lostEvents: diff('lost'),
    grants: diff('grants'),
    keepalives: diff('keepalives'),
    writeTxns: diff('writeTxns'),
    reads: diff('reads'),
    revokes: diff('revokes'),
    leasesAtEnd,
    orphanLeases: leasesAtEnd < 0 ? -1 : Math.max(0, leasesAtEnd - last.registeredNow),
    lostRegistrations: d.nodes - last.registeredNow,
  };
}
