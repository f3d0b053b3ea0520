// docs/keys.md cannot drift: its etcdctl commands run against a real etcd with a real agent and
// print what the page promises; every key and field the agent writes is documented with its type;
// the graceful leave happens as the page describes it.
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { EtcdCluster, freePort, requireBinary, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beacon, writeConfig } from '../helpers/process.js';
import { DEFAULT_PREFIX, Keys, type ParsedKey } from '../../src/etcd/keys.js';
import { DecodeError } from '../../src/errors.js';
import { decodeKey, kindOfKey } from '../../src/registry/codec.js';
import {
  checkRecord as checkFields,
  code,
  codeBlocks,
  fieldTypes,
  keyPattern,
  readDoc,
  shellCommands,
  tables,
  typeProblem,
  type Table,
} from './markdown.js';

// The tools the documented commands use: a missing one is a failure, never a skip.
const TOOLS = ['etcdctl', 'jq', 'bash', 'grep'];

/** Every kind of key keys.ts knows; each must be documented in the Keys table. */
const ALL_KINDS: Exclude<ParsedKey['kind'], 'unknown'>[] = [
  'live',
  'identity',
  'conditions',
  'maintenance',
  'usage',
  'endpoint',
  'event',
  'status',
  'watcher-event',
  'reaction',
  'election',
  'history',
];

const PREFIX = DEFAULT_PREFIX;
const NODE = 'node1';
const doc = readDoc('docs/keys.md');

let etcd: EtcdCluster;
let agent: BeaconProcess;
let cfgPath: string;
let cachePort: number;
let revision = 0;

// The minimal config plus labels, tags, meta, a UDP service and a service whose check
// cannot pass (a port nobody listens on), so the "passing" filter has something to filter out.
function config(rev: number): string {
  return [
    'etcd:',
    `  endpoints: [${etcd.endpoints}]`,
    `prefix: ${PREFIX}`,
    'node:',
    `  name: ${NODE}`,
    '  ttl: 10s',
    `  labels: { zone: a, docs-rev: "${rev}" }`,
    'services:',
    '  - name: web',
    '    port: 8080',
    '    tags: [http]',
    `    meta: { rev: "${rev}" }`,
    '  - name: api',
    '    port: 9090',
    '    protocol: udp',
    '  - name: cache',
    `    port: ${cachePort}`,
    '    checks:',
    `      - tcp: 127.0.0.1:${cachePort}`,
    '        interval: 1s',
    '        timeout: 500ms',
    '',
  ].join('\n');
}

// A visible change to the node's live record and to web's endpoint (for watches to see).
function trigger(): void {
  revision++;
  writeFileSync(cfgPath, config(revision));
  agent.kill('SIGHUP');
}

function commandEnv(): NodeJS.ProcessEnv {
  return { ...process.env, ETCDCTL_ENDPOINTS: etcd.endpoints, ETCDCTL_API: '3' };
}

function get(key: string): Record<string, unknown> | undefined {
  const out = etcd.etcdctl(['get', key, '--print-value-only']).trim();
  return out ? (JSON.parse(out) as Record<string, unknown>) : undefined;
}

test.before(async () => {
  for (const tool of TOOLS) requireBinary(tool);
  etcd = await EtcdCluster.start();
  cachePort = await freePort();
  cfgPath = writeConfig(config(revision));
  agent = new BeaconProcess(['agent', '--config', cfgPath]);
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
});

test.after.always(async () => {
  await agent?.stop('SIGKILL');
  await etcd?.destroy();
});

