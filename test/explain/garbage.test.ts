// `beacon explain` reading garbage: history records with control characters, huge values and wrong types,
// and bad watcher records, are skipped and counted (one warning each), never shown and never a crash; the
// hostile text valid records may hold (hook and check output allow any character) reaches the terminal
// escaped, and JSON gives it back exactly.
import test from 'ava';
import { EtcdCluster, putRaw } from '../helpers/etcd.js';
import { beacon } from '../helpers/process.js';
import { LEASE, endpointRecord, identityRecord, liveRecord, statusRecord, watcherEventRecord } from '../helpers/records.js';
import { Keys } from '../../src/etcd/keys.js';
import { hasUnsafe } from '../../src/cli/safe-text.js';
import type { Explanation } from '../../src/explain/explain.js';

let etcd: EtcdCluster;
test.before(async () => {
  etcd = await EtcdCluster.start();
});
test.after.always(async () => {
  await etcd?.destroy();
});

const put = (key: string, value: unknown, lease?: string) =>
  putRaw(etcd, key, Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)), lease);

function grant(ttl: number): string {
  const out = etcd.etcdctl(['lease', 'grant', String(ttl)]);
  return /lease ([0-9a-f]+) granted/.exec(out)![1]!.padStart(16, '0');
}

const ESC = '\x1b]0;pwned\x07\x1b[2J';
const BIDI = 'gnp.\u202eexe';

test('garbage history and watcher records are skipped and counted; hostile text is escaped', (t) => {
  const prefix = '/t-explain-garbage';
  const keys = new Keys(prefix);
  const node = 'g1';
  const lease = grant(600);
  // The node itself: a failed node (identity without a leave, no live record) with a valid status.
  put(keys.identity(node), identityRecord({ name: node }));
  put(keys.status(node), statusRecord({ node, state: 'failed', reason: 'LeaseExpired', since: '2024-05-01T10:05:00.000Z' }));
  // Valid records holding hostile text where the schema allows any character (hook output).
  put(
    keys.watcherEvent(`${node}.${LEASE}.NodeFailed`),
    watcherEventRecord({
      node,
      id: `${node}.${LEASE}.NodeFailed`,
      event: 'NodeFailed',
      reason: 'LeaseExpired',
      time: '2024-05-01T10:05:00.000Z',
      previous: 'up',
      hooks: { remedy: { state: 'failed', attempts: 1, durationMs: 3, output: '', exitCode: 3, error: `boom${ESC}\nforged row ${BIDI}` } },
    }),
    lease,
  );
  // Garbage: the history with wrong types and control characters, a huge event, an event with a control
  // character in a field that forbids them, a reaction that is not JSON.
  put(keys.history(node), { schema: 1, node, updatedAt: '2024-05-01T10:05:00.000Z', entries: [{ time: 'yesterday', what: 'Node\x1bFailed', detail: 42 }] });
  put(keys.watcherEvent(`${node}.${LEASE}.NodeJoined`), Buffer.alloc(300 * 1024, 0x41), lease);
  put(keys.watcherEvent(`${node}.${LEASE}.NodeRebooted`), watcherEventRecord({ node, id: `${node}.${LEASE}.NodeRebooted`, event: 'NodeRebooted', reason: `Boot${ESC}` }), lease);
  put(keys.reaction(`${node}.${LEASE}.NodeFailed.remedy`), Buffer.from([0xff, 0xfe, 0x1b, 0x5b, 0x32, 0x4a]));
  // Another node's garbage is not this explanation's business (not decoded, not counted).
  put(keys.watcherEvent(`other.${LEASE}.NodeFailed`), '{"schema":1,"garbage":true}', lease);

  const args = ['explain', 'node', node, '--etcd', etcd.endpoints, '--prefix', prefix];
  const json = beacon([...args, '-o', 'json']);
  t.is(json.code, 0, json.stderr);
  const x = JSON.parse(json.stdout) as Explanation;
  t.is(x.state, 'failed');
  t.is(x.skipped, 4);
  const warnings = json.stderr.split('\n').filter((l) => l.startsWith('warning: skipped '));
  t.is(warnings.length, 4, json.stderr);
  for (const k of [keys.history(node), keys.watcherEvent(`${node}.${LEASE}.NodeJoined`), keys.watcherEvent(`${node}.${LEASE}.NodeRebooted`), keys.reaction(`${node}.${LEASE}.NodeFailed.remedy`)]) {
    t.true(warnings.some((w) => w.startsWith(`warning: skipped ${k}: `)), k);
  }
  t.false(hasUnsafe(json.stderr.replaceAll('\n', '')), 'warnings are escaped');
  // Nothing of the garbage is shown; the hostile hook error comes back exactly from JSON.
  t.false(x.timeline.some((e) => e.what === 'NodeRebooted' || e.what.includes('\x1b')));
  const hook = x.timeline.find((e) => e.what === 'Hook')!;
  t.is(hook.detail, `remedy for NodeFailed: failed after 1 attempt, exit code 3: boom${ESC}\nforged row ${BIDI}`);
  t.false(/[\u007f-\u009f\u202e]/.test(json.stdout), 'JSON escapes what JSON.stringify leaves raw');

  // The table: one line per entry, every control and bidi character visible as an escape.
  const table = beacon(args);
  t.is(table.code, 0, table.stderr);
  t.false(hasUnsafe(table.stdout.replaceAll('\n', '')), 'no raw control or bidi character reaches the terminal');
  t.regex(table.stdout, /boom\\x1b\]0;pwned\\x07\\x1b\[2J\\nforged row gnp\.\\u202eexe/);
  t.regex(table.stdout, /4 records skipped/);
  const rows = table.stdout.split('\n').filter((l) => /^\d{4}-/.test(l));
  t.is(rows.length, x.timeline.length, 'no forged rows');
});

