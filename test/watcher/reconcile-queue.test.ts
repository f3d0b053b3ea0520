// The leader's queue of nodes to compare (pure): a node waits once, in the order first marked; a watch
// event wins over a listing's mark and keeps the record a DELETE removed until the node is compared.
import test from 'ava';
import { ReconcileQueue } from '../../src/watcher/reconcile-queue.js';

test('a node waits once, oldest first; take removes what it returns', (t) => {
  const q = new ReconcileQueue();
  for (const n of ['a', 'b', 'a', 'c']) q.mark(n);
  t.is(q.size, 3);
  t.deepEqual(q.take(2).map(([n]) => n), ['a', 'b']);
  t.deepEqual(q.take(10).map(([n]) => n), ['c']);
  t.is(q.size, 0);
  t.deepEqual(q.take(10), []);
});

test('a mark keeps what is already known of a waiting node', (t) => {
  const q = new ReconcileQueue();
  q.watched('a', { lease: 'l1', revision: '7' });
  q.mark('a');
  t.deepEqual(q.take(1), [['a', { by: 'watch', deleted: { lease: 'l1', revision: '7' } }]]);
});

test("a watch event marks the node as seen in the watch and keeps an earlier DELETE's record", (t) => {
  const q = new ReconcileQueue();
  q.mark('a');
  q.mark('b');
  q.watched('a', { lease: 'l1', revision: '7' });
  q.watched('a'); // a put after the delete: the lost registration is still to be judged
  t.deepEqual(q.take(2), [
    ['a', { by: 'watch', deleted: { lease: 'l1', revision: '7' } }],
    ['b', { by: 'resync' }],
  ]);
  q.mark('c');
  q.clear();
  t.is(q.size, 0);
});
