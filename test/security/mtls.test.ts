// Mutual TLS end to end: a real etcd with --client-cert-auth, certificates made by docs/security.md's
// commands, and the agent, `beacon nodes` and `beacon watcher` talking to it; a client without a
// certificate is refused.
import test from 'ava';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EtcdCluster } from '../helpers/etcd.js';
import { beacon, BeaconProcess, writeConfig } from '../helpers/process.js';
import { makeCerts, type TestCerts } from './certs.js';

let etcd: EtcdCluster;
let certs: TestCerts;
test.before(async () => {
  certs = makeCerts();
  etcd = await EtcdCluster.start(1, [], {
    caFile: certs.caFile,
    certFile: certs.serverCert,
    keyFile: certs.serverKey,
    clientCertFile: certs.clientCert,
    clientKeyFile: certs.clientKey,
    clientCertAuth: true,
  });
});
test.after.always(async () => {
  await etcd?.destroy();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

const PREFIX = '/t-mtls';

function etcdSection(): Record<string, unknown> {
  return { endpoints: [etcd.endpoints], caFile: certs.caFile, certFile: certs.clientCert, keyFile: certs.clientKey };
}

test.serial('the harness etcd speaks https and demands a client certificate', (t) => {
  t.true(etcd.endpoints.startsWith('https://127.0.0.1:'));
  etcd.etcdctl(['put', `${PREFIX}-probe`, 'x']);
  t.is(etcd.etcdctl(['get', `${PREFIX}-probe`, '--print-value-only']).trim(), 'x');
  // etcdctl without the client pair is turned away by etcd itself.
  t.throws(() => etcd.etcdctl(['--cert=', '--key=', '--command-timeout=2s', 'get', `${PREFIX}-probe`]));
});

test.serial('agent registers, nodes lists it, watcher leads: all over mTLS', async (t) => {
  const agentCfg = writeConfig(JSON.stringify({ etcd: etcdSection(), prefix: PREFIX, node: { name: 'tls1', ttl: '3s' } }), 'agent.json');
  const agent = new BeaconProcess(['agent', '--config', agentCfg]);
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  t.regex(etcd.etcdctl(['get', `${PREFIX}/v1/nodes/tls1/live`, '--print-value-only']), /"name":"tls1"/);

  // beacon nodes with --config: only etcd and prefix are read from the file.
  const viaConfig = beacon(['nodes', '--config', agentCfg, '-o', 'json']);
  t.is(viaConfig.code, 0, viaConfig.stderr);
  t.regex(viaConfig.stdout, /"tls1"/);

  // beacon nodes with etcdctl's own environment and no file.
  const viaEnv = beacon(['nodes', '--prefix', PREFIX, '-o', 'json'], {
    ETCDCTL_ENDPOINTS: etcd.endpoints,
    ETCDCTL_CACERT: certs.caFile,
    ETCDCTL_CERT: certs.clientCert,
    ETCDCTL_KEY: certs.clientKey,
  });
  t.is(viaEnv.code, 0, viaEnv.stderr);
  t.regex(viaEnv.stdout, /"tls1"/);

  const watcherCfg = writeConfig(
    JSON.stringify({ etcd: etcdSection(), prefix: PREFIX, watcher: { id: 'w-tls', electionTtl: '2s', probeInterval: '1s' }, hooks: [] }),
    'watcher.json',
  );
  const watcher = new BeaconProcess(['watcher', '--config', watcherCfg]);
  t.teardown(async () => {
    watcher.kill('SIGTERM');
    const timer = setTimeout(() => watcher.kill('SIGKILL'), 5_000);
    await watcher.exited;
    clearTimeout(timer);
  });
  await watcher.waitLine((l) => l.msg === 'leading: reconciling', 20_000);
  await watcher.waitLine((l) => l.msg === 'in sync', 20_000);
  // The watcher wrote its view of the node through the same mTLS connection.
  t.regex(etcd.etcdctl(['get', `${PREFIX}/v1/watcher/status/tls1`, '--print-value-only']), /tls1/);
});

test.serial('a client without a certificate is refused: exit 4, etcd unavailable', (t) => {
  const r = beacon(['nodes', '--prefix', PREFIX, '--etcd', etcd.endpoints], { ETCDCTL_CACERT: certs.caFile });
  t.is(r.code, 4, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  t.regex(r.stderr, /^etcd unavailable: /m);
  t.notRegex(r.stdout, /tls1/);
});

test.serial('a client that does not trust the server certificate is refused too', (t) => {
  // The system CA bundle does not know the test CA: the handshake fails on the client side.
  const r = beacon(['nodes', '--config', writeConfig(JSON.stringify({ etcd: { ...etcdSection(), caFile: '/etc/ssl/certs/ca-certificates.crt' }, prefix: PREFIX }), 'c.json')]);
  t.is(r.code, 4, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
});

test.serial('a broken or mismatched private key is a config error (exit 2) that does not quote the key', (t) => {
  const cfgPath = writeConfig(JSON.stringify({ etcd: { ...etcdSection(), keyFile: 'bad.key' }, prefix: PREFIX }), 'c.json');
  const keyPath = join(dirname(cfgPath), 'bad.key');
  const material = 'U0VDUkVUS0VZTUFURVJJQUw';
  writeFileSync(keyPath, `-----BEGIN PRIVATE KEY-----\n${material}\n-----END PRIVATE KEY-----\n`, { mode: 0o600 });
  const broken = beacon(['nodes', '--config', cfgPath]);
  t.is(broken.code, 2, broken.stderr);
  t.true(broken.stderr.includes(`etcd.keyFile: is not a usable PEM private key`), broken.stderr);
  t.false(`${broken.stdout}${broken.stderr}`.includes(material), broken.stderr);
  // The server's key is a real key that does not match the client certificate.
  writeFileSync(keyPath, readFileSync(certs.serverKey));
  chmodSync(keyPath, 0o600);
  const mismatched = beacon(['nodes', '--config', cfgPath]);
  t.is(mismatched.code, 2, mismatched.stderr);
  t.regex(mismatched.stderr, /etcd\.keyFile: is not a usable private key for etcd\.certFile \(key values mismatch\)/);
  const body = readFileSync(certs.serverKey, 'utf8').split('\n')[1]!;
  t.false(`${mismatched.stdout}${mismatched.stderr}`.includes(body), mismatched.stderr);
  // The agent stops the same way instead of crashing with a stack trace.
  const agent = beacon(['agent', '--config', writeConfig(JSON.stringify({ etcd: { ...etcdSection(), keyFile: keyPath }, node: { name: 'bad' } }), 'a.json')]);
  t.is(agent.code, 2, agent.stderr);
  t.regex(agent.stderr, /key values mismatch/);
  t.notRegex(agent.stderr, /\n\s+at /);
});
