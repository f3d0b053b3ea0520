// Benchmark: what the watcher's lease audit (src/watcher/audit.ts) costs etcd. Grants N leases on a real
// single-member etcd and runs the audit over all of them for a window, measuring the `lease timetolive`
// requests per second it sends and etcd's CPU over the window (and over an idle window of the same length
// before, as the baseline). The leases are granted long (an hour) so that nothing expires during the run;
// every reading is passed to the audit as a lease kept alive with TTL T would read (remaining between
// 2T/3 and T, whole seconds), so the audit keeps the schedule it would keep for a live fleet of TTL T,
// while each request is a real one to etcd.
// Run: npm run build && node dist/bench/lease-audit.js [--nodes 10000] [--ttl 3] [--seconds 30] [--max-rate 2000]
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Store } from '../src/etcd/store.js';
import { LeaseAudit } from '../src/watcher/audit.js';
import { EtcdCluster } from '../test/helpers/etcd.js';
import { cpuSeconds, machine } from './fleet/machine.js';
import { round, sleep } from './report.js';

const { values: v } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10000' },
    ttl: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '30' },
    'max-rate': { type: 'string', default: '2000' },
  },
});
const N = Number(v.nodes);
const T = Number(v.ttl);
const W = Number(v.seconds) * 1000;
const maxRate = Number(v['max-rate']);
const m = machine();
const etcd = await EtcdCluster.start(1);
const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 30_000, dialTimeoutMs: 5_000 });
try {
  const leases: string[] = [];
  for (let i = 0; i < N; i += 200) {
    const batch = await Promise.all(Array.from({ length: Math.min(200, N - i) }, () => store.grant(3600)));
    for (const g of batch) leases.push(g.id);
  }
  const pid = etcd.members[0]!.proc!.pid!;
  // Baseline: etcd idle with N leases.
  const b0 = cpuSeconds(pid);
  await sleep(W);
  const idleCpuPct = ((cpuSeconds(pid) - b0) / (W / 1000)) * 100;

  let errors = 0;
  const view = {
    async timeToLive(lease: string) {
      const r = await store.timeToLive(lease).catch((err) => {
        errors++;
        throw err;
      });
      // As a lease kept alive every T/3 would read at a random moment: remaining in (2T/3, T].
      const remaining = Math.floor((2 * T) / 3 + Math.random() * (T / 3));
      return { ttl: r.grantedTtl > 0 ? remaining : r.ttl, grantedTtl: r.grantedTtl };
    },
  };
  const overdue: string[] = [];
  const audit = new LeaseAudit(view, { maxRate }, { overdue: (n) => overdue.push(n), missedDelete: () => undefined }, pino({ level: 'silent' }));
  const stop = new AbortController();
  const run = audit.run(stop.signal);
  // Nodes arrive as a first sync would show them: all at once, first read after one TTL.
  leases.forEach((l, i) => audit.observe(`n${i}`, l, T * 1000));
  // Skip the first reads (all leases due at once), then measure the steady schedule.
  await sleep(2 * (T * 1000 + 1_500));
  const r0 = audit.requests;
  const c0 = cpuSeconds(pid);
  const t0 = Date.now();
  await sleep(W);
  const secs = (Date.now() - t0) / 1000;
  const requestsPerS = (audit.requests - r0) / secs;
  const cpuPct = ((cpuSeconds(pid) - c0) / secs) * 100;
  stop.abort();
  await run;
  const result = {
    benchmark: 'lease-audit',
    machine: m,
    nodes: N,
    ttlS: T,
    maxRate,
    windowS: round(secs),
    requestsPerS: round(requestsPerS),
    // The ideal schedule: each lease read once per (remaining + 1.5 s).
    expectedPerS: round(N / ((2 * T) / 3 + T / 6 - 0.5 + 1.5)),
    etcdCpuPctOfCore: round(cpuPct),
    etcdIdleCpuPctOfCore: round(idleCpuPct),
    etcdCpuMsPerRequest: round(((cpuPct - idleCpuPct) * 10) / requestsPerS, 3),
    falseOverdue: overdue.length,
    errors,
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  store.close();
  await etcd.destroy();
}