/** Run one documented command to completion (bash, pipefail). */
function run(cmd: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { env: commandEnv(), encoding: 'utf8', timeout: 15_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Run a documented watch, trigger changes until it prints an event, then stop it. */
async function runWatch(cmd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawn('bash', ['-o', 'pipefail', '-c', cmd], { env: commandEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  try {
    // The watch may not be established at the first trigger: keep changing things until it reports.
    await waitFor(
      () => {
        if (/^PUT$/m.test(stdout)) return true;
        if (p.exitCode !== null) throw new Error(`watch exited early: ${stderr}`);
        trigger();
        return false;
      },
      { timeoutMs: 20_000, intervalMs: 700, what: `output of ${cmd}` },
    );
  } finally {
    if (p.exitCode === null) process.kill(-p.pid!, 'SIGTERM');
    await exited;
  }
  return { code: 0, stdout, stderr };
}

interface Rule {
  what: string;
  required: boolean;
  applies(cmd: string): boolean;
  check(t: ExecutionContext, out: string, cmd: string): void;
}

// Whether output shows an endpoint with this port (`"port":8080` in JSON or `address:8080`).
const hasPort = (out: string, port: number) => new RegExp(`"port":${port}\\b|:${port}\\b`).test(out);

const lease = () => String(get(`${PREFIX}/v1/nodes/${NODE}/live`)!.lease);

const rules: Rule[] = [
  {
    what: 'list nodes',
    required: true,
    applies: (c) => /^etcdctl get --prefix \/beacon\/v1\/nodes\/ /.test(c),
    check: (t, out) => t.regex(out, /node1/),
  },
  {
    what: 'registered nodes are live keys',
    required: false,
    applies: (c) => c.includes("grep '/live$'"),
    check: (t, out) => t.is(out.trim(), `${PREFIX}/v1/nodes/${NODE}/live`),
  },
  {
    what: 'known nodes are identity keys',
    required: false,
    applies: (c) => c.includes("grep '/identity$'"),
    check: (t, out) => t.is(out.trim(), `${PREFIX}/v1/nodes/${NODE}/identity`),
  },
  {
    what: 'name, state and address of registered nodes',
    required: false,
    applies: (c) => c.includes('@tsv'),
    check: (t, out) => t.regex(out, /^node1\tup\t\S+$/m),
  },
  {
    what: 'one node identity',
    required: false,
    applies: (c) => c.includes(`/nodes/${NODE}/identity --print-value-only`),
    check: (t, out) => {
      const rec = JSON.parse(out) as Record<string, unknown>;
      t.is(rec.name, NODE);
      t.is(rec.left, null);
    },
  },
  {
    what: "one service's endpoints",
    required: true,
    applies: (c) => /^etcdctl get --prefix \/beacon\/v1\/services\/web\//.test(c),
    check: (t, out) => {
      t.true(hasPort(out, 8080), 'shows web');
      t.false(hasPort(out, 9090) || hasPort(out, cachePort) || /"service":"(api|cache)"/.test(out), 'only web endpoints');
    },
  },
  {
    what: 'only passing endpoints',
    required: true,
    applies: (c) => c.includes('"passing"'),
    check: (t, out) => {
      t.true(hasPort(out, 8080), 'shows the passing web endpoint');
      t.false(hasPort(out, cachePort), 'the critical cache endpoint is filtered out');
      t.notRegex(out, /critical/);
    },
  },
  {
    what: 'watch',
    required: true,
    applies: (c) => c.startsWith('etcdctl watch'),
    check: (t, out, cmd) => {
      const watched = /--prefix (\S+)/.exec(cmd)?.[1] ?? '\u0000';
      t.regex(out, /^PUT$/m);
      t.true(out.split('\n').some((l) => l.startsWith(watched) && l.startsWith(`${PREFIX}/v1/`)), `a key under ${watched}`);
    },
  },
  {
    what: "a node's lease and remaining TTL",
    required: true,
    applies: (c) => c.includes('lease timetolive'),
    check: (t, out, cmd) => {
      t.regex(out, /^lease [0-9a-f]{16} granted with TTL\(10s\), remaining\(\d+s\)/);
      t.true(out.includes(lease()), 'the lease named in the live record');
      if (cmd.includes('--keys')) {
        for (const k of [`/nodes/${NODE}/live`, `/services/web/${NODE}`, `/services/api/${NODE}`]) t.true(out.includes(`${PREFIX}/v1${k}`), k);
        t.false(out.includes('/identity'), 'the identity record is not leased');
      }
    },
  },
  {
    what: 'lease list',
    required: false,
    applies: (c) => c === 'etcdctl lease list',
    check: (t, out) => t.true(out.includes(lease()), 'lists the node lease as hex'),
  },
  {
    what: 'per-node role',
    required: false,
    applies: (c) => c.startsWith('etcdctl role get'),
    check: (t, out) => {
      t.true(out.includes(`${PREFIX}/v1/nodes/${NODE}/`));
      t.true(out.includes(`${PREFIX}/v1/services/web/${NODE}`));
    },
  },
];

test.serial('every sh command in docs/keys.md runs against a real agent and prints what the page says', async (t) => {
  const commands = codeBlocks(doc, 'sh').flatMap((b) => shellCommands(b.body));
  t.true(commands.length >= 5, 'the page documents commands');
  const used = new Set<string>();
  for (const cmd of commands) {
    for (const m of cmd.matchAll(/(?:^|\s)(\/\S*)/g)) {
      t.true(m[1]!.startsWith(`${PREFIX}/`), `uses the documented default prefix: ${cmd}`);
    }
    const r = cmd.startsWith('etcdctl watch') ? await runWatch(cmd) : run(cmd);
    t.is(r.code, 0, `${cmd}\nexits 0 (stderr: ${r.stderr})`);
    t.not(r.stdout.trim(), '', `${cmd}\nprints something`);
    t.notRegex(r.stderr, /error/i, `${cmd}\nno error on stderr`);
    for (const rule of rules.filter((x) => x.applies(cmd))) {
      used.add(rule.what);
      rule.check(t, r.stdout, cmd);
    }
  }
  for (const rule of rules.filter((x) => x.required)) t.true(used.has(rule.what), `docs/keys.md shows a command to ${rule.what}`);
});

// A record under v1 carries schema 1 and matches its section's field table.
function checkRecord(t: ExecutionContext, where: string, rec: Record<string, unknown>, table: Table, complete: boolean): void {
  t.is(rec.schema, 1, `${where}: schema 1`);
  checkFields(t, 'docs/keys.md', where, rec, table, complete);
}

// Key pattern → its section's field table (sections are headed "... `<prefix>/v1/...`").
function recordTables(): Map<string, Table> {
  const out = new Map<string, Table>();
  for (const t of tables(doc)) {
    if (t.headers[0] !== 'Field') continue;
    const pattern = /`(<prefix>\/v1\/[^`]+)`/.exec(t.heading)?.[1];
    if (pattern) out.set(pattern, t);
  }
  return out;
}

function keyTablePatterns(): string[] {
  const keyTable = tables(doc).find((t) => t.headers[0] === 'Key');
  if (!keyTable) throw new Error('docs/keys.md has no Keys table');
  return keyTable.rows.map((r) => code(r[0]!));
}

test.serial('the Keys table matches keys.ts, and every record section has a well-formed field table', (t) => {
  const keys = new Keys(PREFIX);
  const patterns = keyTablePatterns();
  const kinds = patterns.map((p) => {
    const sample = p.replace('<prefix>', PREFIX).replace(/<([a-z]+)>/g, (_, n: string) => `${n}-1`);
    const kind = keys.parse(sample).kind;
    t.not(kind, 'unknown', `documented key ${p} is one keys.ts builds`);
    return kind;
  });
  t.deepEqual([...new Set(kinds)].sort(), [...ALL_KINDS].sort(), 'every key kind of keys.ts is documented');
  const sections = recordTables();
  for (const p of patterns.filter((p) => !p.includes('/watcher/'))) t.true(sections.has(p), `a field table for ${p}`);
  for (const [p, table] of sections) {
    const types = fieldTypes(table);
    t.is(types.get('schema'), '`1`', `${p}: documents schema 1`);
    for (const [field, type] of types) t.is(typeProblem(type), undefined, `${p}: type of ${field}`);
  }
});

test.serial('every key the agent wrote matches a documented pattern, every field is documented with its type', (t) => {
  const patterns = keyTablePatterns();
  const sections = recordTables();
  const written = etcd.etcdctl(['get', '--prefix', PREFIX, '--keys-only']).split('\n').filter(Boolean);
  const kinds = new Set(written.map((k) => new Keys(PREFIX).parse(k).kind));
  for (const k of ['live', 'identity', 'endpoint']) t.true(kinds.has(k as ParsedKey['kind']), `the agent wrote a ${k} key`);
  for (const key of written) {
    const pattern = patterns.find((p) => keyPattern(p, PREFIX).test(key));
    if (!pattern) {
      t.fail(`${key} matches no key pattern in docs/keys.md`);
      continue;
    }
    const table = sections.get(pattern);
    if (!table) {
      t.fail(`${key}: no field table for ${pattern}`);
      continue;
    }
    const rec = get(key)!;
    // The core records must match their tables exactly; others only need their fields documented.
    const complete = ['live', 'identity', 'endpoint'].includes(new Keys(PREFIX).parse(key).kind);
    checkRecord(t, key, rec, table, complete);
  }
});

test.serial('every record the agent wrote passes its published schema (the codec every reader uses)', (t) => {
  const k = new Keys(PREFIX);
  const written = etcd.etcdctl(['get', '--prefix', PREFIX, '--keys-only']).split('\n').filter(Boolean);
  let checked = 0;
  for (const key of written) {
    const kind = kindOfKey(k.parse(key));
    if (!kind) continue;
    const value = Buffer.from(etcd.etcdctl(['get', key, '--print-value-only']).replace(/\n$/, ''));
    const r = decodeKey(k, { key, value, createRevision: '1', modRevision: '1', version: '1', lease: '0000000000000001' });
    t.false(r instanceof DecodeError, `${key}: ${r instanceof DecodeError ? r.message : ''}`);
    checked++;
  }
  t.true(checked >= 4, `${checked} records checked`);
});

test.serial('the JSON examples in docs/keys.md match their field tables', (t) => {
  const sections = recordTables();
  const examples = codeBlocks(doc, 'json');
  t.true(examples.length >= 3);
  for (const ex of examples) {
    const pattern = /`(<prefix>\/v1\/[^`]+)`/.exec(ex.heading)?.[1];
    const table = pattern ? sections.get(pattern) : undefined;
    if (!table) {
      t.fail(`json example at docs/keys.md:${ex.line} is not under a record section`);
      continue;
    }
    checkRecord(t, `docs/keys.md:${ex.line}`, JSON.parse(ex.body) as Record<string, unknown>, table, true);
  }
});

test.serial('graceful leave: leaving state and identity.left written in one transaction, then the lease revoked', async (t) => {
  const before = get(`${PREFIX}/v1/nodes/${NODE}/live`)!;
  const watch = spawn('etcdctl', ['watch', '--prefix', `${PREFIX}/v1/nodes/${NODE}/`, '--prev-kv', '-w', 'json'], {
    env: commandEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  watch.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const watchExited = new Promise<void>((r) => watch.once('exit', () => r()));
  t.teardown(() => watch.kill('SIGKILL'));
  await waitFor(
    () => {
      if (out.includes('"Events"')) return true;
      trigger();
      return false;
    },
    { timeoutMs: 20_000, intervalMs: 700, what: 'the watch to see a change' },
  );
  agent.kill('SIGTERM');
  t.is(await agent.exited, 0, 'the agent exits 0 on SIGTERM');
  const liveKey = `${PREFIX}/v1/nodes/${NODE}/live`;
  const idKey = `${PREFIX}/v1/nodes/${NODE}/identity`;
  await waitFor(() => out.includes('"type":1'), { timeoutMs: 5_000, what: 'the DELETE of the live key' });
  watch.kill('SIGTERM');
  await watchExited;

  interface Ev { type: 'PUT' | 'DELETE'; key: string; rev: number; value?: Record<string, unknown>; prev?: Record<string, unknown> }
  const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  const events: Ev[] = out
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => (JSON.parse(line) as { Events: { type?: number; kv: { key: string; value?: string; mod_revision: number }; prev_kv?: { value: string } }[] }).Events)
    .map((e) => ({
      type: e.type === 1 ? 'DELETE' : 'PUT',
      key: b64(e.kv.key),
      rev: e.kv.mod_revision,
      ...(e.kv.value ? { value: JSON.parse(b64(e.kv.value)) } : {}),
      ...(e.prev_kv ? { prev: JSON.parse(b64(e.prev_kv.value)) } : {}),
    }));
  const leaving = events.find((e) => e.type === 'PUT' && e.key === liveKey && e.value?.state === 'leaving');
  const left = events.find((e) => e.type === 'PUT' && e.key === idKey && e.value?.left !== null);
  const deleted = events.find((e) => e.type === 'DELETE' && e.key === liveKey);
  t.truthy(leaving, 'live.state=leaving was written');
  t.truthy(left, 'identity.left was written');
  t.truthy(deleted, 'the live key was deleted');
  t.is(leaving!.rev, left!.rev, 'in one transaction');
  t.true(deleted!.rev > leaving!.rev, 'before the revoke');
  t.is(deleted!.prev?.state, 'leaving', 'the DELETE carries state=leaving in its previous value');
  t.deepEqual((left!.value!.left as Record<string, unknown>).lease, before.lease, 'left.lease is the revoked lease');

  // After the leave: only the identity remains, and it documents the leave field by field.
  const remaining = etcd.etcdctl(['get', '--prefix', PREFIX, '--keys-only']).split('\n').filter(Boolean);
  t.deepEqual(remaining, [idKey]);
  const identityTable = recordTables().get('<prefix>/v1/nodes/<node>/identity')!;
  checkRecord(t, idKey, get(idKey)!, identityTable, true);
  const nodes = JSON.parse(beacon(['nodes', '-o', 'json', '--etcd', etcd.endpoints]).stdout) as { name: string; status: string }[];
  t.deepEqual(nodes.map((n) => [n.name, n.status]), [[NODE, 'left']], 'readers see a graceful leave');
});
