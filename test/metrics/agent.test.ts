// The agent's /metrics and /healthz over real HTTP, against a real etcd: values move with what happens
// (registration, keepalives, a lease revoked with etcdctl, etcd frozen past the TTL, a check failing).
import test from 'ava';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, freePort, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beacon, writeConfig } from '../helpers/process.js';
import { get, registered, scrape, valueOf } from './support.js';

let etcd: EtcdCluster;
let db: Server;
let dbPort: number;

test.before(async () => {
  etcd = await EtcdCluster.start();
  db = createServer((s) => s.end());
  await new Promise<void>((r) => db.listen(0, '127.0.0.1', () => r()));
  dbPort = (db.address() as { port: number }).port;
});

test.after.always(async () => {
  db?.close();
  await etcd?.destroy();
});

function agentConfig(prefix: string, node: string, metricsPort: number): string {
  return [
    'etcd:',
    `  endpoints: [${etcd.endpoints}]`,
    `prefix: ${prefix}`,
    'node:',
    `  name: ${node}`,
    '  ttl: 3s',
    'services:',
    '  - name: db',
    `    port: ${dbPort}`,
    '    checks:',
    `      - tcp: 127.0.0.1:${dbPort}`,
    '        interval: 1s',
    '        timeout: 500ms',
    '  - name: gone',
    '    port: 1',
    '    checks:',
    '      - tcp: 127.0.0.1:1',
    '        interval: 1s',
    '        timeout: 500ms',
    'metrics:',
    `  listen: 127.0.0.1:${metricsPort}`,
    '',
  ].join('\n');
}

async function startAgent(t: { teardown(fn: () => unknown): void }, prefix: string, node: string) {
  const port = await freePort();
  const p = new BeaconProcess(['agent', '--config', writeConfig(agentConfig(prefix, node, port))]);
  t.teardown(() => p.stop('SIGKILL'));
  await registered(p);
  return { p, base: `http://127.0.0.1:${port}` };
}

test('registered, keepalives, checks: the gauges and counters say what the agent does', async (t) => {
  const { base } = await startAgent(t, '/m1', 'n1');
  const health = await get(`${base}/healthz`);
  t.is(health.status, 200);
  t.regex(health.type, /^application\/json/);
  t.like(JSON.parse(health.body), { status: 'registered', node: 'n1' });

  const s = await waitFor(
    async () => {
      const x = await scrape(`${base}/metrics`);
      return (valueOf(x, 'beacon_agent_keepalive_duration_seconds_count') ?? 0) >= 1 &&
        valueOf(x, 'beacon_agent_check_status', { service: 'gone', status: 'critical' }) === 1
        ? x
        : undefined;
    },
    { timeoutMs: 15_000, what: 'a keepalive observed and the failing check critical' },
  );
  t.is(valueOf(s, 'beacon_agent_registered'), 1);
  t.is(valueOf(s, 'beacon_agent_registrations_total', { kind: 'initial' }), 1);
  t.is(valueOf(s, 'beacon_agent_check_status', { service: 'db', status: 'passing' }), 1);
  t.is(valueOf(s, 'beacon_agent_check_status', { service: 'db', status: 'critical' }), 0);
  t.is(valueOf(s, 'beacon_agent_endpoint_health', { service: 'gone', health: 'critical' }), 1);
  t.is(valueOf(s, 'beacon_agent_endpoint_health', { service: 'db', health: 'passing' }), 1);
  // The default process metrics come along, unprefixed as every Prometheus client names them.
  t.true((valueOf(s, 'process_cpu_seconds_total') ?? -1) >= 0);
  t.true(s.every((x) => x.name.startsWith('beacon_') || x.name.startsWith('process_') || x.name.startsWith('nodejs_')));
});

test('a lease revoked with etcdctl counts one re-registration with its reason', async (t) => {
  const { p, base } = await startAgent(t, '/m2', 'n2');
  const first = p.withMsg('registered')[0]!;
  etcd.etcdctl(['lease', 'revoke', String(first.lease)]);
  const s = await waitFor(
    async () => {
      const x = await scrape(`${base}/metrics`);
      return valueOf(x, 'beacon_agent_reregistrations_total', { reason: 'lease-not-found' }) === 1 ? x : undefined;
    },
    { timeoutMs: 20_000, what: 'beacon_agent_reregistrations_total{reason="lease-not-found"} 1' },
  );
  t.is(valueOf(s, 'beacon_agent_registrations_total', { kind: 'reregistration' }), 1);
  t.is(valueOf(s, 'beacon_agent_registered'), 1);
  t.not(p.withMsg('registered').at(-1)!.lease, first.lease);
});

