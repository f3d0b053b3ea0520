// The CLI gaps of issue #15 against a real etcd, a real agent (node problems from a kernel log file, the
// local API for maintenance) and a real watcher: `events` and `describe node` show the watcher's events and
// the node's problem events together, each with its source; maintenance shows at node level and
// `beacon maint` alone lists it; `nodes NAME...` and `events NODE` filter; empty views say so on stderr;
// each check's own status and output (a `beacon check --note` too) shows in describe and services -o wide.
import test from 'ava';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode } from '../../src/cli/command.js';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beacon, spawnBeacon, writeConfig } from '../helpers/process.js';
import { agentYaml, shortTempDir } from '../agent/health-support.js';
import { watcherConfigFile } from '../watcher/support.js';

const PREFIX = '/t-cli-gaps';
const OOM = 'Out of memory: Killed process 4242 (java) total-vm:2097152kB, anon-rss:1048576kB, file-rss:0kB, shmem-rss:0kB';
const kern = (text: string) => `${new Date().toISOString()} n1 kernel: [ 4242.000001] ${text}\n`;

let etcd: EtcdCluster;
let agent: BeaconProcess;
let watcher: BeaconProcess;
let log: string;
let socket: string;

test.before(async () => {
  etcd = await EtcdCluster.start();
  const dir = shortTempDir();
  log = join(dir, 'kern.log');
  socket = join(dir, 'a.sock');
  writeFileSync(log, '');
  const cfg = agentYaml(etcd, PREFIX, 'n1', socket, [
    'services:',
    '  - name: web',
    '    port: 8080',
    '    checks:',
    '      - { ttl: 10m, id: backup, name: nightly backup }',
    `      - { tcp: 127.0.0.1:1, id: web-port, interval: 1s, timeout: 500ms }`,
    '  - { name: api, port: 9090 }',
    'problems:',
    `  kernel: { source: file, path: ${log} }`,
    '  pressure: { enabled: false }',
    '  events: { retention: 120s }',
  ]);
  agent = new BeaconProcess(['agent', '--config', writeConfig(cfg)]);
  await agent.waitLine((l) => l.msg === 'registered', 30_000);
  watcher = new BeaconProcess(['watcher', '--config', watcherConfigFile({ endpoints: etcd.endpoints, prefix: PREFIX, id: 'w1' })]);
  await waitFor(() => /NodeJoined/.test(etcd.etcdctl(['get', `${PREFIX}/v1/watcher/events/`, '--prefix', '--print-value-only'])), {
    timeoutMs: 30_000,
    what: 'the watcher writing NodeJoined for n1',
  });
  // The OOM kill comes after the join: it is the newer event.
  appendFileSync(log, kern(OOM));
  await waitFor(() => /OOMKilling/.test(etcd.etcdctl(['get', `${PREFIX}/v1/events/n1/`, '--prefix', '--print-value-only'])), {
    timeoutMs: 20_000,
    what: 'the agent writing the OOMKilling event',
  });
});

test.after.always(async () => {
  await Promise.all([agent?.stop('SIGKILL'), watcher?.stop('SIGKILL')]);
  await etcd?.destroy();
});

const at = (prefix = PREFIX) => ['--etcd', etcd.endpoints, '--prefix', prefix];
const rows = (stdout: string) => stdout.trimEnd().split('\n').map((l) => l.trim().split(/\s{2,}/));

test.serial('events: the watcher\'s and the node\'s events in one table, oldest first, with their SOURCE', (t) => {
  const r = beacon(['events', ...at()]);
  t.is(r.code, ExitCode.ok, r.stderr);
  t.is(r.stderr, '');
  const [header, ...body] = rows(r.stdout);
  t.deepEqual(header, ['TIME', 'SOURCE', 'EVENT', 'NODE', 'REASON']);
  const joined = body.findIndex((c) => c[1] === 'watcher' && c[2] === 'NodeJoined' && c[3] === 'n1');
  const oom = body.findIndex((c) => c[1] === 'node/kernel-monitor' && c[2] === 'OOMKilling' && c[3] === 'n1');
  t.true(joined >= 0 && oom >= 0, r.stdout);
  t.true(joined < oom, 'oldest first: the join, then the OOM kill');
  // The message is cut to a table cell, ending in an ellipsis.
  t.regex(body[oom]![4]!, /^Out of memory: Killed process 4242 \(java\).*…$/);

  const json = JSON.parse(beacon(['events', '-o', 'json', ...at()]).stdout) as Record<string, unknown>[];
  t.like(json.find((e) => e.reason === 'OOMKilling'), { origin: 'node', source: 'kernel-monitor', node: 'n1', message: OOM, count: 1 });
  t.like(json.find((e) => e.event === 'NodeJoined'), { origin: 'watcher', node: 'n1' });
});

