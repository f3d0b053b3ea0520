// The node history's bounds (entries and age) and its writer against a real etcd: batched appends, the
// fence, garbage under the key replaced (and reported), text stored as one escaped line.
import test from 'ava';
import pino from 'pino';
import { EtcdCluster, putRaw } from '../helpers/etcd.js';
import { Keys } from '../../src/etcd/keys.js';
import { Store } from '../../src/etcd/store.js';
import { DecodeError } from '../../src/errors.js';
import { decodeKey, problemOf } from '../../src/registry/codec.js';
import { HISTORY_BOUNDS, HistoryWriter, MAX_DETAIL, appendHistory, historyText, type HistoryEntry, type HistoryRecord } from '../../src/watcher/history.js';

const log = pino({ level: 'silent' });
const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const entry = (i: number, ms = i * 1000): HistoryEntry => ({ time: at(ms), what: 'Hook', detail: `entry ${i}` });

test('appendHistory keeps at most maxEntries, dropping the oldest', (t) => {
  const bounds = { maxEntries: 5, maxAgeMs: 3600_000 };
  let rec: HistoryRecord | undefined;
  for (let i = 0; i < 12; i++) rec = appendHistory(rec, 'n1', [entry(i)], T0 + i * 1000, bounds);
  t.deepEqual(rec!.entries.map((e) => e.detail), ['entry 7', 'entry 8', 'entry 9', 'entry 10', 'entry 11']);
  t.is(problemOf('watcher-history', rec), undefined);
});

test('appendHistory drops entries older than maxAgeMs at the next write', (t) => {
  const bounds = { maxEntries: 100, maxAgeMs: 10_000 };
  const rec = appendHistory(undefined, 'n1', [entry(0), entry(1, 5_000)], T0 + 5_000, bounds);
  t.is(rec.entries.length, 2);
  const later = appendHistory(rec, 'n1', [entry(2, 12_000)], T0 + 12_000, bounds);
  t.deepEqual(later.entries.map((e) => e.detail), ['entry 1', 'entry 2'], 'entry 0 is 12 s old');
  const muchLater = appendHistory(later, 'n1', [entry(3, 40_000)], T0 + 40_000, bounds);
  t.deepEqual(muchLater.entries.map((e) => e.detail), ['entry 3']);
});

test('appendHistory sorts by time (stable) and stores text as one escaped, capped line', (t) => {
  const rec = appendHistory(
    undefined,
    'n1',
    [
      { time: at(2000), what: 'Hook', detail: 'second' },
      { time: at(1000), what: 'NodeFailed', detail: 'first\x1b[2J\nforged row\u202e' },
      { time: at(2000), what: 'Hook', detail: 'x'.repeat(5000) },
    ],
    T0 + 3000,
  );
  t.deepEqual(rec.entries.map((e) => e.what), ['NodeFailed', 'Hook', 'Hook']);
  t.is(rec.entries[0]!.detail, 'first\\u001b[2J\\u000aforged row\\u202e');
  t.is(rec.entries[2]!.detail.length, MAX_DETAIL);
  t.true(rec.entries[2]!.detail.endsWith('...'));
  t.is(problemOf('watcher-history', rec), undefined, 'what the writer stores passes the published schema');
  t.is(historyText('a\tb'), 'a\\u0009b');
});

test('the default bound keeps a full record well under the codec limit', (t) => {
  const full: HistoryEntry[] = Array.from({ length: 300 }, (_, i) => ({ time: at(i), what: 'ConditionChanged', detail: '\x07'.repeat(2000), id: `n1.${'a'.repeat(16)}.NodeFailed`, revision: '123456789' }));
  const rec = appendHistory(undefined, 'n1', full, T0 + 1000);
  t.is(rec.entries.length, HISTORY_BOUNDS.maxEntries);
  t.true(JSON.stringify(rec).length < 128 * 1024, `${JSON.stringify(rec).length} bytes`);
  t.is(problemOf('watcher-history', rec), undefined);
});

let etcd: EtcdCluster;
let store: Store;
test.before(async () => {
  etcd = await EtcdCluster.start();
  store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 5_000, dialTimeoutMs: 5_000 });
});
test.after.always(async () => {
  store?.close();
  await etcd?.destroy();
});

async function readHistory(keys: Keys, node: string): Promise<HistoryRecord | undefined> {
  const kv = await store.get(keys.history(node));
  if (!kv) return undefined;
  const r = decodeKey(keys, kv);
  if (r instanceof DecodeError || r?.kind !== 'watcher-history') throw new Error(`history does not decode: ${String(r)}`);
  return r.record;
}

test('the writer batches appends per node and keeps the record bounded in etcd', async (t) => {
  const keys = new Keys('/t-history-bound');
  const fenceKey = `${keys.root}fence`;
  await store.put(fenceKey, 'leader');
  let now = T0;
  const w = new HistoryWriter(store, keys, () => ({ key: fenceKey, target: 'Value', op: '==', value: 'leader' }), log, undefined, { maxEntries: 10, maxAgeMs: 60_000 }, () => now);
  for (let i = 0; i < 25; i++) w.note('n1', entry(i, i * 100));
  w.note('n2', entry(0));
  await w.flush();
  const rev1 = (await store.get(keys.history('n1')))!.modRevision;
  const n1 = (await readHistory(keys, 'n1'))!;
  t.is(n1.entries.length, 10);
  t.deepEqual(n1.entries.map((e) => e.detail), Array.from({ length: 10 }, (_, i) => `entry ${i + 15}`));
  t.is((await store.get(keys.history('n1')))!.version, '1', 'one write for 25 appends');
  t.is((await readHistory(keys, 'n2'))!.entries.length, 1);

  // A minute and more later: the old entries age out at the next write.
  now = T0 + 90_000;
  w.note('n1', entry(99, 90_000));
  await w.flush();
  const aged = (await readHistory(keys, 'n1'))!;
  t.deepEqual(aged.entries.map((e) => e.detail), ['entry 99']);
  t.not((await store.get(keys.history('n1')))!.modRevision, rev1);
  await w.close();
});

test("the writer's fence: nothing lands once the fence fails", async (t) => {
  const keys = new Keys('/t-history-fence');
  const fenceKey = `${keys.root}fence`;
  await store.put(fenceKey, 'other');
  const w = new HistoryWriter(store, keys, () => ({ key: fenceKey, target: 'Value', op: '==', value: 'leader' }), log);
  w.note('n1', entry(0, Date.now() - T0));
  await w.flush();
  t.is(await store.get(keys.history('n1')), undefined);
});

test('garbage under the history key is reported and replaced by a valid record', async (t) => {
  const keys = new Keys('/t-history-garbage');
  const fenceKey = `${keys.root}fence`;
  await store.put(fenceKey, 'leader');
  const bad: DecodeError[] = [];
  putRaw(etcd, keys.history('n1'), Buffer.from(JSON.stringify({ schema: 1, node: 'n1', entries: 'lots', updatedAt: 5 })));
  const w = new HistoryWriter(store, keys, () => ({ key: fenceKey, target: 'Value', op: '==', value: 'leader' }), log, (err) => bad.push(err));
  w.note('n1', { time: new Date().toISOString(), what: 'NodeFailed', detail: 'lease expired' });
  await w.flush();
  t.is(bad.length, 1);
  t.regex(bad[0]!.problem, /^\/(entries|updatedAt): must be/);
  const rec = (await readHistory(keys, 'n1'))!;
  t.deepEqual(rec.entries.map((e) => e.detail), ['lease expired']);
});
