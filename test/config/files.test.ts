// Config files on disk: the shipped examples, the bad-config fixtures, and file-level errors.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { chmod, cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, ConfigErrors } from '../../src/errors.js';
import { loadAgentConfig, readConfigFile } from '../../src/config/load.js';

// dist/test/config/ → repo root.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const examples = join(root, 'examples');
const bad = join(root, 'test/fixtures/config/bad');
// A git checkout leaves examples world-readable; agent-full.yaml holds a sample password.
function writeTemp(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'beacon-config-')), 'config.yaml');
  writeFileSync(path, text);
  return path;
}
const opts = { env: {}, hostname: 'host1', exposedSecrets: 'allow' as const };

// The minimal config exactly as issue 2 documents it: other people script against this.
const ISSUE_MINIMAL = `etcd:
  endpoints: [http://127.0.0.1:2379]
prefix: /beacon
node:
  name: node1
  ttl: 10s
services:
  - name: web
    port: 8080
`;

test('every shipped example loads', async (t) => {
  const files = (await readdir(examples)).filter((f) => /\.(ya?ml|json)$/.test(f));
  t.true(files.length >= 3, files.join());
  for (const f of files) {
    await t.notThrowsAsync(loadAgentConfig(join(examples, f), opts), f);
  }
});

test('examples/agent.yaml is the minimal config of the issue, and agent.json is its twin', async (t) => {
  t.is(await readFile(join(examples, 'agent.yaml'), 'utf8'), ISSUE_MINIMAL);
  const yaml = await loadAgentConfig(join(examples, 'agent.yaml'), opts);
  const json = await loadAgentConfig(join(examples, 'agent.json'), opts);
  t.deepEqual(json, yaml);
  t.like(yaml, {
    etcd: { endpoints: ['http://127.0.0.1:2379'] },
    prefix: '/beacon',
    node: { name: 'node1', ttl: 10 },
  });
  t.deepEqual(yaml.services, [{ name: 'web', port: 8080, protocol: 'tcp', tags: [], meta: {}, checks: [] }]);
});

test('agent-full.yaml sets every field (nothing left to defaults but what it shows)', async (t) => {
  const raw = (await readConfigFile(join(examples, 'agent-full.yaml'), opts)) as Record<string, Record<string, unknown>>;
  t.deepEqual(Object.keys(raw).sort(), ['api', 'dns', 'etcd', 'log', 'metrics', 'node', 'prefix', 'problems', 'services']);
  t.deepEqual(Object.keys(raw.etcd).sort(), ['dialTimeout', 'endpoints', 'requestTimeout']);
  // The TLS files and the credentials are shown commented out: validate reads the files, and a password
  // in a file every user can read is refused (a fresh clone is mode 0644).
  const text = await readFile(join(examples, 'agent-full.yaml'), 'utf8');
  for (const k of ['caFile', 'certFile', 'keyFile', 'username', 'password']) t.regex(text, new RegExp(`^  # ${k}: `, 'm'), k);
  t.regex(text, /^  # tokenFile: /m);
  t.deepEqual(Object.keys(raw.problems).sort(), ['enabled', 'events', 'kernel', 'pressure', 'stateFile']);
  t.deepEqual(Object.keys(raw.problems.kernel as object).sort(), ['enabled', 'format', 'rules', 'source']);
  t.deepEqual(Object.keys(raw.problems.pressure as object).sort(), [
    'diskIgnoreTypes', 'diskMounts', 'diskUsedPercent', 'enabled', 'interval', 'memoryAvailablePercent', 'pidUsedPercent', 'transitionPeriod',
  ]);
  t.deepEqual(Object.keys(raw.api).sort(), ['enabled', 'socket', 'socketMode']);
  t.deepEqual(Object.keys(raw.dns).sort(), ['domain', 'enabled', 'instance', 'prefix', 'ttl']);
  t.deepEqual(Object.keys(raw.node).sort(), ['address', 'keepaliveInterval', 'keepaliveTimeout', 'labels', 'name', 'ttl']);
  t.deepEqual(Object.keys(raw.node.address as object).sort(), ['address', 'cidr', 'envFiles', 'interface', 'order']);
  const services = raw.services as unknown as Record<string, unknown>[];
  t.deepEqual(Object.keys(services[0]).sort(), ['address', 'checks', 'meta', 'name', 'port', 'protocol', 'tags']);
  // The env-file list it shows is the real default.
  const full = await loadAgentConfig(join(examples, 'agent-full.yaml'), opts);
  const dflt = await loadAgentConfig(join(examples, 'agent.yaml'), opts);
  t.deepEqual(full.node.address.envFiles, dflt.node.address.envFiles);
  t.deepEqual(full.node.address.order, dflt.node.address.order);
  t.deepEqual(full.problems?.pressure?.thresholds.diskIgnoreTypes, (await loadAgentConfig(writeTemp('problems: {}\n'), opts)).problems?.pressure?.thresholds.diskIgnoreTypes);
});

// As a fresh clone leaves them: git keeps no mode but +x, so every file is 0644 under the usual umask.
test('every example passes `beacon validate` as a fresh clone leaves it (mode 0644, no host files, no etcdctl env)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'beacon-clone-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // The examples name repo files relative to themselves (../config/kernel-monitor.json): keep the layout.
  for (const sub of ['examples', 'config']) {
    await cp(join(root, sub), join(dir, sub), { recursive: true });
    for (const f of await readdir(join(dir, sub), { recursive: true, withFileTypes: true })) {
      if (f.isFile()) await chmod(join(f.parentPath ?? f.path, f.name), 0o644);
    }
  }
  const files = (await readdir(join(dir, 'examples'))).filter((f) => /\.(ya?ml|json)$/.test(f));
  t.true(files.length >= 3, files.join());
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(ETCDCTL_|BEACON_)/.test(k)));
  for (const f of files) {
    const r = spawnSync(process.execPath, [join(root, 'bin/beacon.js'), 'validate', join(dir, 'examples', f)], { encoding: 'utf8', env, timeout: 30_000 });
    t.is(r.status, 0, `${f}: ${r.stdout}${r.stderr}`);
    t.regex(r.stdout, /: ok \(node /, f);
  }
  // The probe can fail: a password in an open file is refused.
  const open = join(dir, 'examples', 'open.yaml');
  await writeFile(open, 'etcd: { username: u, password: secret-password }\nnode: { name: n1 }\n', { mode: 0o644 });
  await chmod(open, 0o644);
  const r = spawnSync(process.execPath, [join(root, 'bin/beacon.js'), 'validate', open], { encoding: 'utf8', env, timeout: 30_000 });
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /open to other users \(mode 0644\)/);
});

