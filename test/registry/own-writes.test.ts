// Telling our own writes from someone else's (src/registry/own-writes.ts), including the event that
// arrives before its transaction's answer: it waits for the answer, then is judged by its revision.
// Pure logic: the writes are promises settled by the test. The agent-level test is test/agent/own-writes.test.ts.
import test from 'ava';
import type { KeyValue, WatchEvent } from '../../src/etcd/store.js';
import type { Desired } from '../../src/registry/desired.js';
import { OwnWrites } from '../../src/registry/own-writes.js';

const written: Desired = { leased: new Map([['/n/live', 'mine']]), unleased: new Map([['/n/id', 'id']]) };

function event(type: 'put' | 'delete', key: string, value: string, modRevision: number): WatchEvent {
  const kv: KeyValue = { key, value: Buffer.from(value), createRevision: '1', modRevision: String(modRevision), version: '1', lease: '' };
  return { type, kv };
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (err: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('with no write in flight: a change by someone else is foreign; echoes and keys we do not hold are not', async (t) => {
  const own = new OwnWrites(() => t.fail('nothing waited'));
  await own.track(Promise.resolve({ succeeded: true, revision: '10' }));
  t.true(own.foreign(event('put', '/n/live', 'theirs', 11), written), 'another value, later revision');
  t.true(own.foreign(event('delete', '/n/id', '', 12), written), 'a delete of our key');
  t.false(own.foreign(event('put', '/n/live', 'theirs', 10), written), 'at the revision our write returned');
  t.false(own.foreign(event('put', '/n/live', 'mine', 13), written), 'the value we wrote');
  t.false(own.foreign(event('put', '/n/live', 'older', 9), written), 'an earlier write of ours, superseded');
  t.true(own.foreign(event('delete', '/n/live', '', 9), written), 'a delete is never an echo of a put');
  t.false(own.foreign(event('put', '/other', 'x', 14), written), 'a key we do not hold');
});

test('a failed compare wrote nothing: its revision is not ours', async (t) => {
  const own = new OwnWrites(() => t.fail('nothing waited'));
  await own.track(Promise.resolve({ succeeded: false, revision: '20' }));
  t.true(own.foreign(event('put', '/n/live', 'theirs', 20), written));
});

test('an event seen while a write is in flight waits for its answer, then is judged by the revision it returned', async (t) => {
  const rejudged: WatchEvent[] = [];
  const own = new OwnWrites((e) => rejudged.push(e));
  const write = deferred<{ succeeded: boolean; revision: string }>();
  const tracking = own.track(write.promise);
  const ours = event('put', '/n/live', 'new value', 30);
  const theirs = event('delete', '/n/id', '', 31);
  t.false(own.foreign(ours, written), 'not judged yet');
  t.false(own.foreign(theirs, written), 'not judged yet');
  t.deepEqual(rejudged, [], 'nothing judged before the answer');
  write.resolve({ succeeded: true, revision: '30' });
  await tracking;
  t.deepEqual(rejudged, [ours, theirs], 'both handed back once the write answered');
  t.false(own.foreign(ours, written), 'the write returned revision 30: ours');
  t.true(own.foreign(theirs, written), 'revision 31 is someone else\'s');
});

test('events wait until the last of overlapping writes has answered, also when one fails', async (t) => {
  const rejudged: WatchEvent[] = [];
  const own = new OwnWrites((e) => rejudged.push(e));
  const a = deferred<{ succeeded: boolean; revision: string }>();
  const b = deferred<{ succeeded: boolean; revision: string }>();
  const ta = own.track(a.promise);
  const tb = own.track(b.promise).catch(() => undefined);
  own.foreign(event('put', '/n/live', 'x', 41), written);
  a.resolve({ succeeded: true, revision: '40' });
  await ta;
  t.deepEqual(rejudged, [], 'one write still in flight');
  b.reject(new Error('etcd gone'));
  await tb;
  t.is(rejudged.length, 1, 'judged once no write is in flight');
});
