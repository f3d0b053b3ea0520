// docs/cli.md cannot drift: every subcommand, flag, exit code and environment variable the code
// knows is described there, and the documented JSON shapes are what `beacon nodes -o json` and
// `beacon services NAME -o json` print against a real etcd with a real agent.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EtcdCluster, freePort } from '../helpers/etcd.js';
import { BeaconProcess, REPO_ROOT, beacon, writeConfig } from '../helpers/process.js';
import { COMMON_OPTIONS, ExitCode } from '../../src/cli/command.js';
import { commands } from '../../src/cli/commands/index.js';
import { checkRecord, code, codeBlocks, readDoc, tables, typeProblem, fieldTypes, type Table } from './markdown.js';

const doc = readDoc('docs/cli.md');
const headings = doc.split('\n').filter((l) => /^#{1,6} /.test(l));

let etcd: EtcdCluster;
let agent: BeaconProcess;

test.before(async () => {
  etcd = await EtcdCluster.start();
  const cfg = [
    'etcd:',
    `  endpoints: [${etcd.endpoints}]`,
    'prefix: /beacon',
    'node:',
    '  name: node1',
    '  ttl: 10s',
    '  labels: { zone: a }',
    'services:',
    '  - name: web',
    '    port: 8080',
    '    tags: [http]',
    '    meta: { version: "1.4.2" }',
    '  - name: api',
    '    port: 9090',
    '',
  ].join('\n');
  agent = new BeaconProcess(['agent', '--config', writeConfig(cfg)]);
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
});

test.after.always(async () => {
  await agent?.stop('SIGKILL');
  await etcd?.destroy();
});

// The text of the section whose heading contains `\`title\``, up to the next heading.
function section(title: string): string {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => /^#{1,6} /.test(l) && l.includes(`\`${title}\``));
  if (start < 0) return '';
  const end = lines.findIndex((l, i) => i > start && /^#{1,6} /.test(l));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

function jsonTable(headingPart: string): Table {
  const t = tables(doc).find((x) => x.headers[0] === 'Field' && x.heading.includes(headingPart));
  if (!t) throw new Error(`docs/cli.md has no field table under a heading with ${headingPart}`);
  return t;
}

test('every subcommand in `beacon --help` and in the command registry has a section', (t) => {
  const help = beacon(['--help']);
  t.is(help.code, ExitCode.ok);
  const listed = help.stdout
    .split('Commands:\n')[1]!
    .split('\n\n')[0]!
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0]!)
    .filter(Boolean);
  t.deepEqual([...listed].sort(), Object.keys(commands).sort(), '--help lists the registry');
  for (const name of new Set([...listed, ...Object.keys(commands)])) {
    t.true(
      headings.some((h) => h.includes(`\`beacon ${name}\``)),
      `docs/cli.md has a "### \`beacon ${name}\`" section`,
    );
  }
});

test('every flag of every subcommand is described', (t) => {
  const flags = (opts: Record<string, { type: string; short?: string }>) =>
    Object.entries(opts).flatMap(([long, o]) => [`--${long}`, ...(o.short ? [`-${o.short}`] : [])]);
  for (const flag of flags(COMMON_OPTIONS)) {
    t.true(doc.includes(`\`${flag}`), `docs/cli.md describes the common option ${flag}`);
  }
  for (const cmd of Object.values(commands)) {
    const own = section(`beacon ${cmd.name}`);
    for (const flag of flags(cmd.options)) {
      t.true(new RegExp(`${flag}\\b`).test(own), `the \`beacon ${cmd.name}\` section of docs/cli.md describes ${flag}`);
    }
  }
});

test('the exit code table is ExitCode, and the codes are what commands return', async (t) => {
  const table = tables(doc).find((x) => x.headers[0] === 'Code');
  if (!table) return t.fail('docs/cli.md has no exit code table');
  const documented = table.rows.map((r) => [code(r[1]!), Number(r[0])] as const);
  t.deepEqual(Object.fromEntries(documented), { ...ExitCode });
  t.is(beacon(['no-such-command']).code, ExitCode.usage);
  t.is(beacon(['services', 'bad/name', '--etcd', etcd.endpoints]).code, ExitCode.usage);
  t.is(beacon(['nodes', '--etcd', `http://127.0.0.1:${await freePort()}`]).code, ExitCode.etcdUnavailable);
});

test('every environment variable the config loader reads is in the table, and only those', (t) => {
  const dir = join(REPO_ROOT, 'src/config');
  const read = new Set(
    readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...readFileSync(join(dir, f), 'utf8').matchAll(/\b(?:BEACON|ETCDCTL)_[A-Z0-9_]+\b/g)].map((m) => m[0])),
  );
  const table = tables(doc).find((x) => x.headers[0] === 'Variable');
  if (!table) return t.fail('docs/cli.md has no environment variable table');
  const documented = new Set(table.rows.map((r) => code(r[0]!)));
  t.true(read.size >= 9, 'found the variables in src/config');
  for (const v of read) t.true(documented.has(v), `docs/cli.md documents $${v}`);
  for (const v of documented) t.true(read.has(v), `$${v} in docs/cli.md is read by src/config`);
});

test('the JSON tables are well-formed and the examples match them', (t) => {
  for (const part of ['nodes -o json', 'services NAME -o json']) {
    const table = jsonTable(part);
    for (const [field, type] of fieldTypes(table)) t.is(typeProblem(type), undefined, `${part}: type of ${field}`);
    const example = codeBlocks(doc, 'json').find((b) => b.heading.includes(part));
    if (!example) {
      t.fail(`no JSON example under ${part}`);
      continue;
    }
    for (const obj of JSON.parse(example.body) as Record<string, unknown>[]) {
      checkRecord(t, 'docs/cli.md', `example at docs/cli.md:${example.line}`, obj, table, true);
    }
  }
});

test('`beacon nodes -o json` prints the documented shape', (t) => {
  const r = beacon(['nodes', '-o', 'json', '--etcd', etcd.endpoints]);
  t.is(r.code, ExitCode.ok, r.stderr);
  const nodes = JSON.parse(r.stdout) as Record<string, unknown>[];
  t.is(nodes.length, 1);
  const node = nodes[0]!;
  for (const f of ['name', 'status', 'address', 'bootId', 'labels', 'services']) t.true(f in node, `field ${f}`);
  t.is(node.name, 'node1');
  t.is(node.status, 'up');
  t.deepEqual(node.services, ['api', 'web']);
  t.deepEqual(node.labels, { zone: 'a' });
  checkRecord(t, 'docs/cli.md', 'beacon nodes -o json', node, jsonTable('nodes -o json'), true);
});

test('`beacon services web -o json` prints the documented shape', (t) => {
  const r = beacon(['services', 'web', '-o', 'json', '--etcd', etcd.endpoints]);
  t.is(r.code, ExitCode.ok, r.stderr);
  const eps = JSON.parse(r.stdout) as Record<string, unknown>[];
  t.is(eps.length, 1, 'only web');
  const ep = eps[0]!;
  for (const f of ['service', 'node', 'address', 'port', 'health']) t.true(f in ep, `field ${f}`);
  t.like(ep, { service: 'web', node: 'node1', port: 8080, health: 'passing', tags: ['http'], meta: { version: '1.4.2' } });
  checkRecord(t, 'docs/cli.md', 'beacon services web -o json', ep, jsonTable('services NAME -o json'), true);
});
