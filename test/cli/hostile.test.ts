// Terminal escape injection (beacon issue #12): records whose free-text fields hold ESC/OSC sequences, C1
// CSI, CR, LF and a bidi override, written to a real etcd; every view in every output format, and the
// long-running ones (`events --follow`, `watch`) as real processes. Nothing a terminal acts on may reach
// stdout or stderr raw, and what was stored must stay visible (escaped in tables, the same data in JSON/YAML).
import test from 'ava';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { ExitCode } from '../../src/cli/command.js';
import { Keys } from '../../src/etcd/keys.js';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { beacon, spawnBeacon as run } from '../helpers/process.js';
import { assertNoRawControl } from '../helpers/terminal.js';
import { agentYaml, shortTempDir, startAgent } from '../agent/health-support.js';

/** The hostile text: clear screen, set the window title (OSC ... BEL), C1 CSI, CR, LF, right-to-left override. */
const H = 'X\x1b[2J\x1b]0;title\x07\x9b31m\r\n\u202eY';
/** How a table shows it: every code point a visible escape (written out by hand, not by the code under test). */
const SHOWN = 'X\\x1b[2J\\x1b]0;title\\x07\\x9b31m\\r\\n\\u202eY';
/**
 * What the schema lets through in one-line text (labels and meta values, tags, messages, facts): no C0 or
 * DEL, but C1 controls (CSI U+009B, OSC U+009D, ST U+009C), bidi overrides and zero-width characters.
 */
const L = 'X\x9b2J\x9d0;title\x9c\u202eY\u2066\u200b';
const SHOWN_L = 'X\\x9b2J\\x9d0;title\\x9c\\u202eY\\u2066\\u200b';

const keys = new Keys();
let etcd: EtcdCluster;
const FORMATS = ['table', 'wide', 'json', 'yaml'] as const;

const clean = assertNoRawControl;

const at = () => ['--etcd', etcd.endpoints];
const iso = '2024-05-01T10:00:00.000Z';
const LEASE = '694d7a4c1f2b3c01';

test.before(async () => {
  etcd = await EtcdCluster.start();
  const put = (key: string, value: unknown) => etcd.etcdctl(['put', key, typeof value === 'string' ? value : JSON.stringify(value)]);
  // Complete records, as an agent writes them, with the hostile text in every free-text field a view prints.
  put(keys.live('n1'), {
    schema: 1, name: 'n1', state: 'up', machineId: '3d1219c7c4c5404aaa1f6d2a48adfda4', bootId: '94c7a4a7-76dc-4a73-8a8b-580979eed464',
    address: '10.0.0.21', addressSource: 'config', addresses: ['10.0.0.21'], labels: { zone: L },
    facts: { os: L, osRelease: '12', kernel: '6.1.0', arch: 'x64', cpus: 2, memoryBytes: 4109434880 },
    agentVersion: L, pid: 42, startedAt: iso, registeredAt: iso, lease: LEASE, ttl: 10,
  });
  put(keys.identity('n1'), {
    schema: 1, name: 'n1', machineId: '3d1219c7c4c5404aaa1f6d2a48adfda4', bootId: '94c7a4a7-76dc-4a73-8a8b-580979eed464', lease: LEASE, registeredAt: iso, left: null,
  });
  put(keys.conditions('n1'), {
    schema: 1, node: 'n1', bootId: '94c7a4a7-76dc-4a73-8a8b-580979eed464', watermark: null,
    conditions: [{ type: 'KernelDeadlock', status: 'True', reason: 'DockerHung', message: L, lastTransitionTime: iso }],
  });
  put(keys.endpoint('web', 'n1'), {
    schema: 1, id: 'n1/web', service: 'web', node: 'n1', address: '10.0.0.21', port: 8080, protocol: 'tcp', tags: ['http', L],
    meta: { note: L }, health: 'critical', output: H, since: iso, lease: LEASE,
  });
  put(keys.status('n1'), { schema: 1, node: 'n1', state: 'up', since: iso, lastSeen: iso, reason: 'Registered', lease: LEASE, bootId: '94c7a4a7-76dc-4a73-8a8b-580979eed464', address: '10.0.0.21' });
  // The watcher writes its events under its retention lease (the codec shows no event without one).
  eventLease = /lease ([0-9a-f]+) granted/.exec(etcd.etcdctl(['lease', 'grant', '3600']))![1]!;
  etcd.etcdctl(['put', `--lease=${eventLease}`, keys.watcherEvent(`n1.${LEASE}.NodeJoined`), JSON.stringify(event(`n1.${LEASE}.NodeJoined`, '2024-05-01T10:00:01.000Z'))]);
  // Records the codec refuses (C0 in one-line text; a hostile key): skipped, and the warning on stderr
  // quotes the key, escaped.
  put(keys.live('n2'), { schema: 1, name: 'n2', state: 'up', bootId: 'b', address: '10.0.0.22', labels: { zone: H }, lease: LEASE });
  put(`${keys.watcherEvents}n3\x1b]0;owned\x07`, 'not json');
});

