// Serial: each test runs the CLI with spawnSync, which blocks this worker.
// The rest of `beacon doctor`'s findings, each made for real: a bad config that still gets its etcd probed,
// a 3-member cluster with a member stopped and an endpoint that is no member's URL, a slow link against
// etcd.requestTimeout, certificates near and past expiry (openssl), the agent's API with and without an
// agent, problem sources and a state directory that cannot be used, the unit without systemd, and the
// CA/user precedence and host:port endpoints through the CLI.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { EtcdCluster, freePort, requireBinary, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beacon, writeConfig } from '../helpers/process.js';
import { makeCerts, type TestCerts } from '../security/certs.js';
import { parseUnitShow, unitFinding } from '../../src/doctor/local.js';

interface Finding {
  check: string;
  status: 'ok' | 'warning' | 'failed';
  detail: string;
  fix: string;
}

const CLEAN: NodeJS.ProcessEnv = Object.fromEntries(
  ['ETCDCTL_ENDPOINTS', 'ETCDCTL_USER', 'ETCDCTL_PASSWORD', 'ETCDCTL_CACERT', 'ETCDCTL_CERT', 'ETCDCTL_KEY', 'BEACON_ETCD_ENDPOINTS', 'BEACON_ETCD_CACERT', 'BEACON_ETCD_USER'].map((k) => [k, undefined]),
);

function doctor(args: string[], env: NodeJS.ProcessEnv = {}): { code: number; findings: Finding[] } {
  const r = beacon(['doctor', '-o', 'json', ...args], { ...CLEAN, ...env });
  try {
    return { code: r.code, findings: JSON.parse(r.stdout) as Finding[] };
  } catch {
    throw new Error(`doctor printed no JSON (exit ${r.code}): ${r.stdout}${r.stderr}`);
  }
}

const find = (fs: Finding[], check: RegExp) => {
  const f = fs.find((x) => check.test(x.check));
  if (!f) throw new Error(`no finding ${check} in ${JSON.stringify(fs, null, 1)}`);
  return f;
};

const yaml = (endpoints: string, rest = '', etcdExtra = '') =>
  `etcd: { endpoints: "${endpoints}", requestTimeout: 2s, dialTimeout: 2s${etcdExtra} }\nprefix: /t-doctor\nnode: { name: node1, ttl: 10s }\napi: { enabled: false }\n${rest}`;

test.serial('a config with errors: every problem as a ✗ row, and etcd still probed with the file\'s etcd section', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const cfg = writeConfig(`${yaml(etcd.endpoints)}services:\n  - name: web\n    port: 70000\n    checks:\n      - tcp: nohost\n`.replace('ttl: 10s', 'ttl: 10s, ttll: 3s'));
  const r = doctor(['-c', cfg]);
  t.is(r.code, 1);
  const config = r.findings.filter((f) => f.check === 'config');
  t.true(config.length >= 3, JSON.stringify(config));
  t.true(config.every((f) => f.status === 'failed'));
  t.true(config.some((f) => /^node\.ttll: unknown field \(did you mean "ttl"\?\)/.test(f.detail)));
  t.true(config.some((f) => /^services\[0\]\.port: /.test(f.detail)));
  t.true(config.some((f) => /^services\[0\]\.checks\[0\]\.tcp: /.test(f.detail)));
  // etcd answered: its findings are there, the node's own ones are not checked.
  t.like(find(r.findings, /round trip$/), { status: 'ok' });
  t.regex(find(r.findings, /version$/).detail, /^etcd 3\.4\./);
  t.like(find(r.findings, /^etcd member m0$/), { status: 'ok' });
  t.like(find(r.findings, /^permissions$/), { status: 'failed', detail: 'not checked: the config has errors' });
  // Bad etcd settings too: nothing to probe, said so.
  const bad = doctor(['-c', writeConfig(yaml('nope'))]);
  t.is(bad.code, 1);
  t.like(find(bad.findings, /^etcd$/), { status: 'failed', detail: 'not checked: the etcd settings have errors' });
});

