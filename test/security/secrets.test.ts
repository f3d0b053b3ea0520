// Secrets stay secret: an agent with a wrong etcd password against an etcd with authentication on
// never prints the password; config errors never show it; files holding secrets must be private.
import test from 'ava';
import { chmodSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { beacon, BeaconProcess, writeConfig } from '../helpers/process.js';
import { loadAgentConfig, readConfigFile } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const ROOT_PASSWORD = 'Root-s3cret-pw-91';
const WRONG_PASSWORD = 'Wr0ng-s3cret-pw-27';

let etcd: EtcdCluster;
test.before(async () => {
  etcd = await EtcdCluster.start();
  etcd.etcdctl(['user', 'add', `root:${ROOT_PASSWORD}`]);
  etcd.etcdctl(['auth', 'enable']);
});
test.after.always(async () => {
  await etcd?.destroy();
});

/** A config file only its owner can read (the agent refuses anything else). */
function privateConfig(password: string, node: string): string {
  const path = writeConfig(
    JSON.stringify({ etcd: { endpoints: [etcd.endpoints], username: 'root', password }, prefix: '/t-secrets', node: { name: node, ttl: '3s' } }),
    'agent.json',
  );
  chmodSync(path, 0o600);
  return path;
}

function output(p: BeaconProcess): string {
  return `${p.lines.map((l) => JSON.stringify(l)).join('\n')}\n${p.stderr}`;
}

test('a wrong etcd password is reported without the password, at every log level', async (t) => {
  const agent = new BeaconProcess(['agent', '--config', privateConfig(WRONG_PASSWORD, 's1'), '--log-level', 'trace']);
  t.teardown(() => agent.stop('SIGKILL'));
  // Some error or warning about etcd must show up (or the agent exits): then the output is checked.
  await waitFor(() => agent.proc.exitCode !== null || agent.lines.some((l) => typeof l.level === 'number' && l.level >= 40), {
    timeoutMs: 20_000,
    what: `an etcd error from the agent (stderr: ${agent.stderr.slice(-300)})`,
  });
  const out = output(agent);
  t.false(out.includes(WRONG_PASSWORD), out.slice(0, 2000));
  t.false(out.includes(ROOT_PASSWORD));
  t.regex(out, /auth|password|permission|unauthenticated/i);
  t.log(out.split('\n').find((l) => /auth|password/i.test(l))?.slice(0, 300));
});

test('the right password works, and even trace logs never hold it', async (t) => {
  const agent = new BeaconProcess(['agent', '--config', privateConfig(ROOT_PASSWORD, 's2'), '--log-level', 'trace']);
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  t.regex(etcd.etcdctl(['--user', `root:${ROOT_PASSWORD}`, 'get', '/t-secrets/v1/nodes/s2/live', '--print-value-only']), /"s2"/);
  t.false(output(agent).includes(ROOT_PASSWORD));
});

test('config errors about the password never print it (file, CLI and $ETCDCTL_USER)', async (t) => {
  const bad = writeConfig(JSON.stringify({ etcd: { endpoints: [etcd.endpoints], password: WRONG_PASSWORD, pasword: WRONG_PASSWORD }, node: { name: 'x' } }), 'a.json');
  chmodSync(bad, 0o600);
  const v = beacon(['validate', bad]);
  t.is(v.code, 2, v.stderr);
  t.regex(v.stderr, /etcd\.password: needs etcd\.username too/);
  t.false(`${v.stdout}${v.stderr}`.includes(WRONG_PASSWORD), v.stderr);

  const n = beacon(['nodes', '--etcd', etcd.endpoints], { ETCDCTL_USER: `root:${WRONG_PASSWORD}` });
  t.not(n.code, 0);
  t.false(`${n.stdout}${n.stderr}`.includes(WRONG_PASSWORD), n.stderr);

  const err = await t.throwsAsync(loadAgentConfig(bad, { env: {} }), { instanceOf: ConfigError });
  t.false(err!.message.includes(WRONG_PASSWORD));
});

test('a world-readable file holding a password is refused, naming the file and its mode', async (t) => {
  const path = privateConfig(ROOT_PASSWORD, 's3');
  chmodSync(path, 0o644);
  const err = await t.throwsAsync(readConfigFile(path), { instanceOf: ConfigError });
  t.is(err!.message, `${path}: holds a secret (etcd.password) but is open to other users (mode 0644): run chmod o-rwx ${path}`);
  t.false(err!.message.includes(ROOT_PASSWORD));

  const r = beacon(['agent', '--config', path]);
  t.is(r.code, 2, r.stderr);
  t.true(r.stderr.includes(`${path}: holds a secret (etcd.password) but is open to other users (mode 0644)`), r.stderr);
  t.false(`${r.stdout}${r.stderr}`.includes(ROOT_PASSWORD));

  // Group-readable is allowed (a service group may share the file); "others" is not, not even execute.
  chmodSync(path, 0o640);
  await t.notThrowsAsync(readConfigFile(path));
  chmodSync(path, 0o601);
  await t.throwsAsync(readConfigFile(path), { message: /mode 0601/ });
  // The opt-out exists for tools that only inspect files (the shipped examples' test).
  await t.notThrowsAsync(readConfigFile(path, { exposedSecrets: 'allow' }));
});

test('a world-readable private key named by etcd.keyFile is refused; a file without secrets is not', async (t) => {
  const path = writeConfig(JSON.stringify({ etcd: { endpoints: [etcd.endpoints], certFile: 'c.pem', keyFile: 'k.pem' }, node: { name: 'k' } }), 'a.json');
  const key = join(dirname(path), 'k.pem');
  writeFileSync(key, 'not really a key\n');
  chmodSync(key, 0o644);
  const err = await t.throwsAsync(readConfigFile(path), { instanceOf: ConfigError });
  t.is(err!.message, `${key}: is the private key named by etcd.keyFile in ${path} but is open to other users (mode 0644): run chmod o-rwx ${key}`);
  chmodSync(key, 0o600);
  await t.notThrowsAsync(readConfigFile(path)); // the config itself holds no secret: 0644 is fine
  const plain = writeConfig(JSON.stringify({ etcd: { endpoints: [etcd.endpoints] }, node: { name: 'p' } }), 'p.json');
  await t.notThrowsAsync(readConfigFile(plain));
});
