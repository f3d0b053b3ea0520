// The brakes on their own (time passed in): token bucket, cooldowns, the mass-failure guard.
import test from 'ava';
import { Cooldowns, MassFailureGuard, TokenBucket } from '../../src/watcher/safety.js';

test('token bucket: burst, then one token per interval', (t) => {
  const b = new TokenBucket({ everyMs: 1000, burst: 2 }, 0);
  t.deepEqual(b.take(0), { ok: true });
  t.deepEqual(b.take(0), { ok: true });
  t.deepEqual(b.take(0), { ok: false, waitMs: 1000 });
  t.deepEqual(b.take(400), { ok: false, waitMs: 600 });
  t.deepEqual(b.take(1000), { ok: true });
  t.deepEqual(b.take(10_000), { ok: true });
  t.deepEqual(b.take(10_000), { ok: true });
  t.false(b.take(10_000).ok, 'never more than the burst saved');
});

test('cooldowns: blocked until the cooldown has passed since the latest start', (t) => {
  const c = new Cooldowns(5000);
  t.is(c.blockedUntil('k', 0), undefined);
  c.note('k', 1000);
  c.note('k', 500);
  t.is(c.blockedUntil('k', 2000), 6000);
  t.is(c.blockedUntil('k', 6000), undefined);
  t.is(c.blockedUntil('other', 2000), undefined);
});

test('guard: trips at the share of known nodes failed within the window, once; releases after', (t) => {
  const g = new MassFailureGuard({ share: 0.55, windowMs: 10_000, minNodes: 3, holdMs: 0 });
  const fail = (node: string, at: number) => ({ node, at });
  t.like(g.evaluate({ up: 4, failed: [fail('a', 0)] }, 100), { tripped: false, changed: false, known: 5 });
  t.like(g.evaluate({ up: 3, failed: [fail('a', 0), fail('b', 50)] }, 100), { tripped: false });
  const tripped = g.evaluate({ up: 2, failed: [fail('a', 0), fail('b', 50), fail('c', 90)] }, 100);
  t.like(tripped, { tripped: true, changed: true, known: 5, nodes: ['a', 'b', 'c'] });
  t.like(g.evaluate({ up: 2, failed: [fail('a', 0), fail('b', 50), fail('c', 90)] }, 200), { tripped: true, changed: false });
  // Failures older than the window no longer count.
  t.like(g.evaluate({ up: 2, failed: [fail('a', 0), fail('b', 50), fail('c', 90)] }, 20_000), { tripped: false, changed: true });
});

test('guard: off below minNodes (one of two nodes failing is no partition)', (t) => {
  const g = new MassFailureGuard({ share: 0.55, windowMs: 10_000, minNodes: 3, holdMs: 0 });
  t.false(g.evaluate({ up: 1, failed: [{ node: 'a', at: 0 }] }, 1).tripped);
  t.false(g.evaluate({ up: 0, failed: [{ node: 'a', at: 0 }] }, 1).tripped);
});