test.serial('members: a stopped member and an endpoint that is no member\'s client URL are named; the leader is shown', async (t) => {
  const etcd = await EtcdCluster.start(3);
  t.teardown(() => etcd.destroy());
  const [m0, m1, m2] = etcd.members as [typeof etcd.members[0], typeof etcd.members[0], typeof etcd.members[0]];
  const healthy = doctor(['-c', writeConfig(yaml(`${m0.endpoint},${m1.endpoint}`))]);
  t.like(find(healthy.findings, /^etcd endpoints$/), { status: 'ok', detail: "each is a member's client URL (3 members)" });
  const rows = healthy.findings.filter((f) => /^etcd member m\d$/.test(f.check));
  t.is(rows.length, 3);
  t.true(rows.every((f) => f.status === 'ok'), JSON.stringify(rows));
  t.is(rows.filter((f) => /the leader/.test(f.detail)).length, 1, 'exactly one member is the leader');
  t.true(rows.every((f) => /etcd 3\.4\.\d+/.test(f.detail)));
  await m2.stop('SIGKILL');
  // localhost is the same etcd, but not the URL the member advertises.
  const other = m0.endpoint.replace('127.0.0.1', 'localhost');
  const r = doctor(['-c', writeConfig(yaml(`${other},${m1.endpoint}`))]);
  const endpoints = find(r.findings, /^etcd endpoints$/);
  t.like(endpoints, { status: 'warning' });
  t.regex(endpoints.detail, new RegExp(`^${other} is not a member's client URL`));
  const down = find(r.findings, /^etcd member m2$/);
  t.like(down, { status: 'warning' });
  t.regex(down.detail, new RegExp(`^unreachable: ${m2.endpoint}: connection refused`));
  t.regex(down.fix, /member remove/);
  t.like(find(r.findings, /^etcd member m0$/), { status: 'ok' });
  t.false(r.findings.some((f) => f.check === 'etcd leader'), 'two of three answer: quorum holds');
});

// A TCP proxy that holds every chunk from etcd for `delayMs`: a slow link, for real. It runs in a process
// of its own: the CLI runs under spawnSync, which blocks this worker's event loop.
const PROXY = `
const { createServer, connect } = require('node:net');
const [target, port, delay] = process.argv.slice(1).map(Number);
createServer((client) => {
  const up = connect(target, '127.0.0.1');
  client.on('data', (d) => up.write(d));
  up.on('data', (d) => setTimeout(() => client.writable && client.write(d), delay));
  const close = () => { client.destroy(); up.destroy(); };
  client.on('error', close).on('close', close);
  up.on('error', close).on('close', close);
}).listen(port, '127.0.0.1', () => console.log('listening'));
`;

async function slowProxy(target: number, delayMs: number): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['-e', PROXY, String(target), String(port), String(delayMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.once('data', () => resolve());
    proc.once('exit', (code) => reject(new Error(`proxy exited ${code}`)));
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  return { port, stop };
}

test.serial('a round trip over half of etcd.requestTimeout (the tighter deadline) is a warning naming the setting', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const { port, stop } = await slowProxy(etcd.members[0]!.spec.clientPort, 1200);
  t.teardown(stop);
  // keepaliveTimeout 2.5s > requestTimeout 2s: the request deadline is the one the round trip is weighed against.
  const cfg = writeConfig(yaml(`http://127.0.0.1:${port}`).replace('ttl: 10s', 'ttl: 20s, keepaliveInterval: 6s, keepaliveTimeout: 2500ms'));
  const r = doctor(['-c', cfg]);
  const rtt = find(r.findings, /round trip$/);
  t.like(rtt, { status: 'warning' }, JSON.stringify(rtt));
  t.regex(rtt.detail, /^\d+ ms, over 50 % of the request deadline of 2000 ms \(etcd\.requestTimeout\)$/);
  t.regex(rtt.fix, /raise etcd\.requestTimeout/);
  // The same link with the default deadlines (700 ms keepalive): past the deadline, failed.
  const tight = doctor(['-c', writeConfig(yaml(`http://127.0.0.1:${port}`))]);
  t.like(find(tight.findings, /round trip$/), { status: 'failed' });
  t.regex(find(tight.findings, /round trip$/).detail, /more than the keepalive deadline of 700 ms \(node\.keepaliveTimeout\)/);
});

// Sign `key` with the test CA for the given dates (openssl ca takes explicit start and end dates).
function signed(certs: TestCerts, name: string, key: string, cn: string, dates: string[], san = ''): string {
  const d = certs.dir;
  if (!existsSync(join(d, 'index.txt'))) {
    writeFileSync(join(d, 'index.txt'), '');
    writeFileSync(join(d, 'serial'), '2000\n');
  }
  writeFileSync(
    join(d, `${name}.cnf`),
    `[ca]\ndefault_ca = c\n[c]\ndatabase = ${d}/index.txt\nserial = ${d}/serial\nnew_certs_dir = ${d}\ndefault_md = sha256\npolicy = p\nunique_subject = no\n[p]\ncommonName = supplied\n[ext]\n${san}basicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth, clientAuth\n`,
  );
  execFileSync('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', join(d, `${name}.csr`)], { stdio: 'pipe' });
  execFileSync('openssl', ['ca', '-batch', '-config', join(d, `${name}.cnf`), '-extensions', 'ext', '-cert', certs.caFile, '-keyfile', join(d, 'ca.key'), '-in', join(d, `${name}.csr`), '-out', join(d, `${name}.crt`), ...dates], { stdio: 'pipe' });
  return join(d, `${name}.crt`);
}

