// Serial: each test runs the CLI with spawnSync, which blocks this worker; parallel tests would starve
// each other's etcd health waits on a loaded machine.
// `beacon doctor` names each misconfiguration, each made for real: a closed port, a hung etcd, a wrong CA,
// an expired certificate, a role without permission, a TTL below what a slow-electing etcd grants, and a
// node name held by another agent.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, freePort, requireBinary, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beacon, writeConfig } from '../helpers/process.js';
import { makeCerts, type TestCerts } from '../security/certs.js';

interface Finding {
  check: string;
  status: 'ok' | 'warning' | 'failed';
  detail: string;
  fix: string;
}

// No etcdctl or beacon settings from the environment running the tests.
const CLEAN: NodeJS.ProcessEnv = Object.fromEntries(['ETCDCTL_ENDPOINTS', 'ETCDCTL_USER', 'ETCDCTL_PASSWORD', 'ETCDCTL_CACERT', 'ETCDCTL_CERT', 'ETCDCTL_KEY', 'BEACON_ETCD_ENDPOINTS'].map((k) => [k, undefined]));

function config(endpoints: string, extra = '', ttl = '10s', name = 'node1'): string {
  return writeConfig(
    `etcd: { endpoints: "${endpoints}", requestTimeout: 1s, dialTimeout: 1s${extra} }\nprefix: /t-doctor\nnode: { name: ${name}, ttl: ${ttl} }\napi: { enabled: false }\n`,
  );
}

function doctor(cfg: string, env: NodeJS.ProcessEnv = {}): { code: number; findings: Finding[]; stderr: string } {
  const r = beacon(['doctor', '-c', cfg, '-o', 'json'], { ...CLEAN, ...env });
  let findings: Finding[] = [];
  try {
    findings = JSON.parse(r.stdout) as Finding[];
  } catch {
    throw new Error(`doctor printed no JSON (exit ${r.code}): ${r.stdout}${r.stderr}`);
  }
  return { code: r.code, findings, stderr: r.stderr };
}

const find = (fs: Finding[], check: RegExp) => fs.find((f) => check.test(f.check));

