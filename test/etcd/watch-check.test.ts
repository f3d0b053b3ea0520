// WatchCheck's judgement, as a pure unit: a watch is called silent only when a probe found keys it has
// not shown AND it delivered nothing until the next probe. The real hung-member case is in
// test/etcd/watch-stream.test.ts.
import test from 'ava';
import type { WatchEvent } from '../../src/etcd/store.js';
import { WatchCheck } from '../../src/etcd/watch-check.js';

const ev = (type: 'put' | 'delete', rev: number, version = 1): WatchEvent => ({
  type,
  kv: { key: `/k${rev}`, value: Buffer.from(''), createRevision: String(rev), modRevision: String(rev), version: String(version), lease: '' },
});

test('quiet and consistent: never silent, nothing owed', (t) => {
  const c = new WatchCheck(5, '10');
  for (let i = 0; i < 5; i++) {
    t.is(c.probe({ count: 5, revision: String(10 + i) }), undefined);
    t.false(c.pending);
  }
});

test('keys etcd holds that the watch never shows: owed at one probe, silent at the next', (t) => {
  const c = new WatchCheck(5, '10');
  t.is(c.probe({ count: 4, revision: '12' }), undefined);
  t.true(c.pending, 'the next probe should come soon');
  t.regex(c.probe({ count: 4, revision: '12' }) ?? '', /watch silent: etcd held 4 keys at revision 12, the watch shows 5/);
});

test('an event delivered between the probes clears the suspicion, even if more is still owed', (t) => {
  const c = new WatchCheck(5, '10');
  t.is(c.probe({ count: 3, revision: '12' }), undefined);
  c.seen(ev('delete', 11));
  t.is(c.probe({ count: 3, revision: '12' }), undefined, 'the stream is alive: it delivered something');
  t.true(c.pending, 'still one key short: owed again');
  c.seen(ev('delete', 12));
  t.is(c.probe({ count: 3, revision: '12' }), undefined);
  t.false(c.pending);
});

test('creates count, rewrites do not; a probe older than what the watch showed is no evidence', (t) => {
  const c = new WatchCheck(0, '1');
  c.seen(ev('put', 2)); // created
  c.seen(ev('put', 3, 2)); // rewritten: still one key
  t.is(c.probe({ count: 1, revision: '3' }), undefined);
  t.false(c.pending);
  t.is(c.probe({ count: 0, revision: '2' }), undefined, 'read at an older revision than the watch reached');
  t.false(c.pending);
});

test('changes that cancel out in count are not taken for silence', (t) => {
  const c = new WatchCheck(2, '10');
  // etcd created one key and deleted another after revision 10; the count still matches.
  t.is(c.probe({ count: 2, revision: '12' }), undefined);
  t.false(c.pending);
});
