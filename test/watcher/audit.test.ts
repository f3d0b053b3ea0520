// The lease audit's judgement of one `lease timetolive` reading (pure), and the audit against a real etcd:
// a lease kept alive is read about once per TTL; an expired lease etcd still holds is reported once.
import test from 'ava';
import pino from 'pino';
import { Store } from '../../src/etcd/store.js';
import { LeaseAudit, judge, type AuditEntry } from '../../src/watcher/audit.js';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';

const t0 = 1_000_000;
const entry = (extra: Partial<AuditEntry> = {}): AuditEntry => ({ lease: 'a1', dueAt: t0, ...extra });

test('a lease with time left is read again once it could have expired and etcd had its loop', (t) => {
  t.deepEqual(judge(entry(), { ttl: 2, grantedTtl: 3 }, t0), { kind: 'alive', dueAt: t0 + 2_000 + 1_000 + 500 });
});

test('remaining ≤ -1 s with etcd still holding the lease: overdue once a second reading agrees', (t) => {
  t.deepEqual(judge(entry(), { ttl: -1, grantedTtl: 3 }, t0), { kind: 'confirm', dueAt: t0 + 600, overdueSince: t0 });
  t.deepEqual(judge(entry({ overdueSince: t0 }), { ttl: -2, grantedTtl: 3 }, t0 + 600), { kind: 'overdue', ttl: -2 });
  // A resumed stale etcd leader answers from its frozen view; the real leader then says the lease lives.
  t.is(judge(entry({ overdueSince: t0 }), { ttl: 2, grantedTtl: 3 }, t0 + 600).kind, 'alive');
});

test('a 0 reading (remaining in (-1, 1) s) is overdue only if still ≤ 0 two seconds later', (t) => {
  const first = judge(entry(), { ttl: 0, grantedTtl: 3 }, t0);
  t.deepEqual(first, { kind: 'alive', dueAt: t0 + 2_000, zeroSince: t0 });
  t.is(judge(entry({ zeroSince: t0 }), { ttl: 0, grantedTtl: 3 }, t0 + 1_999).kind, 'alive');
  t.is(judge(entry({ zeroSince: t0 }), { ttl: 0, grantedTtl: 3 }, t0 + 2_000).kind, 'confirm');
  t.deepEqual(judge(entry({ zeroSince: t0, overdueSince: t0 + 2_000 }), { ttl: -1, grantedTtl: 3 }, t0 + 2_600), { kind: 'overdue', ttl: -1 });
  // Renewed in between: a fresh TTL, the 0 is forgotten by the caller.
  t.is(judge(entry({ zeroSince: t0 }), { ttl: 2, grantedTtl: 3 }, t0 + 2_000).kind, 'alive');
});

test('a lease etcd no longer has while the key is still seen: looked at again, then a missed delete', (t) => {
  t.deepEqual(judge(entry(), { ttl: -1, grantedTtl: 0 }, t0), { kind: 'gone', dueAt: t0 + 1_000, goneSince: t0 });
  t.is(judge(entry({ goneSince: t0 }), { ttl: -1, grantedTtl: 0 }, t0 + 500).kind, 'gone');
  t.deepEqual(judge(entry({ goneSince: t0 }), { ttl: -1, grantedTtl: 0 }, t0 + 1_000), { kind: 'missed-delete' });
});

test('against etcd: a kept-alive lease is read about once per TTL; an overdue one is reported once', async (t) => {
  const etcd = await EtcdCluster.start(1);
  t.teardown(() => etcd.destroy());
  const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 2_000, dialTimeoutMs: 2_000 });
  t.teardown(() => store.close());
  const kept = await store.grant(3);
  const dead = await store.grant(3);
  // etcd revoked `dead` on time; the audit is shown it as etcd would show a lease it failed to revoke:
  // the only thing that cannot be made to happen on demand is etcd's failure itself.
  const reads = new Map<string, number>();
  const view = {
    async timeToLive(lease: string) {
      reads.set(lease, (reads.get(lease) ?? 0) + 1);
      if (lease === dead.id) return { ttl: -4, grantedTtl: 3 };
      return store.timeToLive(lease);
    },
  };
  const overdue: string[] = [];
  const missed: string[] = [];
  const audit = new LeaseAudit(view, { maxRate: 100 }, { overdue: (n) => overdue.push(n), missedDelete: (n) => missed.push(n) }, pino({ level: 'silent' }));
  const stop = new AbortController();
  const run = audit.run(stop.signal);
  const keeper = setInterval(() => void store.keepAliveOnce(kept.id, 500).catch(() => undefined), 1_000);
  t.teardown(() => clearInterval(keeper));
  const started = Date.now();
  audit.observe('n-kept', kept.id, 0);
  audit.observe('n-dead', dead.id, 0);
  await waitFor(() => overdue.length > 0, { timeoutMs: 5_000, what: 'the overdue lease reported' });
  t.true(Date.now() - started < 3_500, 'reported at its second read (first read ≤ 1.5 s, confirmed 0.6 s later)');
  await new Promise((r) => setTimeout(r, 9_000));
  stop.abort();
  await run;
  t.deepEqual(overdue, ['n-dead'], 'reported once, and only the dead one');
  t.deepEqual(missed, []);
  // 10 s of a lease kept alive with TTL 3 s: remaining 1-2 s at each read, read every 2.5-3.5 s.
  const n = reads.get(kept.id) ?? 0;
  t.true(n >= 2 && n <= 6, `kept-alive lease read ${n} times in ~10 s`);
  t.is(reads.get(dead.id), 2);
});