test.serial('a healthy etcd without auth: every etcd finding, exit 0, and the table form', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const cfg = config(etcd.endpoints);
  const r = doctor(cfg);
  t.is(r.code, 0, JSON.stringify(r.findings, null, 1));
  for (const f of r.findings) t.deepEqual(Object.keys(f), ['check', 'status', 'detail', 'fix']);
  t.like(find(r.findings, /^config$/), { status: 'ok' });
  // Debian's etcd 3.4.23 predates the lease revocation fix: a warning, not a failure.
  t.like(find(r.findings, /version$/), { status: 'warning' });
  t.regex(find(r.findings, /version$/)!.detail, /^etcd 3\.4\.23: before 3\.4\.28 \/ 3\.5\.11/);
  t.like(find(r.findings, /round trip$/), { status: 'ok' });
  t.like(find(r.findings, /clock$/), { status: 'ok' });
  t.like(find(r.findings, /^etcd user$/), { status: 'ok' });
  t.like(find(r.findings, /^permission: write own keys$/), { status: 'ok' });
  t.like(find(r.findings, /^permission: other nodes' keys$/), { status: 'warning' });
  t.regex(find(r.findings, /^ttl$/)!.detail, /etcd's minimum 2s/);
  t.regex(find(r.findings, /^address$/)!.detail, /\(from [a-z-]+\)/);
  t.like(find(r.findings, /^registration$/), { status: 'warning' });
  // The check that writes nothing wrote nothing.
  t.is(etcd.etcdctl(['get', '--prefix', '/t-doctor', '--keys-only']).trim(), '');
  const table = beacon(['doctor', '-c', cfg], CLEAN);
  t.is(table.code, 0);
  t.regex(table.stdout, /^\s+CHECK\s+DETAIL\s+FIX$/m);
  t.regex(table.stdout, /^✓\s+permission: write own keys/m);
  t.regex(table.stdout, /^!\s+permission: other nodes' keys/m);
});

test.serial('a closed port: connection refused, the etcd checks not run, exit 1', async (t) => {
  const port = await freePort();
  const r = doctor(config(`http://127.0.0.1:${port}`));
  t.is(r.code, 1);
  t.like(find(r.findings, /^etcd http/), { status: 'failed', detail: `http://127.0.0.1:${port}: connection refused` });
  t.regex(find(r.findings, /^etcd http/)!.fix, /etcd\.endpoints/);
  t.like(find(r.findings, /^permissions$/), { status: 'failed', detail: 'not checked: no etcd endpoint answers' });
});

test.serial('a hung etcd (SIGSTOP): no answer within the deadline', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  etcd.members[0]!.signal('SIGSTOP');
  t.teardown(() => etcd.members[0]!.signal('SIGCONT'));
  const r = doctor(config(etcd.endpoints));
  t.is(r.code, 1);
  t.like(find(r.findings, /^etcd http/), { status: 'failed' });
  t.regex(find(r.findings, /^etcd http/)!.detail, /no answer within \d+ ms/);
  t.regex(find(r.findings, /^etcd http/)!.fix, /hung/);
});

test.serial('TLS: the right CA passes with the server certificate\'s expiry; a wrong CA is a failed handshake', async (t) => {
  const certs = makeCerts();
  const other = makeCerts();
  const etcd = await EtcdCluster.start(1, [], mtls(certs));
  t.teardown(() => etcd.destroy());
  const good = doctor(config(etcd.endpoints, clientTls(certs.caFile, certs)));
  t.is(good.code, 0, JSON.stringify(good.findings, null, 1));
  t.like(find(good.findings, /TLS$/), { status: 'ok' });
  t.regex(find(good.findings, /server certificate$/)!.detail, /^valid until /);
  const bad = doctor(config(etcd.endpoints, clientTls(other.caFile, certs)));
  t.is(bad.code, 1);
  t.regex(find(bad.findings, /^etcd https/)!.detail, /TLS handshake failed/);
  t.regex(find(bad.findings, /^etcd https/)!.fix, /etcd\.caFile/);
});

test.serial('an expired server certificate (made with openssl) is named', async (t) => {
  requireBinary('openssl');
  const certs = makeCerts();
  // Re-sign the server's key with dates in the past: `openssl ca` takes explicit start and end dates.
  const d = certs.dir;
  writeFileSync(join(d, 'index.txt'), '');
  writeFileSync(join(d, 'serial'), '1000\n');
  writeFileSync(
    join(d, 'ca.cnf'),
    `[ca]\ndefault_ca = c\n[c]\ndatabase = ${d}/index.txt\nserial = ${d}/serial\nnew_certs_dir = ${d}\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\nunique_subject = no\n[p]\ncommonName = supplied\n[ext]\nsubjectAltName = IP:127.0.0.1\n`,
  );
  execFileSync('openssl', ['req', '-new', '-key', certs.serverKey, '-subj', '/CN=127.0.0.1', '-out', join(d, 'old.csr')], { stdio: 'pipe' });
  execFileSync(
    'openssl',
    ['ca', '-batch', '-config', join(d, 'ca.cnf'), '-extensions', 'ext', '-cert', certs.caFile, '-keyfile', join(d, 'ca.key'), '-in', join(d, 'old.csr'), '-out', join(d, 'old.crt'), '-startdate', '20200101000000Z', '-enddate', '20200102000000Z'],
    { stdio: 'pipe' },
  );
  const etcd = await startExpired(certs, join(d, 'old.crt'));
  t.teardown(() => etcd.destroy());
  const r = doctor(config(etcd.endpoints, clientTls(certs.caFile, certs)));
  t.is(r.code, 1);
  t.regex(find(r.findings, /^etcd https/)!.detail, /certificate has expired/);
  t.regex(find(r.findings, /^etcd https/)!.fix, /renew/);
});

// etcd serves an expired certificate without complaint, and the helper's health wait (etcdctl) cannot
// pass the handshake: start it, then wait for its client port to accept connections instead.
async function startExpired(certs: TestCerts, certFile: string): Promise<EtcdCluster> {
  const port = await freePort();
  const peer = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'beacon-etcd-expired-'));
  const proc = spawn(requireBinary('etcd'), [
    '--name', 'm0', '--data-dir', join(dir, 'm0.etcd'),
    '--listen-client-urls', `https://127.0.0.1:${port}`, '--advertise-client-urls', `https://127.0.0.1:${port}`,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `m0=http://127.0.0.1:${peer}`,
    '--cert-file', certFile, '--key-file', certs.serverKey, '--trusted-ca-file', certs.caFile, '--client-cert-auth',
    '--log-level', 'error',
  ], { stdio: 'ignore' });
  await waitFor(() => new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  }), { timeoutMs: 30_000, intervalMs: 100, what: 'etcd with an expired certificate listening' });
  return {
    endpoints: `https://127.0.0.1:${port}`,
    destroy: async () => {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  } as unknown as EtcdCluster;
}

// etcd with mutual TLS, as docs/security.md sets it up; the helper's etcdctl presents the client pair.
function mtls(certs: TestCerts) {
  return { caFile: certs.caFile, certFile: certs.serverCert, keyFile: certs.serverKey, clientCertFile: certs.clientCert, clientKeyFile: certs.clientKey, clientCertAuth: true };
}

function clientTls(caFile: string, certs: TestCerts): string {
  chmodSync(certs.clientKey, 0o600);
  return `, caFile: ${caFile}, certFile: ${certs.clientCert}, keyFile: ${certs.clientKey}`;
}