test.serial('certificates: a server certificate expiring in 10 days is a warning with its date; an expired client certificate is ✗', async (t) => {
  requireBinary('openssl');
  const certs = makeCerts();
  const soon = signed(certs, 'soon', certs.serverKey, '127.0.0.1', ['-days', '10'], 'subjectAltName = IP:127.0.0.1\n');
  const old = signed(certs, 'old-client', certs.clientKey, 'node1', ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z']);
  // etcd with a trusted CA asks for client certificates: the helper's etcdctl presents the good pair.
  const etcd = await EtcdCluster.start(1, [], { caFile: certs.caFile, certFile: soon, keyFile: certs.serverKey, clientCertFile: certs.clientCert, clientKeyFile: certs.clientKey });
  t.teardown(() => etcd.destroy());
  chmodSync(certs.clientKey, 0o600);
  const good = doctor(['-c', writeConfig(yaml(etcd.endpoints, '', `, caFile: ${certs.caFile}, certFile: ${certs.clientCert}, keyFile: ${certs.clientKey}`))]);
  const server = find(good.findings, /server certificate$/);
  t.like(server, { status: 'warning' });
  const date = execFileSync('openssl', ['x509', '-noout', '-enddate', '-in', soon], { encoding: 'utf8' }).split('=')[1]!.trim();
  t.regex(server.detail, new RegExp(`^expires in (9|10) days \\(${new Date(date).toISOString().replace(/\./g, '\\.')}\\)$`));
  // The expired client certificate: named from the file itself (etcd then refuses the handshake too).
  const r = doctor(['-c', writeConfig(yaml(etcd.endpoints, '', `, caFile: ${certs.caFile}, certFile: ${old}, keyFile: ${certs.clientKey}`))]);
  const client = find(r.findings, /^etcd client certificate$/);
  t.like(client, { status: 'failed', detail: 'expired on 2020-01-02T00:00:00.000Z' });
  t.regex(client.fix, /renew/);
  t.is(r.code, 1);
});

test.serial('CA and user precedence through the CLI: $ETCDCTL_CACERT and --cacert win over the file; host:port endpoints mean http://', async (t) => {
  const certs = makeCerts();
  const wrong = makeCerts();
  const etcd = await EtcdCluster.start(1, [], { caFile: certs.caFile, certFile: certs.serverCert, keyFile: certs.serverKey, clientCertFile: certs.clientCert, clientKeyFile: certs.clientKey });
  t.teardown(() => etcd.destroy());
  chmodSync(certs.clientKey, 0o600);
  const cfg = writeConfig(yaml(etcd.endpoints, '', `, caFile: ${wrong.caFile}, certFile: ${certs.clientCert}, keyFile: ${certs.clientKey}`));
  t.regex(find(doctor(['-c', cfg]).findings, /^etcd https/).detail, /TLS handshake failed/, 'the file\'s CA alone is wrong');
  const viaEnv = doctor(['-c', cfg], { ETCDCTL_CACERT: certs.caFile });
  t.like(find(viaEnv.findings, /TLS$/), { status: 'ok' });
  const viaFlag = doctor(['-c', cfg, '--cacert', certs.caFile], { BEACON_ETCD_CACERT: wrong.caFile });
  t.like(find(viaFlag.findings, /TLS$/), { status: 'ok' });
  const flagLoses = doctor(['-c', cfg, '--cacert', wrong.caFile], { ETCDCTL_CACERT: certs.caFile });
  t.regex(find(flagLoses.findings, /^etcd https/).detail, /TLS handshake failed/, 'the flag wins, even when wrong');
  // etcdctl's host:port form, on a plain etcd: http://.
  const plain = await EtcdCluster.start();
  t.teardown(() => plain.destroy());
  const port = plain.members[0]!.spec.clientPort;
  const r = doctor(['-c', writeConfig(yaml(plain.endpoints)), '--endpoints', `127.0.0.1:${port}`]);
  t.like(find(r.findings, new RegExp(`^etcd http://127\\.0\\.0\\.1:${port} round trip$`)), { status: 'ok' });
  t.is(beacon(['validate', writeConfig(yaml(`127.0.0.1:${port}`))], CLEAN).code, 0);
});

test.serial('the agent API: answers with a running agent, ✗ without one', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const dir = mkdtempSync(join(tmpdir(), 'beacon-doctor-api-'));
  const socket = join(dir, 'api.sock');
  const cfg = writeConfig(yaml(etcd.endpoints).replace('api: { enabled: false }', `api: { socket: ${socket} }`));
  const none = doctor(['-c', cfg]);
  const down = find(none.findings, /^agent API$/);
  t.like(down, { status: 'failed' });
  t.regex(down.detail, new RegExp(`^${socket}: ENOENT$`));
  t.regex(down.fix, /agent is not running/);
  const agent = new BeaconProcess(['agent', '--config', cfg], CLEAN);
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitLine((l) => l.msg === 'registered', 60_000);
  await waitFor(() => existsSync(socket), { timeoutMs: 30_000, what: 'the API socket' });
  const up = doctor(['-c', cfg]);
  t.like(find(up.findings, /^agent API$/), { status: 'ok', detail: `answers on ${socket}` });
  t.like(find(up.findings, /^registration$/), { status: 'ok' });
});

