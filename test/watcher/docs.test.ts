// docs/watcher.md cannot drift: its config example parses, its error examples are the real messages,
// its tables list exactly the event types, hook variables and record fields the code produces, and its
// etcdctl commands run against a real etcd after a real failure.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { parseWatcherConfig } from '../../src/config/watcher.js';
import { decide } from '../../src/watcher/classify.js';
import { EVENT_TYPES } from '../../src/watcher/records.js';
import { beaconEnv, type Invocation } from '../../src/watcher/hooks/hook.js';
import { EtcdCluster, requireBinary, waitFor } from '../helpers/etcd.js';
import { codeBlocks, codeSpans, readDoc, shellCommands, tables } from '../docs/markdown.js';
import { hookFile, outcomes, recordingHook, startAgent, startWatcher, waitEvent, waitLeading } from './support.js';

const doc = readDoc('docs/watcher.md');
const table = (heading: string, first: string) => {
  const t = tables(doc).find((x) => x.heading === heading && x.headers[0] === first);
  if (!t) throw new Error(`docs/watcher.md: no table "${first}" under "${heading}"`);
  return t;
};
const firstColumn = (heading: string, first: string) => table(heading, first).rows.flatMap((r) => codeSpans(r[0]!));

test('the config example parses, and names every section field', (t) => {
  const [block] = codeBlocks(doc, 'yaml').filter((b) => b.heading === 'Configuration');
  const cfg = parseWatcherConfig(parseYaml(block!.body), { hostname: 'h', env: {} });
  t.is(cfg.hooks.length, 2);
  t.is(cfg.watcher.id, 'watcher-a');
  for (const field of ['id', 'electionTtl', 'eventRetention', 'probeInterval', 'cooldown', 'rateLimit', 'every', 'burst', 'massFailure', 'share', 'window', 'minNodes', 'hold']) {
    t.regex(block!.body, new RegExp(`\\b${field}:`), field);
  }
  for (const field of ['name', 'kind', 'command', 'env', 'events', 'timeout', 'retries', 'backoff', 'concurrency', 'url', 'headers', 'alertOnly']) {
    t.regex(block!.body, new RegExp(`\\b${field}:`), field);
  }
});

test('the error examples are the messages the loader gives', (t) => {
  const msg = (raw: unknown) => t.throws(() => parseWatcherConfig(raw, { env: {} }))!.message;
  t.true(doc.includes(msg({ hooks: [{ name: 'x', kind: 'ssh' }] })));
  t.true(doc.includes(msg({ watcher: { massFailure: { hold: '2m' } } })));
});

test('the event table lists exactly the event types', (t) => {
  t.deepEqual(firstColumn('Events', 'Event'), [...EVENT_TYPES]);
});

test('the hook environment table lists exactly the BEACON_* variables', (t) => {
  const inv = { hook: 'h', attempt: 1, watcherId: 'w', event: {} } as unknown as Invocation;
  t.deepEqual(firstColumn('Hooks', 'Variable').sort(), Object.keys(beaconEnv(inv)).sort());
});

test('the record field tables cover every field of real events and statuses', (t) => {
  const now = new Date();
  const record = { schema: 1 as const, name: 'n1', state: 'up' as const, bootId: 'b2', address: 'a', labels: {}, lease: 'l2' };
  const recovered = decide(
    { node: 'n1', live: { lease: 'l2', modRevision: '1', record: record as never } },
    { schema: 1, node: 'n1', state: 'failed', since: now.toISOString(), lastSeen: '', reason: '', lease: 'l1', bootId: 'b1', address: 'a' },
    now,
    'watch',
  );
  const eventFields = new Set(firstColumn('Event fields', 'Field'));
  // Fields the watcher adds outside classification: hooks, PartitionSuspected's counts, LeaseRevoked's evidence.
  const seen = new Set([...recovered.events.flatMap((e) => Object.keys(e)), 'hooks', 'nodes', 'failed', 'known', 'evidence']);
  t.deepEqual([...seen].filter((f) => !eventFields.has(f)), []);
  t.deepEqual([...eventFields].filter((f) => !seen.has(f)), []);
  t.deepEqual(firstColumn('Node status', 'Field').sort(), Object.keys(recovered.status!).sort());
});

test('the etcdctl commands run against a real etcd after a real failure', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const agent = await startAgent(t, etcd.endpoints, '/beacon', 'n1');
  const watcher = startWatcher(t, { endpoints: etcd.endpoints, prefix: '/beacon', id: 'w-docs', hooks: [recordingHook(hookFile())] });
  await waitLeading(watcher);
  await waitEvent(watcher, 'NodeJoined', 'n1');
  await agent.stop('SIGKILL');
  await waitEvent(watcher, 'NodeFailed', 'n1', 10_000);
  await waitFor(() => outcomes(watcher)[0], { what: 'hook outcome' });

  const commands = codeBlocks(doc, 'sh').flatMap((b) => shellCommands(b.body)).filter((c) => c.startsWith('etcdctl'));
  t.is(commands.length, 3);
  const out = commands.map((c) => {
    const r = spawnSync('sh', ['-c', c], {
      env: { ...process.env, ETCDCTL_API: '3', ETCDCTL_ENDPOINTS: etcd.endpoints, PATH: `${requireBinary('jq').replace(/\/jq$/, '')}:${process.env.PATH}` },
      encoding: 'utf8',
    });
    t.is(r.status, 0, `${c}: ${r.stderr}`);
    return r.stdout;
  });
  t.like(JSON.parse(out[0]!.trim()), { node: 'n1', state: 'failed', reason: 'LeaseExpired' });
  const events = out[1]!.trim().split('\n').map((l) => JSON.parse(l) as { event: string; hooks: Record<string, { state: string }> });
  t.deepEqual(events.map((e) => e.event), ['NodeJoined', 'NodeFailed']);
  t.is(events[1]!.hooks.remedy!.state, 'ok');
  t.is(out[2]!.trim(), '');
});