test.after.always(async () => {
  await etcd?.destroy();
});

let eventLease = '';

// A watcher event whose hook output (captured program output: any character) is the hostile text.
function event(id: string, time: string): Record<string, unknown> {
  return {
    schema: 1, id, event: 'NodeJoined', node: 'n1', time, reason: 'Registered', detectedBy: 'watch', lease: LEASE, bootId: '94c7a4a7-76dc-4a73-8a8b-580979eed464',
    address: '10.0.0.21', previous: 'unknown', hooks: { notify: { state: 'failed', attempts: 1, durationMs: 5, output: H, exitCode: 1 } },
  };
}

// Whether `data` holds the hostile text, unchanged, somewhere.
function holds(data: unknown): boolean {
  if (data === H || data === L) return true;
  if (Array.isArray(data)) return data.some(holds);
  if (typeof data === 'object' && data !== null) return Object.values(data).some(holds);
  return false;
}

// The views and the columns that show free text: table → in the default table, wide → only with -o wide.
const VIEWS: { args: string[]; table?: string; wide?: string }[] = [
  { args: ['nodes'], wide: SHOWN_L },
  { args: ['services'], table: SHOWN_L, wide: SHOWN_L },
  { args: ['services', 'web'], table: SHOWN_L, wide: SHOWN_L },
  { args: ['endpoints', 'web'], table: SHOWN_L, wide: SHOWN_L },
  { args: ['describe', 'node', 'n1'], table: SHOWN_L, wide: SHOWN_L },
  // Events hold no free text in their columns (names, PascalCase words, hook states); JSON carries the hook output.
  { args: ['events'] },
];

// Serial: spawnSync blocks the event loop, which would starve the long-running processes' tests below.
for (const view of VIEWS) {
  test.serial(`beacon ${view.args.join(' ')}, every format: nothing raw reaches the terminal, the text stays visible`, (t) => {
    let json: unknown;
    for (const format of FORMATS) {
      const r = beacon([...view.args, '-o', format, ...at()]);
      const what = `-o ${format}`;
      t.is(r.code, ExitCode.ok, `${what}: ${r.stderr}`);
      clean(t, `${what} stdout`, r.stdout);
      clean(t, `${what} stderr`, r.stderr);
      if (format === 'json') {
        json = JSON.parse(r.stdout);
        t.true(holds(json), `${what}: the JSON holds the stored text, unchanged`);
      } else if (format === 'yaml') {
        t.deepEqual(parseYaml(r.stdout), json, `${what}: the same data as -o json (the escapes change no value)`);
      } else {
        const shown = format === 'wide' ? view.wide : view.table;
        if (shown) t.true(r.stdout.includes(shown), `${what}: the escaped text is shown:\n${r.stdout}`);
      }
      if (view.args[0] === 'nodes') t.regex(r.stderr, /skipped \/beacon\/v1\/nodes\/n2\/live: /, `${what}: the refused record is reported`);
      if (view.args[0] === 'events') t.true(r.stderr.includes('skipped /beacon/v1/watcher/events/n3\\x1b]0;owned\\x07: '), `${what}: the hostile key is quoted escaped: ${r.stderr}`);
    }
  });
}