test.serial('events NODE keeps that node\'s events; a node without any says so on stderr, exit 0', (t) => {
  const mine = JSON.parse(beacon(['events', 'n1', '-o', 'json', ...at()]).stdout) as Record<string, unknown>[];
  t.true(mine.length >= 2 && mine.every((e) => e.node === 'n1'));
  const none = beacon(['events', 'n2', ...at()]);
  t.is(none.code, ExitCode.ok);
  t.is(none.stdout, '');
  t.is(none.stderr, `no events about node "n2" found under ${PREFIX}\n`);
  const bad = beacon(['events', 'a/b', ...at()]);
  t.is(bad.code, ExitCode.usage);
  t.regex(bad.stderr, /invalid node name "a\/b"/);
  const extra = beacon(['events', 'n1', 'n2', ...at()]);
  t.is(extra.code, ExitCode.usage);
  t.regex(extra.stderr, /unexpected argument "n2"/);
});

test.serial('describe node: both kinds of event, newest first, with their source', (t) => {
  const r = beacon(['describe', 'node', 'n1', ...at()]);
  t.is(r.code, ExitCode.ok, r.stderr);
  const events = r.stdout.split('\nEvents:\n')[1]!;
  const lines = events.trimEnd().split('\n').map((l) => l.trim());
  t.regex(lines[0]!, /^TIME\s+SOURCE\s+EVENT/);
  t.regex(lines[1]!, /node\/kernel-monitor\s+OOMKilling\s+n1/, 'the newest, the OOM kill, first');
  t.true(lines.some((l) => /watcher\s+NodeJoined\s+n1/.test(l)));
  const json = JSON.parse(beacon(['describe', 'node', 'n1', '-o', 'json', ...at()]).stdout) as { events: Record<string, unknown>[] };
  t.like(json.events[0], { origin: 'node', reason: 'OOMKilling' });
  t.true(json.events.some((e) => e.origin === 'watcher' && e.event === 'NodeJoined'));
});

test.serial('events --follow prints a node problem event when it happens (and again when it recurs)', async (t) => {
  const f = spawnBeacon(['events', '--follow', '-o', 'json', ...at()]);
  t.teardown(() => f.proc.kill('SIGKILL'));
  const parsed = () => f.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  await waitFor(() => parsed().some((e) => e.reason === 'OOMKilling'), { timeoutMs: 15_000, what: 'the backlog' });
  appendFileSync(log, kern(OOM));
  // Coalesced into the same event with a higher count (or a new one): either way a new line.
  await waitFor(() => parsed().filter((e) => e.reason === 'OOMKilling').length >= 2, { timeoutMs: 20_000, what: 'the recurring OOM kill' });
  t.true(parsed().every((e) => e.origin === 'node' || e.origin === 'watcher'));
  f.proc.kill('SIGINT');
});