test.serial('problem sources and the state directory: readable and writable, or named with the reason', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const dir = mkdtempSync(join(tmpdir(), 'beacon-doctor-local-'));
  const log = join(dir, 'kern.log');
  writeFileSync(log, '');
  writeFileSync(join(dir, 'in-the-way'), 'a file where the state directory should be\n');
  const problems = (kernel: string, stateFile: string) => `problems:\n  kernel: ${kernel}\n  stateFile: ${stateFile}\n`;
  const good = doctor(['-c', writeConfig(yaml(etcd.endpoints, problems(`{ source: file, path: ${log} }`, join(dir, 'state.json'))))]);
  const sources = good.findings.filter((f) => f.check === 'problem source');
  t.deepEqual(sources.map((f) => [f.status, f.detail]), [['ok', `${log} readable`]]);
  t.like(find(good.findings, /^state directory$/), { status: 'ok', detail: `${dir} writable` });
  const stateFile = join(dir, 'in-the-way', 'state.json');
  const bad = doctor(['-c', writeConfig(yaml(etcd.endpoints, problems(`{ source: file, path: ${join(dir, 'missing.log')} }`, stateFile)))]);
  t.like(find(bad.findings, /^problem source$/), { status: 'failed', detail: `${join(dir, 'missing.log')}: ENOENT` });
  t.like(find(bad.findings, /^state directory$/), { status: 'failed', detail: `${dirname(stateFile)}: ENOTDIR` });
  t.is(bad.code, 1);
  // The kernel's own log: /dev/kmsg as this (root) user reads it.
  const kmsg = doctor(['-c', writeConfig(yaml(etcd.endpoints, 'problems: { kernel: { source: kmsg } }\n'))]);
  t.like(find(kmsg.findings, /^problem source$/), { status: 'ok', detail: '/dev/kmsg readable' });
  // The journal: journalctl -k works here; without journalctl on PATH the same config names it.
  const journalCfg = writeConfig(yaml(etcd.endpoints, 'problems: { kernel: { source: journal } }\n'));
  requireBinary('journalctl');
  t.like(find(doctor(['-c', journalCfg]).findings, /^problem source$/), { status: 'ok', detail: 'journalctl -k readable' });
  const noJournal = doctor(['-c', journalCfg], { PATH: '/nonexistent' });
  t.like(find(noJournal.findings, /^problem source$/), { status: 'failed', detail: 'journalctl -k fails' });
});

test.serial('the agent unit: without systemd as PID 1, said so; with it, systemctl\'s answer', (t) => {
  const systemd = existsSync('/run/systemd/system');
  const r = doctor(['-c', writeConfig(yaml('http://127.0.0.1:1'))]);
  const unit = find(r.findings, /^agent unit$/);
  if (systemd) t.notRegex(unit.detail, /no systemd/);
  else t.like(unit, { status: 'ok', detail: 'no systemd on this host: not checked' });
});

test('systemctl show output: running, restarting, failed and not installed', (t) => {
  // `systemctl show beacon-agent.service -p LoadState,ActiveState,SubState,Result,NRestarts` prints
  // Key=value lines in the order systemd keeps its properties, not the order asked.
  const show = (s: string) => unitFinding(parseUnitShow(s));
  t.like(show('Result=success\nNRestarts=0\nLoadState=loaded\nActiveState=active\nSubState=running\n'), { status: 'ok', detail: 'beacon-agent.service is active (running)' });
  t.like(show('Result=success\nNRestarts=7\nLoadState=loaded\nActiveState=active\nSubState=running\n'), {
    status: 'warning',
    detail: 'beacon-agent.service is running, restarted 7 times',
  });
  t.like(show('Result=exit-code\nNRestarts=5\nLoadState=loaded\nActiveState=failed\nSubState=failed\n'), {
    status: 'failed',
    detail: 'beacon-agent.service is failed (failed), result exit-code, restarted 5 times',
  });
  t.like(show('Result=success\nNRestarts=0\nLoadState=loaded\nActiveState=activating\nSubState=auto-restart\n'), { status: 'failed' });
  t.like(show('Result=success\nNRestarts=0\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n'), {
    status: 'failed',
    detail: 'beacon-agent.service is not installed',
  });
});
