// `beacon explain node NAME` against a real etcd, real agents and a real watcher: a SIGKILLed node, a
// graceful leave, a node in maintenance, a mass failure whose remedies the guard held back, an unknown
// node. The JSON field names are an interface: pinned here.
import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beacon, writeConfig } from '../helpers/process.js';
import { Keys } from '../../src/etcd/keys.js';
import { code, readDoc, tables } from '../docs/markdown.js';
import { Store } from '../../src/etcd/store.js';
import { explainNode, type Explanation, type TimelineEntry } from '../../src/explain/explain.js';
import { agentYaml, shortTempDir, startAgent as startApiAgent, waitHealth } from '../agent/health-support.js';
import {
  getJson,
  hookFile,
  nodeEvents,
  outcomes,
  recordingHook,
  startAgent,
  startWatcher,
  stopGracefully,
  waitEvent,
  waitLeading,
} from '../watcher/support.js';

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

/** `beacon explain node NAME -o json` as a script runs it. */
function explainJson(t: ExecutionContext, prefix: string, node: string): Explanation {
  const r = beacon(['explain', 'node', node, '-o', 'json', '--etcd', etcd.endpoints, '--prefix', prefix]);
  t.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Explanation;
}

/** Poll the explanation in-process until `ok` holds (the watcher writes its history a moment after acting). */
async function explained(prefix: string, node: string, ok: (x: Explanation) => boolean, what: string, timeoutMs = 20_000): Promise<Explanation> {
  let last: Explanation | undefined;
  try {
    return await waitFor(
      async () => {
        last = await explainNode(store, prefix, node);
        return last && ok(last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 200, what },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last explanation: ${JSON.stringify(last, null, 1)}`);
  }
}

/** Agents started together; a loaded machine may take a while to start five Node processes. */
async function startAgents(t: ExecutionContext, prefix: string, nodes: string[]): Promise<BeaconProcess[]> {
  const agents = nodes.map((n) => {
    const cfg = ['etcd:', `  endpoints: [${etcd.endpoints}]`, `prefix: ${prefix}`, 'node:', `  name: ${n}`, '  ttl: 3s', ''].join('\n');
    const p = new BeaconProcess(['agent', '--config', writeConfig(cfg)]);
    t.teardown(() => p.stop('SIGKILL'));
    return p;
  });
  await Promise.all(agents.map((a) => a.waitLine((l) => l.msg === 'registered', 90_000)));
  return agents;
}

const find = (x: Explanation, what: string, detail?: RegExp): TimelineEntry | undefined =>
  x.timeline.find((e) => e.what === what && (!detail || detail.test(e.detail)));

/** The JSON contract: exactly these fields, in this order; timeline entries `{time, what, detail}`, oldest first. */
function checkShape(t: ExecutionContext, x: Explanation): void {
  t.deepEqual(Object.keys(x), ['node', 'state', 'verdict', 'timeline', 'skipped']);
  t.is(typeof x.verdict, 'string');
  t.true(x.verdict.endsWith('.'), 'the verdict is one sentence');
  t.true(x.timeline.length > 0);
  for (const e of x.timeline) {
    t.deepEqual(Object.keys(e), ['time', 'what', 'detail']);
    t.false(Number.isNaN(Date.parse(e.time)), e.time);
    t.regex(e.what, /^[A-Z][A-Za-z]+$/);
  }
  const times = x.timeline.map((e) => e.time);
  t.deepEqual(times, [...times].sort(), 'oldest first');
  // docs/cli.md documents exactly these fields.
  const table = tables(readDoc('docs/cli.md')).find((tb) => tb.headers[0] === 'Field' && tb.heading.includes('beacon explain'));
  t.deepEqual(table?.rows.map((r) => code(r[0]!)), ['node', 'state', 'verdict', 'timeline', 'timeline[].time', 'timeline[].what', 'timeline[].detail', 'skipped']);
  for (const e of x.timeline) t.true(table!.rows.find((r) => code(r[0]!) === 'timeline[].what')![2]!.includes(`\`${e.what}\``), `docs/cli.md lists ${e.what}`);
}

test.serial('a SIGKILLed node: failed, its lease, the delete seen in a watch at a revision, the hook outcome', async (t) => {
  const prefix = '/t-explain-kill';
  const remedy = hookFile();
  const watcher = startWatcher(t, { endpoints: etcd.endpoints, prefix, id: 'w-kill', watcher: { massFailure: { hold: '0s' } }, hooks: [recordingHook(remedy)] });
  await waitLeading(watcher);
  const agent = await startAgent(t, etcd.endpoints, prefix, 'k1');
  await waitEvent(watcher, 'NodeJoined', 'k1');
  const live = getJson(etcd, `${prefix}/v1/nodes/k1/live`)!;
  const lease = live.lease as string;

  const up = await explained(prefix, 'k1', (x) => !!find(x, 'NodeJoined', /TTL 3 s/), 'the registration in the history');
  t.is(up.state, 'up');
  t.regex(up.verdict, new RegExp(`^k1 is up: registered at .* with lease ${lease} \\(TTL 3 s\\)\\.$`));
  t.regex(find(up, 'NodeJoined')!.detail, new RegExp(`registered: lease ${lease}, TTL 3 s, boot id \\S+, address \\S+ .*; seen in a watch event \\(etcd revision \\d+\\)`));
  t.regex(find(up, 'Now')!.detail, new RegExp(`live record last written at etcd revision \\d+ \\(version \\d+\\); lease ${lease} has \\d+ s of 3 s left`));

  await agent.stop('SIGKILL');
  await waitEvent(watcher, 'NodeFailed', 'k1', 15_000);
  await waitFor(() => outcomes(watcher, 'remedy')[0], { timeoutMs: 20_000, what: 'remedy outcome' });
  const x = await explained(prefix, 'k1', (e) => e.state === 'failed' && !!find(e, 'Hook', /ok after/), 'failed with the hook outcome');
  t.regex(x.verdict, new RegExp(`^k1 failed at \\S+: its lease ${lease} expired without a leave marker \\(seen in a watch event\\); hooks: remedy ok\\.$`));
  const failed = find(x, 'NodeFailed')!;
  t.regex(failed.detail, new RegExp(`lease ${lease} expired .*etcd deleted the live key; seen in a watch event; last seen up at \\S+ \\(etcd revision \\d+\\)$`));
  t.regex(find(x, 'Hook')!.detail, /^remedy for NodeFailed: ok after 1 attempt \(\d+ ms\)/);
  t.is(x.timeline.filter((e) => e.what === 'NodeFailed').length, 1, 'the event is not repeated next to the history entry');
  t.is(x.timeline.filter((e) => e.what === 'Hook').length, 1);
  t.is(x.skipped, 0);

  // The CLI: the same data in JSON; the table with the verdict above it.
  const json = explainJson(t, prefix, 'k1');
  checkShape(t, json);
  t.is(json.node, 'k1');
  t.is(json.state, 'failed');
  t.is(json.verdict, x.verdict);
  const table = beacon(['explain', 'node', 'k1', '--etcd', etcd.endpoints, '--prefix', prefix]);
  t.is(table.code, 0, table.stderr);
  const lines = table.stdout.split('\n');
  t.is(lines[0], 'k1: failed');
  t.is(lines[1], x.verdict);
  t.regex(lines[3]!, /^TIME\s+WHAT\s+DETAIL$/);
  t.true(lines.some((l) => /\sNodeFailed\s+lease /.test(l)));
});

test.serial('a graceful leave (SIGTERM): left, no remedy', async (t) => {
  const prefix = '/t-explain-leave';
  const remedy = hookFile();
  const watcher = startWatcher(t, { endpoints: etcd.endpoints, prefix, id: 'w-leave', hooks: [recordingHook(remedy)] });
  await waitLeading(watcher);
  const agent = await startAgent(t, etcd.endpoints, prefix, 'l1');
  await waitEvent(watcher, 'NodeJoined', 'l1');
  const lease = getJson(etcd, `${prefix}/v1/nodes/l1/live`)!.lease as string;
  await stopGracefully(agent);
  await waitEvent(watcher, 'NodeLeft', 'l1');
  const x = await explained(prefix, 'l1', (e) => e.state === 'left' && !!find(e, 'NodeLeft', /the agent marked/), 'the leave in the history');
  t.regex(x.verdict, new RegExp(`^l1 left gracefully at \\S+: its agent marked the leave and revoked lease ${lease}; no remedy runs for a leave\\.$`));
  t.regex(find(x, 'NodeLeft')!.detail, new RegExp(`left gracefully: the agent marked lease ${lease} leaving, then revoked it; seen in a watch event`));
  t.is(find(x, 'Hook'), undefined);
  t.deepEqual(nodeEvents(watcher, 'NodeFailed'), []);
  checkShape(t, explainJson(t, prefix, 'l1'));
});

test.serial('a node in maintenance: the verdict says so, the timeline has when and why', async (t) => {
  const prefix = '/t-explain-maint';
  const watcher = startWatcher(t, { endpoints: etcd.endpoints, prefix, id: 'w-maint' });
  await waitLeading(watcher);
  const socket = join(shortTempDir(), 'agent.sock');
  const cfg = writeConfig(agentYaml(etcd, prefix, 'mt1', socket, ['services:', '  - { name: web, port: 8080 }']));
  const agent = startApiAgent(t, '', cfg);
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  await waitEvent(watcher, 'NodeJoined', 'mt1');
  const r = beacon(['maint', 'enable', '--reason', 'kernel upgrade', '--socket', socket]);
  t.is(r.code, 0, r.stderr);
  await waitHealth(etcd, prefix, 'web', 'maintenance');
  const x = await explained(prefix, 'mt1', (e) => !!find(e, 'Maintenance', /maintenance started/), 'the maintenance in the history');
  t.is(x.state, 'up');
  t.regex(x.verdict, /^mt1 is up: registered at .* \(TTL 4 s\); in maintenance \(kernel upgrade\)\.$/);
  t.is(find(x, 'Maintenance', /started/)!.detail, 'maintenance started: node: kernel upgrade');
  t.is(find(x, 'Maintenance', /^node in/)!.detail, 'node in maintenance: kernel upgrade', 'the marker as stored now');
  t.is(find(x, 'Health')!.detail, 'web: maintenance: node in maintenance: kernel upgrade');

  t.is(beacon(['maint', 'disable', '--reason', 'done', '--socket', socket]).code, 0);
  const after = await explained(prefix, 'mt1', (e) => !!find(e, 'Maintenance', /maintenance ended/), 'the end of maintenance in the history');
  t.regex(after.verdict, /^mt1 is up: registered at .* \(TTL 4 s\)\.$/);
  checkShape(t, explainJson(t, prefix, 'mt1'));
});

test.serial('a mass failure: the guard held the remedy back, the other nodes failed in the window are named', async (t) => {
  const prefix = '/t-explain-mass';
  const remedy = hookFile();
  const nodes = ['m1', 'm2', 'm3', 'm4', 'm5'];
  const agents = await startAgents(t, prefix, nodes);
  const watcher = startWatcher(t, {
    endpoints: etcd.endpoints,
    prefix,
    id: 'w-mass',
    watcher: { massFailure: { share: 0.55, window: '1m', minNodes: 3, hold: '2500ms' } },
    hooks: [recordingHook(remedy)],
  });
  await waitLeading(watcher);
  await waitFor(() => nodes.every((n) => nodeEvents(watcher, 'NodeJoined', n).length === 1), { timeoutMs: 20_000, what: 'every node joined' });
  await Promise.all(agents.slice(0, 3).map((a) => a.stop('SIGKILL')));
  await waitFor(() => outcomes(watcher, 'remedy').length === 3, { timeoutMs: 25_000, what: 'three remedy outcomes' });
  for (const o of outcomes(watcher, 'remedy')) t.like(o, { outcome: { state: 'suppressed', why: 'mass-failure' } });

  const x = await explained(prefix, 'm1', (e) => !!find(e, 'Hook', /held back/) && !!find(e, 'PartitionSuspected'), 'the guard in the history');
  t.is(x.state, 'failed');
  t.regex(x.verdict, /hooks: remedy held back \(mass-failure\); 2 other nodes failed in the same window \(m2, m3\): a probable partition\.$/);
  t.regex(find(x, 'Hook')!.detail, /^remedy for NodeFailed: held back: mass-failure \(3 of 5 known nodes failed within the window\)$/);
  t.regex(find(x, 'PartitionSuspected')!.detail, /^3 of 5 known nodes failed within the window \(with m2, m3\): remedy hooks suspended$/);
  // Oldest failure first: m2 and m3 in the order their leases expired.
  const together = find(x, 'FailedTogether')!.detail;
  t.regex(together, /^2 other nodes failed within 60 s: (m2|m3) \(\S+\), (m2|m3) \(\S+\); a probable partition or shared cause$/);
  t.true(together.includes('m2 (') && together.includes('m3 ('), together);
  checkShape(t, explainJson(t, prefix, 'm1'));
  // A node that did not fail names nobody.
  const m4 = await explainNode(store, prefix, 'm4');
  t.is(m4!.state, 'up');
  t.is(find(m4!, 'FailedTogether'), undefined);
});

test.serial('a remedy that waited for a rate-limit token says so', async (t) => {
  const prefix = '/t-explain-rate';
  const remedy = hookFile();
  const nodes = ['r1', 'r2'];
  const agents = await startAgents(t, prefix, nodes);
  const watcher = startWatcher(t, {
    endpoints: etcd.endpoints,
    prefix,
    id: 'w-rate',
    watcher: { rateLimit: { every: '4s', burst: 1 }, massFailure: { hold: '0s' } },
    hooks: [recordingHook(remedy)],
  });
  await waitLeading(watcher);
  await waitFor(() => nodes.every((n) => nodeEvents(watcher, 'NodeJoined', n).length === 1), { timeoutMs: 20_000, what: 'both joined' });
  await Promise.all(agents.map((a) => a.stop('SIGKILL')));
  await waitFor(() => outcomes(watcher, 'remedy').length === 2, { timeoutMs: 30_000, what: 'two remedy outcomes' });
  const xs = await Promise.all(nodes.map((n) => explained(prefix, n, (e) => !!find(e, 'Hook', /ok after/), `${n}: the hook outcome in the history`)));
  // Only one token at a time: exactly one of the two remedies waited, and its timeline says how long.
  const waited = xs.filter((x) => find(x, 'HookHeld'));
  t.is(waited.length, 1, JSON.stringify(xs.map((x) => x.timeline)));
  t.regex(find(waited[0]!, 'HookHeld')!.detail, /^remedy for NodeFailed: waiting \d+\.\d s for a rate-limit token \(watcher\.rateLimit\)$/);
  const held = waited[0]!.timeline.findIndex((e) => e.what === 'HookHeld');
  const ran = waited[0]!.timeline.findIndex((e) => e.what === 'Hook');
  t.true(held < ran, 'held, then ran');
});

test('an unknown node exits 3; a bad name exits 2', (t) => {
  const r = beacon(['explain', 'node', 'nosuch', '--etcd', etcd.endpoints, '--prefix', '/t-explain-none']);
  t.is(r.code, 3);
  t.is(r.stdout, '');
  t.regex(r.stderr, /node "nosuch" not found/);
  t.is(beacon(['explain', 'node', 'bad/name', '--etcd', etcd.endpoints]).code, 2);
  t.is(beacon(['explain', 'nosuch', '--etcd', etcd.endpoints]).code, 2);
  t.is(beacon(['explain', 'node', 'n1', '-o', 'xml', '--etcd', etcd.endpoints]).code, 2);
});

test('explainNode on a node etcd holds nothing about is undefined (the status page answers 404)', async (t) => {
  t.is(await explainNode(store, new Keys('/t-explain-none'), 'n1'), undefined);
});
