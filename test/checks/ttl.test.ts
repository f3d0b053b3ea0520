import test from 'ava';
import { TtlBoard, UnknownCheckError } from '../../src/checks/ttl.js';

test('a report reaches the waiting probe; an unknown id is refused', async (t) => {
  const board = new TtlBoard();
  board.register({ id: 'x', ttlMs: 60_000 });
  const next = board.next('x', AbortSignal.timeout(5_000));
  board.report('x', 'warning', 'slow');
  t.deepEqual(await next, { status: 'warning', output: 'slow' });
  t.throws(() => board.report('y', 'passing'), { instanceOf: UnknownCheckError, message: 'no ttl check with id "y"' });
});

test('an id registered anew (a reload replaced its check): the old probe ends, the new one gets the reports', async (t) => {
  const board = new TtlBoard();
  board.register({ id: 'x', ttlMs: 60_000 });
  const old = board.next('x', AbortSignal.timeout(5_000));
  board.unregister('x');
  board.register({ id: 'x', ttlMs: 60_000 });
  const fresh = board.next('x', AbortSignal.timeout(5_000));
  // Let the old probe wake and look again before the report arrives.
  await new Promise((r) => setImmediate(r));
  board.report('x', 'passing', 'new');
  t.deepEqual(await old, { status: 'critical', output: 'check removed' });
  t.deepEqual(await fresh, { status: 'passing', output: 'new' });
});

test('silence past the TTL is critical once, then the probe waits for a report', async (t) => {
  let now = 0;
  const board = new TtlBoard(() => now);
  board.register({ id: 'x', ttlMs: 1_000 });
  now = 1_000;
  t.deepEqual(await board.next('x', AbortSignal.timeout(5_000)), { status: 'critical', output: 'TTL expired (no report for 1s)' });
  const next = board.next('x', AbortSignal.timeout(5_000));
  board.report('x', 'passing', 'back');
  t.deepEqual(await next, { status: 'passing', output: 'back' });
});