test.serial('etcd with auth on: no user names the missing setting; a role without permission is named', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  etcd.etcdctl(['user', 'add', 'root:rootpw']);
  etcd.etcdctl(['user', 'add', 'node1:node1pw']);
  etcd.etcdctl(['role', 'add', 'empty']);
  etcd.etcdctl(['user', 'grant-role', 'node1', 'empty']);
  etcd.etcdctl(['auth', 'enable']);
  const cfg = config(etcd.endpoints);
  const anonymous = doctor(cfg);
  t.is(anonymous.code, 1);
  const user = find(anonymous.findings, /^etcd user$/)!;
  t.like(user, { status: 'failed' });
  t.regex(user.detail, /authentication on and no user was given: set etcd\.username and etcd\.password/);
  t.notRegex(user.detail, /INVALID_ARGUMENT/);
  const wrong = doctor(cfg, { ETCDCTL_USER: 'node1:nope' });
  t.regex(find(wrong.findings, /^etcd user$/)!.detail, /refused the user name or password/);
  const unprivileged = doctor(cfg, { ETCDCTL_USER: 'node1:node1pw' });
  t.is(unprivileged.code, 1);
  t.like(find(unprivileged.findings, /^etcd user$/), { status: 'ok' });
  t.like(find(unprivileged.findings, /^permission: read own keys$/), { status: 'failed' });
  t.regex(find(unprivileged.findings, /^permission: read own keys$/)!.fix, /beacon rbac apply/);
  // With its own keys granted, and nothing else: everything passes, other nodes' keys refused.
  etcd.etcdctl(['--user', 'root:rootpw', 'role', 'grant-permission', '--prefix=true', 'empty', 'readwrite', '/t-doctor/v1/nodes/node1/']);
  const granted = doctor(cfg, { ETCDCTL_USER: 'node1:node1pw' });
  t.like(find(granted.findings, /^permission: write own keys$/), { status: 'ok' });
  t.like(find(granted.findings, /^permission: other nodes' keys$/), { status: 'ok', detail: "writes to another node's keys are refused" });
});

test.serial('a TTL of 2 s against an etcd with slow elections is refused with the TTL etcd grants', async (t) => {
  const etcd = await EtcdCluster.start(1, ['--heartbeat-interval', '500', '--election-timeout', '2500']);
  t.teardown(() => etcd.destroy());
  const r = doctor(config(etcd.endpoints, '', '2s'));
  t.is(r.code, 1);
  const ttl = find(r.findings, /^ttl$/)!;
  t.like(ttl, { status: 'failed' });
  t.regex(ttl.detail, /node\.ttl is 2s, but etcd grants at least 4s/);
  t.regex(ttl.fix, /node\.ttl to at least 8s/);
});

test.serial('a node name held by another agent (in another PID namespace) is named with its lease', async (t) => {
  requireBinary('unshare');
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const cfg = config(etcd.endpoints, '', '6s');
  const other = new BeaconProcess(['agent', '--config', cfg], CLEAN, ['unshare', '--pid', '--fork', '--kill-child']);
  // SIGKILL: unshare --fork does not pass SIGTERM on; --kill-child takes the agent with it.
  t.teardown(() => other.stop('SIGKILL'));
  await other.waitLine((l) => l.msg === 'registered', 60_000).catch((err: Error) => {
    throw new Error(`${err.message} (lines: ${JSON.stringify(other.lines.slice(-3))})`);
  });
  const lease = JSON.parse(etcd.etcdctl(['get', '/t-doctor/v1/nodes/node1/live', '--print-value-only'])).lease as string;
  const r = doctor(cfg);
  t.is(r.code, 1);
  const reg = find(r.findings, /^registration$/)!;
  t.like(reg, { status: 'failed' });
  t.regex(reg.detail, new RegExp(`held by lease ${lease}`));
  t.regex(reg.fix, /node\.name/);
});

test.serial('endpoints: --endpoints (etcdctl\'s spelling of --etcd) and $ETCDCTL_ENDPOINTS win over the file', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const closed = `http://127.0.0.1:${await freePort()}`;
  const cfg = config(closed);
  const viaFlag = beacon(['doctor', '-c', cfg, '-o', 'json', '--endpoints', etcd.endpoints], CLEAN);
  t.is(viaFlag.code, 0, viaFlag.stdout + viaFlag.stderr);
  t.true((JSON.parse(viaFlag.stdout) as Finding[]).some((f) => f.check === `etcd ${etcd.endpoints} round trip`));
  const viaEnv = doctor(cfg, { ETCDCTL_ENDPOINTS: etcd.endpoints });
  t.is(viaEnv.code, 0);
  t.truthy(find(viaEnv.findings, new RegExp(`^etcd ${etcd.endpoints} round trip$`)));
  // The probe can fail: the file's closed port alone.
  t.is(doctor(cfg).code, 1);
});