for (const format of FORMATS) {
  test.serial(`beacon events --follow -o ${format}: a hostile event written while following is printed escaped`, async (t) => {
    const f = run(['events', '--follow', '-o', format, ...at()]);
    t.teardown(() => f.proc.kill('SIGKILL'));
    // The journal's first event is printed once it has listed; then a new one is written and must show up.
    const id = `n1.${format}.NodeJoined`;
    await waitFor(() => f.stdout.includes('NodeJoined'), { timeoutMs: 20_000, what: `the listing (stderr: ${f.stderr})` });
    etcd.etcdctl(['put', `--lease=${eventLease}`, keys.watcherEvent(id), JSON.stringify({ ...event(id, '2024-05-01T10:00:05.000Z'), event: 'NodeLeft' })]);
    await waitFor(() => f.stdout.includes('NodeLeft'), { timeoutMs: 20_000, what: `the new event (stdout: ${f.stdout})` });
    // The line is complete once its newline is there.
    await waitFor(() => f.stdout.endsWith('\n'), { timeoutMs: 5_000, what: 'a whole line' });
    clean(t, 'stdout', f.stdout);
    clean(t, 'stderr', f.stderr);
    if (format === 'json') {
      const lines = f.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      t.true(lines.some((l) => l.event === 'NodeLeft' && holds(l.hooks)));
    } else if (format === 'yaml') {
      const docs = parseAllDocuments(f.stdout).map((d) => d.toJS() as Record<string, unknown>);
      t.true(docs.some((d) => d.event === 'NodeLeft' && holds(d.hooks)));
    } else {
      t.true(f.stdout.split('\n').some((l) => l.includes('NodeLeft') && l.includes(format === 'wide' ? 'notify=failed' : 'n1')), f.stdout);
    }
  });
}

for (const format of FORMATS) {
  test.serial(`beacon watch -o ${format}: a hostile key and value are printed escaped`, async (t) => {
    const w = run(['watch', '-o', format, ...at()]);
    t.teardown(() => w.proc.kill('SIGKILL'));
    // A key beacon does not know (its name shown as is) holding text that is not JSON (shown as the summary).
    const key = `${keys.root}junk/${format}\x1b]0;owned\x07\u202e`;
    const shownKey = `junk/${format}\\x1b]0;owned\\x07\\u202e`;
    // The watch is open once a change made now shows up; keep writing until then (start-up time varies under load).
    await waitFor(
      () => {
        etcd.etcdctl(['put', key, H]);
        return w.stdout.includes(format === 'table' || format === 'wide' ? shownKey : `junk/${format}`);
      },
      { timeoutMs: 30_000, intervalMs: 1_000, what: `the change line (stdout: ${JSON.stringify(w.stdout)}, stderr: ${w.stderr})` },
    );
    await waitFor(() => w.stdout.endsWith('\n'), { timeoutMs: 5_000, what: 'a whole line' });
    clean(t, 'stdout', w.stdout);
    clean(t, 'stderr', w.stderr);
    if (format === 'json') {
      const line = w.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.key === key);
      t.like(line, { kind: 'unknown', value: H });
    } else if (format === 'yaml') {
      const doc = parseAllDocuments(w.stdout).map((d) => d.toJS() as Record<string, unknown>).find((d) => d.key === key);
      t.like(doc, { kind: 'unknown', value: H });
    } else {
      // An unknown key's value is never summarised in a table (only validated records are); its name is shown escaped.
      t.true(w.stdout.split('\n').some((l) => l.includes(`unknown        ${shownKey}`)), w.stdout);
    }
  });
}

test.serial('beacon maint and beacon check: reasons and ids quoted back by the agent are escaped', async (t) => {
  const socket = join(shortTempDir(), 'agent.sock');
  const prefix = '/t-hostile-maint';
  const agent = startAgent(t, agentYaml(etcd, prefix, 'm1', socket, ['services:', '  - name: web', '    port: 9000']));
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  const m = beacon(['maint', 'enable', '--service', 'web', '--reason', H, '--socket', socket]);
  t.is(m.code, ExitCode.ok, m.stderr);
  clean(t, 'maint stdout', m.stdout);
  t.true(m.stdout.includes(`service web: ${SHOWN}`), m.stdout);
  // The endpoint's output now carries the reason: the wide table shows it escaped.
  const wide = await waitFor(
    () => {
      const r = beacon(['services', 'web', '-o', 'wide', '--prefix', prefix, ...at()]);
      return r.stdout.includes('maintenance') ? r : undefined;
    },
    { timeoutMs: 15_000, what: 'the endpoint in maintenance' },
  );
  clean(t, 'services -o wide', wide.stdout);
  const c = beacon(['check', 'pass', `id${H}`, '--socket', socket]);
  t.is(c.code, ExitCode.notFound, c.stderr);
  clean(t, 'check stderr', c.stderr);
  t.regex(c.stderr, /^beacon check: /);
});
