// The fleet benchmark: N virtual nodes spread over a few worker processes against a real
// single-member etcd on loopback, once announced by beacon (one lease per node, keepalives only at
// steady state) and once the sidekick way (every endpoint key rewritten under a new lease on a timer).
// Each side gets a fresh etcd, so the etcd-side figures of one cannot leak into the other's.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { EtcdCluster, requireBinary } from '../../test/helpers/etcd.js';
import { cpuSeconds, machine, rssMiB, type Machine } from './machine.js';
import { runOutage, type OutageResult } from './outage.js';
import { zeroCounters, type Counters, type ErrorTally, type FromWorker, type Side, type ToWorker, type WorkerSpec } from './protocol.js';

/** How to run the fleet. */
export interface FleetOptions {
  nodes: number;
  workers: number;
  /** Lease TTL of both sides, seconds. */
  ttl: number;
  /** Beacon keepalive interval, ms (default ttl/3, as the agent). */
  keepaliveIntervalMs: number;
  /** Sidekick rewrite interval of each key, ms (default ttl/3: the same tolerance of two missed refreshes). */
  sidekickIntervalMs: number;
  /** Steady-state measurement window, seconds. */
  windowS: number;
  /** Wait after the ramp before measuring, seconds (sidekick: its first leases must have expired). */
  settleS: number;
  /** Give up waiting for the ramp after this long (seconds) and measure anyway. */
  rampTimeoutS: number;
  /**
   * Outage scenario (seconds, 0: none): after the settling pause, etcd is stopped this long (more than
   * the TTL), then started on the same data dir; the recovery is measured (bench/fleet/outage.ts).
   */
  outageS: number;
  /** Nodes registering at once, over all workers. */
  concurrency: number;
  clientPer: 'node' | 'worker' | number;
  /** Keepalives on a short stream per call, as agents send them, or on a long-lived stream per lease (keepalive-streams.ts). */
  keepaliveStream: 'call' | 'lease';
  sides: Side[];
  /** Progress lines (stderr in the CLI). */
  progress: (line: string) => void;
}

/** Defaults for a fleet of `nodes` (TTL 10 s as the agent's default). */
export function defaultOptions(partial: Partial<FleetOptions> = {}): FleetOptions {
  const ttl = partial.ttl ?? 10;
  return {
    nodes: 1_000,
    workers: 4,
    ttl,
    keepaliveIntervalMs: Math.floor((ttl * 1000) / 3),
    sidekickIntervalMs: Math.floor((ttl * 1000) / 3),
    windowS: 60,
    settleS: ttl + 5,
    outageS: 0,
    concurrency: 64,
    rampTimeoutS: Math.max(120, (partial.nodes ?? 1_000) / 20),
    clientPer: 'node',
    keepaliveStream: 'call',
    sides: ['beacon', 'sidekick'],
    progress: () => undefined,
    ...partial,
  };
}