test('etcd frozen past the TTL: healthz turns 503 and the gauge 0, then both recover', async (t) => {
  const own = await EtcdCluster.start();
  t.teardown(async () => {
    own.members[0]!.signal('SIGCONT');
    await own.destroy();
  });
  const port = await freePort();
  const cfg = agentConfig('/m3', 'n3', port).replace(`endpoints: [${etcd.endpoints}]`, `endpoints: [${own.endpoints}]`);
  const p = new BeaconProcess(['agent', '--config', writeConfig(cfg)]);
  t.teardown(() => p.stop('SIGKILL'));
  await registered(p);
  const base = `http://127.0.0.1:${port}`;

  own.members[0]!.signal('SIGSTOP');
  const down = await waitFor(async () => {
    const r = await get(`${base}/healthz`);
    return r.status === 503 ? r : undefined;
  }, { timeoutMs: 15_000, what: 'healthz 503 after the TTL passed without keepalives' });
  t.like(JSON.parse(down.body), { status: 'unregistered', node: 'n3' });
  t.is(valueOf(await scrape(`${base}/metrics`), 'beacon_agent_registered'), 0);
  // Resume only once the agent has given the lease up: a keepalive that lands after the deadline but
  // before the loss keeps the lease (no re-registration), which would make the count below a race.
  await p.waitLine((l) => l.msg === 'registration lost', 15_000);

  own.members[0]!.signal('SIGCONT');
  const s = await waitFor(async () => {
    const x = await scrape(`${base}/metrics`);
    // The gauge turns 1 as the lease answers; the counter follows once the keys are checked again.
    const counted = x.some((m) => m.name === 'beacon_agent_reregistrations_total' && m.value > 0);
    return valueOf(x, 'beacon_agent_registered') === 1 && counted ? x : undefined;
  }, { timeoutMs: 20_000, what: 'registered again after etcd resumed, and counted' });
  // The agent gave the lease up at its deadline; whether etcd still had it (kept) or not (new lease) depends on timing.
  const rereg = s.filter((x) => x.name === 'beacon_agent_reregistrations_total' && x.value > 0);
  t.true(rereg.length >= 1 && rereg.every((x) => ['keepalive-deadline', 'lease-not-found'].includes(x.labels.reason!)), JSON.stringify(rereg));
  t.is((await get(`${base}/healthz`)).status, 200);
});

test('kernel log lines: problem events counted per occurrence, conditions by status', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-mkern-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'kern.log');
  const kern = (text: string) => `${new Date().toISOString()} n5 kernel: [ 4242.000001] ${text}\n`;
  writeFileSync(log, kern('Linux version 6.1.0 (an old harmless line)'));
  const port = await freePort();
  const cfg = [
    'etcd:',
    `  endpoints: [${etcd.endpoints}]`,
    'prefix: /m5',
    'node: { name: n5, ttl: 4s }',
    'api: { enabled: false }',
    'problems:',
    `  kernel: { source: file, path: ${log} }`,
    '  pressure: { enabled: false }',
    `metrics: { listen: "127.0.0.1:${port}" }`,
    '',
  ].join('\n');
  const p = new BeaconProcess(['agent', '--config', writeConfig(cfg)]);
  t.teardown(() => p.stop('SIGKILL'));
  await registered(p);
  const base = `http://127.0.0.1:${port}`;
  const before = await scrape(`${base}/metrics`);
  t.is(valueOf(before, 'beacon_agent_condition', { type: 'ReadonlyFilesystem', status: 'False' }), 1);
  t.is(valueOf(before, 'beacon_agent_condition', { type: 'ReadonlyFilesystem', status: 'True' }), 0);

  const oom = 'Out of memory: Killed process 4242 (java) total-vm:2097152kB, anon-rss:1048576kB, file-rss:0kB, shmem-rss:0kB';
  appendFileSync(log, kern(oom).repeat(3));
  await waitFor(async () => valueOf(await scrape(`${base}/metrics`), 'beacon_agent_problem_events_total', { reason: 'OOMKilling' }) === 3, {
    timeoutMs: 15_000,
    what: 'beacon_agent_problem_events_total{reason="OOMKilling"} 3',
  });
  appendFileSync(log, kern(oom) + kern('EXT4-fs (vda1): Remounting filesystem read-only'));
  const s = await waitFor(async () => {
    const x = await scrape(`${base}/metrics`);
    return valueOf(x, 'beacon_agent_condition', { type: 'ReadonlyFilesystem', status: 'True' }) === 1 ? x : undefined;
  }, { timeoutMs: 15_000, what: 'ReadonlyFilesystem True in the metrics' });
  t.is(valueOf(s, 'beacon_agent_condition', { type: 'ReadonlyFilesystem', status: 'False' }), 0);
  await waitFor(async () => valueOf(await scrape(`${base}/metrics`), 'beacon_agent_problem_events_total', { reason: 'OOMKilling' }) === 4, {
    timeoutMs: 15_000,
    what: 'the fourth OOM counted once (coalesced events count their new occurrences only)',
  });
});

test('SIGTERM: the agent leaves, closes the endpoint and exits 0', async (t) => {
  const { p, base } = await startAgent(t, '/m6', 'n6');
  // A scraper's kept-alive connection must not hold the shutdown.
  t.is((await get(`${base}/metrics`)).status, 200);
  p.kill('SIGTERM');
  const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('still running'), 15_000))]);
  t.is(code, 0);
  t.truthy(p.withMsg('left: lease revoked')[0]);
  await t.throwsAsync(get(`${base}/healthz`));
});

test('a bad metrics.listen is a config error naming the field and the value', (t) => {
  const cfg = agentConfig('/m4', 'n4', 1).replace('listen: 127.0.0.1:1', 'listen: "localhost:99999"');
  const r = beacon(['validate', writeConfig(cfg)]);
  t.not(r.code, 0);
  t.regex(r.stderr + r.stdout, /metrics\.listen: must be HOST:PORT.*\(got "localhost:99999"\)/);
});
