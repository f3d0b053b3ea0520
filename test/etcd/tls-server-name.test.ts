// A TLS etcd reached by IP address: no `DeprecationWarning: Setting the TLS ServerName to an IP address`
// on stderr (src/etcd/client.ts drops the ServerName for an IP), and the certificate is still checked
// against that IP: a server on an address its certificate does not name is refused.
import test from 'ava';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:tls';
import { ExitCode } from '../../src/cli/command.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { beacon, spawnBeacon } from '../helpers/process.js';
import { makeCerts, type TestCerts } from '../security/certs.js';

let certs: TestCerts;
let etcd: EtcdCluster;

test.before(async () => {
  certs = makeCerts();
  // The server certificate names IP:127.0.0.1 only. A trusted CA makes etcd 3.4 ask for a client certificate.
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

const env = () => ({ ETCDCTL_CACERT: certs.caFile, ETCDCTL_CERT: certs.clientCert, ETCDCTL_KEY: certs.clientKey, NODE_OPTIONS: '' });

test('a CLI call over TLS to an IP prints no TLS ServerName warning', (t) => {
  t.true(etcd.endpoints.startsWith('https://127.0.0.1:'));
  for (const args of [['nodes', '-o', 'json'], ['services'], ['events', '-o', 'json']]) {
    const r = beacon([...args, '--etcd', etcd.endpoints, '--prefix', '/t-tls-sni'], env());
    t.is(r.code, ExitCode.ok, r.stderr);
    t.notRegex(r.stderr, /Warning|ServerName|DEP0123/, `${args[0]}: ${r.stderr}`);
  }
});

test('the certificate is still checked against the IP: an address it does not name is refused (exit 4)', async (t) => {
  // etcd's certificate served on 127.0.0.2, which it does not name (a TLS server is all the handshake needs).
  const server = createServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey), ALPNProtocols: ['h2'] }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.2', () => r()));
  t.teardown(() => server.close());
  const { port } = server.address() as { port: number };
  // Not spawnSync: the server runs in this process and must answer while the CLI runs.
  const io = spawnBeacon(['nodes', '--etcd', `https://127.0.0.2:${port}`, '--prefix', '/t-tls-sni'], env());
  const code = await new Promise<number | null>((resolve) => io.proc.once('close', (c) => resolve(c)));
  const r = { code, stderr: io.stderr };
  t.is(r.code, ExitCode.etcdUnavailable, r.stderr);
  t.regex(r.stderr, /^etcd unavailable: .*ERR_TLS_CERT_ALTNAME_INVALID.*IP: 127\.0\.0\.2 is not in the cert's list/);
  t.notRegex(r.stderr, /ServerName|DeprecationWarning/);
});