test.serial('maintenance: nodes and describe show it, `beacon maint` alone lists it from etcd', async (t) => {
  const none = beacon(['maint', ...at()]);
  t.is(none.code, ExitCode.ok, none.stderr);
  t.is(none.stdout, '');
  t.is(none.stderr, `nothing in maintenance under ${PREFIX}\n`);

  const on = beacon(['maint', 'enable', '--reason', 'kernel upgrade', '--socket', socket]);
  t.is(on.code, ExitCode.ok, on.stderr);
  t.is(beacon(['maint', 'enable', '--service', 'web', '--reason', 'draining', '--socket', socket]).code, ExitCode.ok);
  const nodeRow = await waitFor(
    () => {
      const r = rows(beacon(['nodes', ...at()]).stdout).find((c) => c[0] === 'n1');
      return r?.[1] === 'up,maintenance' && r[5] === 'api,web(maintenance)' ? r : undefined;
    },
    { timeoutMs: 15_000, what: 'n1 shown in maintenance' },
  );
  t.truthy(nodeRow);
  const wide = rows(beacon(['nodes', '-o', 'wide', ...at()]).stdout);
  t.is(wide[1]![wide[0]!.indexOf('MAINTENANCE')], 'node: kernel upgrade; web: draining');
  const json = JSON.parse(beacon(['nodes', '-o', 'json', ...at()]).stdout) as Record<string, unknown>[];
  t.like(json[0], { name: 'n1', maintenance: { reason: 'kernel upgrade', services: { web: 'draining' } } });
  t.regex(beacon(['describe', 'node', 'n1', ...at()]).stdout, /^Maintenance: +node: kernel upgrade; web: draining \(since \d{4}-/m);

  const list = beacon(['maint', ...at()]);
  t.is(list.code, ExitCode.ok, list.stderr);
  t.deepEqual(rows(list.stdout).map((c) => c.slice(0, 4)), [
    ['NODE', 'STATUS', 'SCOPE', 'REASON'],
    ['n1', 'up', 'node', 'kernel upgrade'],
    ['n1', 'up', 'service web', 'draining'],
  ]);
  const listJson = JSON.parse(beacon(['maint', '-o', 'json', ...at()]).stdout) as Record<string, unknown>[];
  t.like(listJson, [{ node: 'n1', service: null, reason: 'kernel upgrade' }, { node: 'n1', service: 'web', reason: 'draining' }]);

  // The flags of enable/disable without the action are refused, not taken for a listing.
  const half = beacon(['maint', '--reason', 'x', ...at()]);
  t.is(half.code, ExitCode.usage);
  t.regex(half.stderr, /expected enable or disable with --reason/);

  t.is(beacon(['maint', 'disable', '--socket', socket]).code, ExitCode.ok);
  t.is(beacon(['maint', 'disable', '--service', 'web', '--socket', socket]).code, ExitCode.ok);
  await waitFor(() => beacon(['maint', ...at()]).stderr === `nothing in maintenance under ${PREFIX}\n`, { timeoutMs: 15_000, what: 'maintenance over' });
  t.is(rows(beacon(['nodes', 'n1', ...at()]).stdout)[1]![1], 'up');
});

test.serial('each check\'s own status and output: describe node\'s Checks, services -o wide\'s CHECKS, the JSON', async (t) => {
  const note = 'last backup 02:00, 1.2 GiB\u001b[2J';
  const r = beacon(['check', 'pass', 'backup', '--note', note, '--socket', socket]);
  t.is(r.code, ExitCode.ok, r.stderr);
  const ep = await waitFor(
    () => {
      const j = JSON.parse(beacon(['services', 'web', '-o', 'json', ...at()]).stdout) as { checks?: Record<string, unknown>[] }[];
      return j[0]?.checks?.find((c) => c.id === 'backup' && c.status === 'passing') ? j[0] : undefined;
    },
    { timeoutMs: 15_000, what: 'the backup check passing in the endpoint record' },
  );
  t.like(ep.checks![0], { id: 'backup', name: 'nightly backup', status: 'passing', output: note });
  t.like(ep.checks![1], { id: 'web-port', status: 'critical' });
  t.like(ep, { health: 'critical' }, 'the worst check decides the endpoint');

  const wide = rows(beacon(['services', 'web', '-o', 'wide', ...at()]).stdout);
  t.is(wide[1]![wide[0]!.indexOf('CHECKS')], 'backup=passing,web-port=critical');
  const out = wide[1]![wide[0]!.indexOf('OUTPUT')]!;
  t.regex(out, /^tcp 127\.0\.0\.1:1: /, 'the deciding check\'s output');

  const d = beacon(['describe', 'node', 'n1', ...at()]).stdout;
  const checks = d.split('\nChecks:\n')[1]!.split('\nEvents:\n')[0]!.trimEnd().split('\n').map((l) => l.trim().split(/\s{2,}/));
  t.deepEqual(checks[0], ['SERVICE', 'CHECK', 'STATUS', 'SINCE', 'OUTPUT']);
  const backup = checks.find((c) => c[1] === 'backup')!;
  t.deepEqual([backup[0], backup[2], backup[4]], ['web', 'passing', 'last backup 02:00, 1.2 GiB\\x1b[2J'], 'the note, escaped');
  t.is(checks.find((c) => c[1] === 'web-port')![2], 'critical');
  t.false(d.includes('\u001b'), 'no raw escape reaches the terminal');
});

test.serial('nodes NAME...: the named nodes; a missing one is named on stderr, exit 3', (t) => {
  const one = beacon(['nodes', 'n1', '-o', 'json', ...at()]);
  t.is(one.code, ExitCode.ok, one.stderr);
  t.deepEqual((JSON.parse(one.stdout) as { name: string }[]).map((n) => n.name), ['n1']);
  const some = beacon(['nodes', 'n1', 'ghost', ...at()]);
  t.is(some.code, ExitCode.notFound);
  t.deepEqual(rows(some.stdout).map((c) => c[0]), ['NAME', 'n1']);
  t.is(some.stderr, `beacon nodes: node "ghost" not found under ${PREFIX}\n`);
  const gone = beacon(['nodes', 'ghost', ...at()]);
  t.is(gone.code, ExitCode.notFound);
  t.is(gone.stdout, '', 'no bare header');
  t.is(beacon(['nodes', '../x', ...at()]).code, ExitCode.usage);
});

test.serial('an empty view (a wrong --prefix) says what was not found on stderr, exit 0; JSON stays an empty list', (t) => {
  for (const [args, what] of [
    [['nodes'], 'no nodes found under /wrong'],
    [['services'], 'no services found under /wrong'],
    [['services', 'web'], 'no endpoints of service "web" found under /wrong'],
    [['events'], 'no events found under /wrong'],
  ] as const) {
    const r = beacon([...args, ...at('/wrong')]);
    t.is(r.code, ExitCode.ok, `${args.join(' ')}: ${r.stderr}`);
    t.is(r.stdout, '', `${args.join(' ')}: no bare header`);
    t.is(r.stderr, `${what}\n`);
    const j = beacon([...args, '-o', 'json', ...at('/wrong')]);
    t.is(j.stdout, '[]\n');
    t.is(j.stderr, '');
  }
  const ep = beacon(['endpoints', 'web', ...at('/wrong')]);
  t.is(ep.code, ExitCode.notFound);
  t.is(ep.stderr, 'beacon endpoints: service "web" not found under /wrong\n');
});