/** The figures of one side. Rates are over the steady-state window. */
export interface SideResult {
  side: Side;
  nodes: number;
  ttlS: number;
  intervalMs: number;
  /** Start of the ramp until every node registered (beacon) / announced every key once (sidekick); null: ramp timed out. */
  registerAllMs: number | null;
  /** Nodes registered when the ramp ended (or timed out). */
  registered: number;
  windowS: number;
  etcd: {
    /** Revisions the store moved during the window: every write is one. */
    revisions: number;
    revisionsPerNodeHour: number;
    /** Raft log entries during the window: writes plus lease grants and revokes. */
    raftEntries: number;
    raftEntriesPerNodeHour: number;
    cpuPctOfOneCore: number;
    cpuPctPer1000Nodes: number;
    rssMiB: number;
    dbSizeMiB: number;
    /** Leases etcd holds at the end of the window (beacon: one per node). */
    leases: number;
    /**
     * How fast the lease count grew over the window: above 0 at steady state, leases expire faster than
     * etcd revokes them (its leader revokes at most 1,000 expired leases per second).
     */
    leasesGrowthPerSecond: number;
    inside: EtcdInside;
  };
  client: {
    keepalivesPerNodeSecond: number;
    grantsPerNodeSecond: number;
    putsPerNodeSecond: number;
    writeTxnsPerNodeSecond: number;
    readsPerNodeSecond: number;
    keepaliveErrors: number;
    /** Beacon: registrations lost during the window. */
    lost: number;
    /** Sidekick: refreshes that failed / started over 1 s late / landed after the previous lease's TTL. */
    refreshErrors: number;
    lateRefreshes: number;
    gaps: number;
    maxLatenessMs: number;
    /** Nodes that believed themselves registered at the end of the window. */
    registeredAtEnd: number;
    /** Errors during the window, by message. */
    errors: ErrorTally;
  };
  workers: {
    count: number;
    /** RSS of all workers before any node started (Node + etcd3 loaded). */
    idleRssMiB: number;
    rssMiB: number;
    rssMiBPer1000Nodes: number;
    /** RSS above the idle workers', per 1,000 nodes: what a virtual node costs the simulator. */
    addedRssMiBPer1000Nodes: number;
    cpuPctOfOneCore: number;
  };
  /** 1-minute load average at the start and end of the window. */
  load: [number, number];
  /** Time to stop every node (beacon: graceful leave, a transaction and a revoke each). */
  stopMs: number;
  /** Errors while stopping (beacon: leaves not recorded, their keys then expire with the lease). */
  stopErrors: ErrorTally;
  /** The outage scenario's figures (with --outage). */
  outage?: OutageResult;
}

/** Both sides of one run, with the machine and the ratios. */
export interface FleetResult {
  benchmark: 'fleet';
  machine: Machine;
  options: Omit<FleetOptions, 'progress'>;
  measuredAt: string;
  beacon?: SideResult;
  sidekick?: SideResult;
  /** sidekick ÷ beacon, where both ran (Infinity shows as null in JSON: beacon's figure is 0). */
  ratios?: {
    revisionsPerNodeHour: number | null;
    raftEntriesPerNodeHour: number | null;
    etcdCpu: number | null;
    workerRss: number | null;
  };
}

// One worker process and its IPC messages.
class Worker {
  private readonly proc: ChildProcess;
  private readonly waiting: { type: FromWorker['type']; resolve: (m: FromWorker) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  registered = 0;
  private readonly exited: Promise<void>;

  constructor() {
    this.proc = fork(new URL('./worker.js', import.meta.url), [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      // e.g. BENCH_FLEET_WORKER_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the workers (written
      // only if they exit cleanly; BENCH_FLEET_CPU_PROFILE=DIR, worker.ts, writes before they stop).
      execArgv: (process.env.BENCH_FLEET_WORKER_ARGS ?? '').split(' ').filter(Boolean),
    });
    this.exited = new Promise((r) => this.proc.once('exit', () => r()));
    this.proc.on('message', (m: FromWorker) => {
      if (m.type === 'progress') this.registered = m.registered;
      if (m.type === 'ramped') this.registered = m.registered;
      if (m.type === 'failed') return this.fail(new Error(`fleet worker failed: ${m.error}`));
      const i = this.waiting.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(m);
    });
    this.proc.once('exit', (code, sig) => this.fail(new Error(`fleet worker exited (code ${code}, signal ${sig})`)));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.splice(0)) w.reject(err);
  }

  /** Wait for the next message of a type (register the wait before sending its request). */
  next<T extends FromWorker['type']>(type: T): Promise<Extract<FromWorker, { type: T }>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ type, resolve: resolve as (m: FromWorker) => void, reject });
    });
  }

  send(m: ToWorker): void {
    if (this.proc.connected) this.proc.send(m);
  }

  async sample(): Promise<{ counters: Counters; registeredNow: number; errors: ErrorTally; loopLagMs: number }> {
    const p = this.next('sample');
    this.send({ type: 'sample' });
    return p;
  }

  /** Stop gracefully within `ms`, else kill; resolves the errors seen while stopping. */
  async stop(ms: number): Promise<ErrorTally> {
    const stopped = this.next('stopped').catch(() => undefined);
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), ms);
    const m = await Promise.race([stopped, this.exited]);
    await this.exited;
    clearTimeout(timer);
    return m ? m.errors : { 'worker killed before it stopped': 1 };
  }

  kill(): void {
    this.proc.kill('SIGKILL');
  }
}

