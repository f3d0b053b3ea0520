// The consumer views of the CLI against a real etcd and a real agent: endpoints, describe node, events,
// watch; -o json/yaml parse; exit codes 3 (not found) and 4 (etcd unreachable).
import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { ExitCode } from '../../src/cli/command.js';
import { Keys } from '../../src/etcd/keys.js';
import { EtcdCluster, freePort } from '../helpers/etcd.js';
import { BeaconProcess, beacon } from '../helpers/process.js';
import { startAgent } from '../client/support.js';

let etcd: EtcdCluster;
let agent: BeaconProcess;
/** The lease events are written under (as the watcher's retention lease). */
let lease: string;
const keys = new Keys();
const running: BeaconProcess[] = [];

function event(id: string, type: string, node: string, time: string): string {
  return JSON.stringify({
    schema: 1, id, event: type, node, time, reason: 'Registered', detectedBy: 'watch', lease: '', bootId: '', address: '', previous: 'unknown', hooks: {},
  });
}

test.before(async () => {
  etcd = await EtcdCluster.start();
  agent = await startAgent(etcd.endpoints, 'node1', { web: [], api: [] });
  // Under a lease, as the watcher writes them (its retention lease): readers skip events without one.
  lease = /lease ([0-9a-f]+) granted/.exec(etcd.etcdctl(['lease', 'grant', '600']))![1]!;
  etcd.etcdctl(['put', `--lease=${lease}`, keys.watcherEvent('node1.x.NodeJoined'), event('node1.x.NodeJoined', 'NodeJoined', 'node1', '2024-05-01T10:00:00.000Z')]);
  etcd.etcdctl(['put', `--lease=${lease}`, keys.watcherEvent('other.x.NodeFailed'), event('other.x.NodeFailed', 'NodeFailed', 'other', '2024-05-01T10:00:01.000Z')]);
  const conditions = { schema: 1, node: 'node1', bootId: 'b', watermark: null, conditions: [
    { type: 'KernelDeadlock', status: 'False', reason: 'KernelHasNoDeadlock', message: 'kernel has no deadlock', lastTransitionTime: '2024-05-01T10:00:00.000Z' },
  ] };
  etcd.etcdctl(['put', keys.conditions('node1'), JSON.stringify(conditions)]);
});

test.after.always(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
  await agent?.stop('SIGKILL');
  await etcd?.destroy();
});

const at = () => ['--etcd', etcd.endpoints];

test('endpoints NAME: json and yaml carry the same records; --passing; unknown service exits 3', (t) => {
  const json = beacon(['endpoints', 'web', '-o', 'json', ...at()]);
  t.is(json.code, ExitCode.ok, json.stderr);
  const eps = JSON.parse(json.stdout) as Record<string, unknown>[];
  t.like(eps, [{ id: 'node1/web', service: 'web', node: 'node1', health: 'passing' }]);
  const yaml = beacon(['endpoints', 'web', '-o', 'yaml', ...at()]);
  t.deepEqual(parseYaml(yaml.stdout), eps);
  t.deepEqual(JSON.parse(beacon(['endpoints', 'web', '--passing', '-o', 'json', ...at()]).stdout), eps);
  const table = beacon(['endpoints', 'web', '-o', 'wide', ...at()]);
  t.regex(table.stdout, /^SERVICE\s+NODE\s+ADDRESS\s+HEALTH\s+TAGS\s+SINCE/);
  t.notRegex(table.stdout, /\x1b\[/, 'no colour on a pipe');
  const missing = beacon(['endpoints', 'nosuch', ...at()]);
  t.is(missing.code, ExitCode.notFound);
  t.regex(missing.stderr, /not found/);
});

test('etcd unreachable exits 4, for every view', async (t) => {
  const dead = ['--etcd', `http://127.0.0.1:${await freePort()}`];
  for (const args of [['endpoints', 'web'], ['describe', 'node', 'node1'], ['events'], ['watch']]) {
    t.is(beacon([...args, ...dead]).code, ExitCode.etcdUnavailable, args.join(' '));
  }
});

test('describe node shows facts, conditions, endpoints and its events only; unknown node exits 3', (t) => {
  const r = beacon(['describe', 'node', 'node1', ...at()]);
  t.is(r.code, ExitCode.ok, r.stderr);
  t.regex(r.stdout, /^Name:\s+node1$/m);
  t.regex(r.stdout, /^Status:\s+up$/m);
  t.regex(r.stdout, /KernelDeadlock\s+False\s+KernelHasNoDeadlock/);
  t.regex(r.stdout, /web\s+node1\s+127\.0\.0\.1:8000\s+passing/);
  t.regex(r.stdout, /NodeJoined\s+node1/);
  t.notRegex(r.stdout, /NodeFailed/, "another node's event is not shown");
  const y = parseYaml(beacon(['describe', 'node', 'node1', '-o', 'yaml', ...at()]).stdout) as Record<string, unknown>;
  t.like(y, { name: 'node1', status: 'up', services: ['api', 'web'] });
  t.deepEqual((y.endpoints as { id: string }[]).map((e) => e.id), ['node1/api', 'node1/web']);
  t.deepEqual((y.events as { id: string }[]).map((e) => e.id), ['node1.x.NodeJoined']);
  t.is((y.conditions as unknown[]).length, 1);
  t.is(beacon(['describe', 'node', 'nope', ...at()]).code, ExitCode.notFound);
  t.is(beacon(['describe', 'service', 'web', ...at()]).code, ExitCode.usage);
});

test('events lists the journal; --follow prints new events as JSON lines', async (t) => {
  const all = JSON.parse(beacon(['events', '-o', 'json', ...at()]).stdout) as { id: string }[];
  t.deepEqual(all.map((e) => e.id), ['node1.x.NodeJoined', 'other.x.NodeFailed']);
  const f = new BeaconProcess(['events', '--follow', '-o', 'json', ...at()]);
  running.push(f);
  await f.waitLine((l) => l.id === 'other.x.NodeFailed', 15_000);
  etcd.etcdctl(['put', `--lease=${lease}`, keys.watcherEvent('node1.y.NodeLeft'), event('node1.y.NodeLeft', 'NodeLeft', 'node1', '2024-05-01T10:00:02.000Z')]);
  const line = await f.waitLine((l) => l.id === 'node1.y.NodeLeft', 15_000);
  t.like(line, { event: 'NodeLeft', node: 'node1' });
  t.is(f.lines.filter((l) => l.id === 'node1.x.NodeJoined').length, 1, 'each event once');
});

test('watch prints each change under the prefix as one JSON line', async (t) => {
  const w = new BeaconProcess(['watch', '-o', 'json', ...at()]);
  running.push(w);
  // The watch is open once a change made now shows up; keep poking until then (start-up time varies under load).
  const key = keys.maintenance('node9');
  const marker = JSON.stringify({ schema: 1, node: 'node9', reason: 'test', services: {}, updatedAt: '2024-05-01T10:00:00.000Z' });
  const seen = await waitForLine(w, () => etcd.etcdctl(['put', key, marker]), (l) => l.key === key && l.type === 'put');
  t.like(seen, { kind: 'maintenance', name: 'node9', resync: false });
  etcd.etcdctl(['del', key]);
  const del = await w.waitLine((l) => l.key === key && l.type === 'delete', 15_000);
  t.like(del, { kind: 'maintenance', value: null });
});

async function waitForLine(p: BeaconProcess, poke: () => void, pred: (l: Record<string, unknown>) => boolean) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    poke();
    try {
      return await p.waitLine(pred, 1_000);
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}
