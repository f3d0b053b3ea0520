// --no-passwords with client-certificate auth: etcd maps the certificate's CN to the user, so node a's
// agent, holding a certificate with CN=beacon-node-a and no user name, works under its role and no further.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EtcdCluster } from '../helpers/etcd.js';
import { beacon, BeaconProcess, writeConfig } from '../helpers/process.js';
import { makeCerts, type TestCerts } from '../security/certs.js';

const PREFIX = '/t-rbac-mtls';
let certs: TestCerts;
let etcd: EtcdCluster;

/** A client pair signed by the test CA with common name `cn`. */
function clientPair(cn: string): { cert: string; key: string } {
  const key = join(certs.dir, `${cn}.key`);
  const cert = join(certs.dir, `${cn}.crt`);
  const ext = join(certs.dir, 'client.ext');
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: certs.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`, '-keyout', key, '-out', `${cn}.csr`]);
  run(['x509', '-req', '-in', `${cn}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', cert]);
  chmodSync(key, 0o600);
  return { cert, key };
}

test.before(async () => {
  certs = makeCerts();
  const root = clientPair('root');
  etcd = await EtcdCluster.start(1, [], {
    caFile: certs.caFile,
    certFile: certs.serverCert,
    keyFile: certs.serverKey,
    clientCertFile: root.cert,
    clientKeyFile: root.key,
    clientCertAuth: true,
  });
});
test.after.always(async () => {
  await etcd?.destroy();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

test('users without passwords, reached by certificate CN: the agent works, and only on its own keys', async (t) => {
  const rootPw = join(certs.dir, 'root-password');
  writeFileSync(rootPw, 'Root-mtls-pw-5150\n', { mode: 0o600 });
  const root = { ETCDCTL_CACERT: certs.caFile, ETCDCTL_CERT: join(certs.dir, 'root.crt'), ETCDCTL_KEY: join(certs.dir, 'root.key') };
  const apply = beacon(
    ['rbac', '--node', 'a:web', '--node', 'b:web', '--prefix', PREFIX, '--no-passwords', '--apply', '--enable-auth', '--root-password-file', rootPw, '--etcd', etcd.endpoints],
    root,
  );
  t.is(apply.code, 0, apply.stderr);
  t.regex(apply.stdout, /^enable-auth root$/m);
  // The harness's etcdctl is root by its certificate; a second apply, by certificate too, has nothing to do.
  t.regex(etcd.etcdctl(['user', 'get', 'beacon-node-a']), /Roles: beacon-node-a/);
  const again = beacon(['rbac', '--node', 'a:web', '--node', 'b:web', '--prefix', PREFIX, '--no-passwords', '--apply', '--etcd', etcd.endpoints], root);
  t.is(again.stdout, 'nothing to change\n', again.stderr);

  const a = clientPair('beacon-node-a');
  const cfg = writeConfig(
    JSON.stringify({
      etcd: { endpoints: [etcd.endpoints], caFile: certs.caFile, certFile: a.cert, keyFile: a.key },
      prefix: PREFIX,
      node: { name: 'a', ttl: '3s' },
      services: [{ name: 'web', port: 8080 }],
    }),
    'a.json',
  );
  const agent = new BeaconProcess(['agent', '--config', cfg]);
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  t.regex(etcd.etcdctl(['get', `${PREFIX}/v1/services/web/a`, '--print-value-only']), /"node":"a"/);

  const asA = ['--cert', a.cert, '--key', a.key];
  t.throws(() => etcd.etcdctl([...asA, 'put', `${PREFIX}/v1/nodes/b/live`, '{}']), { message: /permission denied/ });
  t.throws(() => etcd.etcdctl([...asA, 'put', `${PREFIX}/v1/services/web/b`, '{}']), { message: /permission denied/ });
  etcd.etcdctl([...asA, 'get', `${PREFIX}/v1/nodes/a/live`]);
  // A certificate whose CN is no user gets nothing.
  const stranger = clientPair('stranger');
  t.throws(() => etcd.etcdctl(['--cert', stranger.cert, '--key', stranger.key, 'get', `${PREFIX}/v1/nodes/a/live`]));
});