test('every bad fixture is refused with its field and value named', async (t) => {
  const expect = JSON.parse(await readFile(join(bad, 'expect.json'), 'utf8')) as Record<string, { field: string; shown: string }>;
  const files = (await readdir(bad)).filter((f) => f !== 'expect.json');
  t.deepEqual(files.sort(), Object.keys(expect).sort());
  for (const f of files) {
    const err = await t.throwsAsync(loadAgentConfig(join(bad, f), opts), { instanceOf: ConfigError }, f);
    const all = err instanceof ConfigErrors ? err.errors : [err!];
    const { field, shown } = expect[f];
    t.true(
      all.some((e) => e.field === field && e.message.startsWith(`${field}: `) && e.message.endsWith(`(got ${shown})`)),
      `${f}: ${err?.message}`,
    );
  }
});

test('file-level errors: missing file, bad YAML, bad JSON, several documents', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'beacon-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const write = async (name: string, text: string) => {
    await writeFile(join(dir, name), text);
    return join(dir, name);
  };
  const missing = join(dir, 'missing.yaml');
  await t.throwsAsync(loadAgentConfig(missing, opts), { instanceOf: ConfigError, message: `${missing}: cannot read the config file (ENOENT)` });
  const y = await write('a.yaml', 'node:\n  name: a\n  ttl: : 3\n');
  await t.throwsAsync(loadAgentConfig(y, opts), { instanceOf: ConfigError, message: `${y}:3:8: not valid YAML: Nested mappings are not allowed in compact mappings (got "ttl: : 3")` });
  const dup = await write('dup.yaml', 'node:\n  name: a\n  name: b\n');
  await t.throwsAsync(loadAgentConfig(dup, opts), { instanceOf: ConfigError, message: /dup\.yaml:3:3: not valid YAML: Map keys must be unique/ });
  const docs = await write('docs.yaml', 'node: {}\n---\nnode: {}\n');
  await t.throwsAsync(loadAgentConfig(docs, opts), { instanceOf: ConfigError, message: /docs\.yaml:2:1: not valid YAML: holds more than one document/ });
  const j = await write('a.json', '{\n  "node": {"name": "a",}\n}\n');
  await t.throwsAsync(loadAgentConfig(j, opts), { instanceOf: ConfigError, message: /a\.json:2:24: not valid JSON: Expected double-quoted property name in JSON \(got "\\"node\\": \{\\"name\\": \\"a\\",\}"\)$/ });
});

test('YAML 1.2 core schema: yes/no and on/off stay strings, so they are refused where a bool or number is meant', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'beacon-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const f = join(dir, 'c.yaml');
  await writeFile(f, 'node:\n  name: a\n  labels: { ssd: yes, rack: 0x1F }\n');
  await t.throwsAsync(loadAgentConfig(f, opts), { instanceOf: ConfigError, message: /node\.labels\.rack: must be a string \(got 31\)/ });
  await writeFile(f, 'node:\n  name: a\n  labels: { ssd: yes }\n');
  t.deepEqual((await loadAgentConfig(f, opts)).node.labels, { ssd: 'yes' });
});

test('loadAgentConfig resolves relative TLS paths next to the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'beacon-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const f = join(dir, 'c.yaml');
  await writeFile(f, 'etcd: { caFile: tls/ca.pem }\nnode: { name: a }\n');
  t.is((await loadAgentConfig(f, opts)).etcd.caFile, join(dir, 'tls/ca.pem'));
});

test('an alias bomb is refused, not expanded', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'beacon-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const f = join(dir, 'bomb.yaml');
  const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 8; i++) levels.push(`${'abcdefgh'[i]}: &${'abcdefgh'[i]} [${Array(9).fill(`*${'abcdefgh'[i - 1]}`).join(', ')}]`);
  await writeFile(f, `${levels.join('\n')}\n`);
  await t.throwsAsync(loadAgentConfig(f, opts), { instanceOf: ConfigError, message: /not usable YAML/ });
});