test('a live record that fails the schema: state unknown, said so, counted', (t) => {
  const prefix = '/t-explain-badlive';
  const keys = new Keys(prefix);
  put(keys.live('u1'), liveRecord({ name: 'u1', address: 'not-an-ip', ...({ state: 'exploding' } as Record<string, unknown>) }));
  put(keys.endpoint('web', 'u1'), endpointRecord({ node: 'u1', health: 'critical', output: `disk${ESC}` }));
  const r = beacon(['explain', 'node', 'u1', '-o', 'json', '--etcd', etcd.endpoints, '--prefix', prefix]);
  t.is(r.code, 0, r.stderr);
  const x = JSON.parse(r.stdout) as Explanation;
  t.is(x.state, 'unknown');
  t.is(x.skipped, 1);
  t.regex(x.verdict, /^u1 is in an unknown state: its live record fails the schema/);
  t.regex(r.stderr, /warning: skipped \/t-explain-badlive\/v1\/nodes\/u1\/live: \/(address|state): must be/);
});

test('events expired: the verdict and timeline come from the history; entries beyond its age are not shown', async (t) => {
  const prefix = '/t-explain-history';
  const keys = new Keys(prefix);
  const node = 'h1';
  const now = Date.now();
  const iso = (agoMs: number) => new Date(now - agoMs).toISOString();
  put(keys.identity(node), identityRecord({ name: node, registeredAt: iso(3_600_000) }));
  put(keys.status(node), statusRecord({ node, state: 'failed', reason: 'LeaseExpired', since: iso(60_000) }));
  put(keys.history(node), {
    schema: 1,
    node,
    updatedAt: iso(1_000),
    entries: [
      { time: iso(8 * 24 * 3_600_000), what: 'NodeJoined', detail: 'too old to show' },
      { time: iso(60_000), what: 'NodeFailed', detail: `lease ${LEASE} expired (or was revoked) without a leave marker: etcd deleted the live key; seen in a watch event`, id: `${node}.${LEASE}.NodeFailed`, revision: '77' },
      { time: iso(55_000), what: 'Hook', detail: 'remedy for NodeFailed: held back: cooldown (hook ran for this node and event type recently)', id: `${node}.${LEASE}.NodeFailed.remedy` },
    ],
  });
  const r = beacon(['explain', 'node', node, '-o', 'json', '--etcd', etcd.endpoints, '--prefix', prefix]);
  t.is(r.code, 0, r.stderr);
  const x = JSON.parse(r.stdout) as Explanation;
  t.is(x.state, 'failed');
  t.regex(x.verdict, new RegExp(`^h1 failed at \\S+: its lease ${LEASE} expired without a leave marker \\(seen in a watch event\\); hooks: remedy held back \\(cooldown\\)\\.$`));
  t.deepEqual(
    x.timeline.map((e) => e.what),
    ['Registered', 'NodeFailed', 'Hook'],
  );
  t.regex(x.timeline[1]!.detail, /\(etcd revision 77\)$/);
  t.false(r.stdout.includes('too old to show'));
});