// etcd's own view: revision, raft index, db size (`etcdctl endpoint status`), and the lease count.
function etcdctl(etcd: EtcdCluster, args: string[]): string {
  const r = spawnSync(requireBinary('etcdctl'), ['--endpoints', etcd.endpoints, '--command-timeout=30s', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`etcdctl ${args.join(' ')} failed: ${r.stderr || r.error}`);
  return r.stdout;
}

interface EtcdStatus {
  revision: number;
  raftIndex: number;
  dbSize: number;
}

function etcdStatus(etcd: EtcdCluster): EtcdStatus {
  const [s] = JSON.parse(etcdctl(etcd, ['endpoint', 'status', '-w', 'json'])) as {
    Status: { header: { revision: number }; raftIndex: number; dbSize: number };
  }[];
  return { revision: Number(s!.Status.header.revision), raftIndex: Number(s!.Status.raftIndex), dbSize: Number(s!.Status.dbSize) };
}

function leaseCount(etcd: EtcdCluster): number {
  return Number(/found (\d+) leases/.exec(etcdctl(etcd, ['lease', 'list']))?.[1] ?? -1);
}

// etcd's own counters (Prometheus text on the client URL): where its time goes, seen from inside.
const METRICS = [
  'etcd_disk_wal_fsync_duration_seconds_sum',
  'etcd_disk_wal_fsync_duration_seconds_count',
  'etcd_disk_backend_commit_duration_seconds_sum',
  'etcd_disk_backend_commit_duration_seconds_count',
  'etcd_server_proposals_applied_total',
  'etcd_server_proposals_failed_total',
  'etcd_server_proposals_pending',
  'etcd_server_slow_apply_total',
  'etcd_debugging_lease_granted_total',
  'etcd_debugging_lease_renewed_total',
  'etcd_debugging_lease_revoked_total',
  'etcd_debugging_server_lease_expired_total',
] as const;
type Metrics = Record<(typeof METRICS)[number], number>;

async function scrape(endpoint: string): Promise<Metrics> {
  const text = await (await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const m = {} as Metrics;
  for (const name of METRICS) m[name] = Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return m;
}

/** etcd's view of the window, from its metrics. */
export interface EtcdInside {
  walFsyncsPerSecond: number;
  walFsyncMeanMs: number;
  backendCommitMeanMs: number;
  proposalsAppliedPerSecond: number;
  proposalsFailed: number;
  slowApplies: number;
  leaseGrantsPerSecond: number;
  /** Keepalives as etcd counted them (a cross-check of the workers' count). */
  leaseRenewalsPerSecond: number;
  leaseRevocationsPerSecond: number;
  leaseExpiriesPerSecond: number;
  /** Every 5 s of the window: live leases (granted − revoked), proposals pending, proposals applied per second. */
  series: { t: number; leases: number; pending: number; appliedPerSecond: number }[];
}

function inside(a: Metrics, b: Metrics, seconds: number, series: EtcdInside['series']): EtcdInside {
  const d = (k: keyof Metrics) => b[k] - a[k];
  const rate = (k: keyof Metrics) => round(d(k) / seconds, 1);
  const mean = (sum: keyof Metrics, count: keyof Metrics) => (d(count) > 0 ? round((d(sum) / d(count)) * 1000, 2) : 0);
  return {
    walFsyncsPerSecond: rate('etcd_disk_wal_fsync_duration_seconds_count'),
    walFsyncMeanMs: mean('etcd_disk_wal_fsync_duration_seconds_sum', 'etcd_disk_wal_fsync_duration_seconds_count'),
    backendCommitMeanMs: mean('etcd_disk_backend_commit_duration_seconds_sum', 'etcd_disk_backend_commit_duration_seconds_count'),
    proposalsAppliedPerSecond: rate('etcd_server_proposals_applied_total'),
    proposalsFailed: d('etcd_server_proposals_failed_total'),
    slowApplies: d('etcd_server_slow_apply_total'),
    leaseGrantsPerSecond: rate('etcd_debugging_lease_granted_total'),
    leaseRenewalsPerSecond: rate('etcd_debugging_lease_renewed_total'),
    leaseRevocationsPerSecond: rate('etcd_debugging_lease_revoked_total'),
    leaseExpiriesPerSecond: rate('etcd_debugging_server_lease_expired_total'),
    series,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, digits = 3) => +x.toFixed(digits);

function sumErrors(ts: ErrorTally[]): ErrorTally {
  const t: ErrorTally = {};
  for (const x of ts) for (const [k, v] of Object.entries(x)) t[k] = (t[k] ?? 0) + v;
  return t;
}

function sum(cs: Counters[]): Counters {
  const t = zeroCounters();
  for (const c of cs) {
    for (const k of Object.keys(t) as (keyof Counters)[]) {
      t[k] = k === 'maxLatenessMs' ? Math.max(t[k], c[k]) : t[k] + c[k];
    }
  }
  return t;
}

/** Run one side of the fleet on a fresh etcd and measure it. */
export async function runSide(side: Side, o: FleetOptions): Promise<SideResult> {
  const etcd = await EtcdCluster.start(1);
  let etcdPid = etcd.members[0]!.proc!.pid!;
  const workers: Worker[] = [];
  try {
    const n = Math.max(1, Math.min(o.workers, o.nodes));
    for (let w = 0; w < n; w++) workers.push(new Worker());
    await Promise.all(workers.map((w) => w.next('ready')));
    await sleep(500); // let the workers' start-up settle before taking their idle RSS
    const idleRss = workers.reduce((a, w) => a + rssMiB(w.pid), 0);

    // Ramp: every worker registers its share with its share of the concurrency.
    const intervalMs = side === 'beacon' ? o.keepaliveIntervalMs : o.sidekickIntervalMs;
    const t0 = Date.now();
    const ramped = workers.map((w) => w.next('ramped'));
    workers.forEach((w, k) => {
      const spec: WorkerSpec = {
        side,
        endpoints: etcd.endpoints.split(','),
        prefix: '/bench-fleet',
        ttl: o.ttl,
        intervalMs,
        concurrency: Math.max(1, Math.round(o.concurrency / n)),
        clientPer: o.clientPer,
        keepaliveStream: o.keepaliveStream,
        nodes: Array.from({ length: o.nodes }, (_, i) => i).filter((i) => i % n === k),
      };
      w.send({ type: 'start', spec });
    });
    const ticker = setInterval(() => {
      const done = workers.reduce((a, w) => a + w.registered, 0);
      o.progress(`${side}: ${done}/${o.nodes} registered after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }, 2_000);
    let registerAllMs: number | null = null;
    let registered: number;
    let timer: NodeJS.Timeout | undefined;
    try {
      // An overloaded machine may never finish the ramp: measure what there is after the timeout.
      const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), o.rampTimeoutS * 1000)));
      const r = await Promise.race([Promise.all(ramped), timedOut]);
      if (r === 'timeout') {
        registered = workers.reduce((a, w) => a + w.registered, 0);
        o.progress(`${side}: ramp timed out after ${o.rampTimeoutS} s with ${registered}/${o.nodes} registered; measuring anyway`);
      } else {
        registerAllMs = Date.now() - t0;
        registered = r.reduce((a, m) => a + m.registered, 0);
        o.progress(`${side}: all ${registered} registered in ${registerAllMs} ms`);
      }
    } finally {
      clearInterval(ticker);
      clearTimeout(timer);
    }
    o.progress(`${side}: settling ${o.settleS} s`);
    await sleep(o.settleS * 1000);

    let outage: OutageResult | undefined;
    if (o.outageS > 0) {
      const sampleAll = async () => {
        const ss = await Promise.all(workers.map((w) => w.sample()));
        return {
          counters: sum(ss.map((x) => x.counters)),
          registeredNow: ss.reduce((a, x) => a + x.registeredNow, 0),
          errors: sumErrors(ss.map((x) => x.errors)),
          loopLagMs: Math.max(0, ...ss.map((x) => x.loopLagMs)),
        };
      };
      outage = await runOutage({
        etcd,
        nodes: o.nodes,
        ttlS: o.ttl,
        outageS: o.outageS,
        sample: sampleAll,
        cpuSeconds: () => ({
          etcd: etcd.members[0]!.proc?.pid ? cpuSeconds(etcd.members[0]!.proc.pid) : 0,
          workers: workers.reduce((a, w) => a + cpuSeconds(w.pid), 0),
        }),
        proposals: async () => {
          const m = await scrape(etcd.members[0]!.endpoint);
          return { applied: m.etcd_server_proposals_applied_total, pending: m.etcd_server_proposals_pending };
        },
        progress: (line) => o.progress(`${side}: ${line}`),
      });
      etcdPid = etcd.members[0]!.proc!.pid!;
    }

    // Steady-state window.
    o.progress(`${side}: measuring for ${o.windowS} s`);
    const load0 = loadavg()[0]!;
    const leases0 = leaseCount(etcd);
    const s0 = etcdStatus(etcd);
    const cpu0 = cpuSeconds(etcdPid);
    const wcpu0 = workers.reduce((a, w) => a + cpuSeconds(w.pid), 0);
    const first = await Promise.all(workers.map((w) => w.sample()));
    const c0 = sum(first.map((s) => s.counters));
    const e0 = sumErrors(first.map((s) => s.errors));
    const m0 = await scrape(etcd.members[0]!.endpoint);
    const w0 = Date.now();
    let maxWorkerRss = 0;
    const series: EtcdInside['series'] = [];
    let prev = { m: m0, t: w0 };
    while (Date.now() - w0 < o.windowS * 1000) {
      await sleep(Math.min(5_000, o.windowS * 1000 - (Date.now() - w0)));
      maxWorkerRss = Math.max(maxWorkerRss, workers.reduce((a, w) => a + rssMiB(w.pid), 0));
      const m = await scrape(etcd.members[0]!.endpoint);
      const t = Date.now();
      series.push({
        t: round((t - w0) / 1000, 1),
        leases: m.etcd_debugging_lease_granted_total - m.etcd_debugging_lease_revoked_total,
        pending: m.etcd_server_proposals_pending,
        appliedPerSecond: round(
          (m.etcd_server_proposals_applied_total - prev.m.etcd_server_proposals_applied_total) / ((t - prev.t) / 1000),
          0,
        ),
      });
      prev = { m, t };
    }
    const m1 = prev.m;
    const samples = await Promise.all(workers.map((w) => w.sample()));
    const s1 = etcdStatus(etcd);
    const cpu1 = cpuSeconds(etcdPid);
    const wcpu1 = workers.reduce((a, w) => a + cpuSeconds(w.pid), 0);
    const windowS = (Date.now() - w0) / 1000;
    const load1 = loadavg()[0]!;
    const c1 = sum(samples.map((s) => s.counters));
    const e1 = sumErrors(samples.map((s) => s.errors));
    const windowErrors = Object.fromEntries(
      Object.entries(e1).map(([k, v]) => [k, v - (e0[k] ?? 0)] as const).filter(([, v]) => v > 0),
    );
    const workerRss = workers.reduce((a, w) => a + rssMiB(w.pid), 0);
    const leases = leaseCount(etcd);
    const etcdRss = rssMiB(etcdPid);

    const perNodeHour = (x: number) => round(x / o.nodes / (windowS / 3600), 1);
    const perNodeSecond = (x: number) => round(x / o.nodes / windowS, 4);
    const d = (k: keyof Counters) => c1[k] - c0[k];
    const etcdCpuPct = ((cpu1 - cpu0) / windowS) * 100;

    o.progress(`${side}: stopping`);
    const st = Date.now();
    const stopErrors = sumErrors(await Promise.all(workers.map((w) => w.stop(30_000 + o.nodes * 5))));
    const stopMs = Date.now() - st;
    return {
      side,
      nodes: o.nodes,
      ttlS: o.ttl,
      intervalMs,
      registerAllMs,
      registered,
      windowS: round(windowS, 1),
      etcd: {
        revisions: s1.revision - s0.revision,
        revisionsPerNodeHour: perNodeHour(s1.revision - s0.revision),
        raftEntries: s1.raftIndex - s0.raftIndex,
        raftEntriesPerNodeHour: perNodeHour(s1.raftIndex - s0.raftIndex),
        cpuPctOfOneCore: round(etcdCpuPct, 2),
        cpuPctPer1000Nodes: round((etcdCpuPct * 1000) / o.nodes, 2),
        rssMiB: round(etcdRss, 1),
        dbSizeMiB: round(s1.dbSize / 2 ** 20, 1),
        leases,
        leasesGrowthPerSecond: round((leases - leases0) / windowS, 1),
        inside: inside(m0, m1, (prev.t - w0) / 1000, series),
      },
      client: {
        keepalivesPerNodeSecond: perNodeSecond(d('keepalives')),
        grantsPerNodeSecond: perNodeSecond(d('grants')),
        putsPerNodeSecond: perNodeSecond(d('puts')),
        writeTxnsPerNodeSecond: perNodeSecond(d('writeTxns')),
        readsPerNodeSecond: perNodeSecond(d('reads')),
        keepaliveErrors: d('keepaliveErrors'),
        lost: d('lost'),
        refreshErrors: d('refreshErrors'),
        lateRefreshes: d('lateRefreshes'),
        gaps: d('gaps'),
        maxLatenessMs: c1.maxLatenessMs,
        registeredAtEnd: samples.reduce((a, s) => a + s.registeredNow, 0),
        errors: windowErrors,
      },
      workers: {
        count: n,
        idleRssMiB: round(idleRss, 1),
        rssMiB: round(Math.max(maxWorkerRss, workerRss), 1),
        rssMiBPer1000Nodes: round((Math.max(maxWorkerRss, workerRss) * 1000) / o.nodes, 1),
        addedRssMiBPer1000Nodes: round(((Math.max(maxWorkerRss, workerRss) - idleRss) * 1000) / o.nodes, 1),
        cpuPctOfOneCore: round(((wcpu1 - wcpu0) / windowS) * 100, 1),
      },
      load: [round(load0, 2), round(load1, 2)],
      stopMs,
      stopErrors,
      ...(outage ? { outage } : {}),
    };
  } finally {
    for (const w of workers) w.kill();
    await etcd.destroy();
  }
}

const ratio = (a: number, b: number): number | null => (b === 0 ? null : round(a / b, 2));

/** Run every requested side, one after the other, and put them side by side. */
export async function runFleet(o: FleetOptions): Promise<FleetResult> {
  const { progress: _progress, ...options } = o;
  const result: FleetResult = { benchmark: 'fleet', machine: machine(), options, measuredAt: new Date().toISOString() };
  for (const side of o.sides) result[side] = await runSide(side, o);
  const b = result.beacon;
  const s = result.sidekick;
  if (b && s) {
    result.ratios = {
      revisionsPerNodeHour: ratio(s.etcd.revisionsPerNodeHour, b.etcd.revisionsPerNodeHour),
      raftEntriesPerNodeHour: ratio(s.etcd.raftEntriesPerNodeHour, b.etcd.raftEntriesPerNodeHour),
      etcdCpu: ratio(s.etcd.cpuPctOfOneCore, b.etcd.cpuPctOfOneCore),
      workerRss: ratio(s.workers.rssMiB, b.workers.rssMiB),
    };
  }
  return result;
}
