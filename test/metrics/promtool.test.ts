// Prometheus' own linter on the daemons' /metrics: `promtool check metrics` (Debian's prometheus package)
// against a real agent (with a check, so its check metrics exist) and a real watcher (leading, one node
// seen), both scraped over HTTP. prom-client's default `nodejs_active_*_total` gauges used to fail it
// (exit 3: non-counter metrics should not have "_total" suffix).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { EtcdCluster, freePort, requireBinary, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../helpers/process.js';
import { watcherConfigFile } from '../watcher/support.js';
import { get, parseExposition, valueOf } from './support.js';

let etcd: EtcdCluster;
let db: Server;

test.before(async () => {
  requireBinary('promtool');
  etcd = await EtcdCluster.start();
  db = createServer((s) => s.end());
  await new Promise<void>((r) => db.listen(0, '127.0.0.1', () => r()));
});
test.after.always(async () => {
  db?.close();
  await etcd?.destroy();
});

function promtool(text: string): { code: number | null; output: string } {
  const r = spawnSync(requireBinary('promtool'), ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

test('the agent\'s and the watcher\'s /metrics pass promtool check metrics', async (t) => {
  const prefix = '/t-promtool';
  const agentPort = await freePort();
  const dbPort = (db.address() as { port: number }).port;
  const cfg = [
    'etcd:',
    `  endpoints: [${etcd.endpoints}]`,
    `prefix: ${prefix}`,
    'node: { name: n1, ttl: 3s }',
    'api: { enabled: false }',
    'services:',
    `  - name: db`,
    `    port: ${dbPort}`,
    '    checks:',
    `      - { tcp: 127.0.0.1:${dbPort}, interval: 1s, timeout: 500ms }`,
    'metrics:',
    `  listen: 127.0.0.1:${agentPort}`,
    '',
  ].join('\n');
  const agent = new BeaconProcess(['agent', '--config', writeConfig(cfg)]);
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitLine((l) => l.msg === 'registered', 30_000);
  const watcherPort = await freePort();
  const watcher = new BeaconProcess(['watcher', '--config', watcherConfigFile({ endpoints: etcd.endpoints, prefix, id: 'w1' }), '--listen', `127.0.0.1:${watcherPort}`]);
  t.teardown(() => watcher.stop('SIGKILL'));

  // Scraped once they have something to say: a check result, a node seen by the leading watcher.
  const agentText = await waitFor(
    async () => {
      const r = await get(`http://127.0.0.1:${agentPort}/metrics`).catch(() => undefined);
      return r?.status === 200 && valueOf(parseExposition(r.body), 'beacon_agent_check_status', { service: 'db', status: 'passing' }) === 1 ? r.body : undefined;
    },
    { timeoutMs: 20_000, what: 'the agent\'s check passing in /metrics' },
  );
  const watcherText = await waitFor(
    async () => {
      const r = await get(`http://127.0.0.1:${watcherPort}/metrics`).catch(() => undefined);
      return r?.status === 200 && valueOf(parseExposition(r.body), 'beacon_watcher_leader') === 1 ? r.body : undefined;
    },
    { timeoutMs: 30_000, what: 'the watcher leading in /metrics' },
  );
  for (const [who, text] of [['agent', agentText], ['watcher', watcherText]] as const) {
    const r = promtool(text);
    t.is(r.code, 0, `${who}: promtool says ${r.output}`);
    t.is(r.output.trim(), '', `${who}: no lint finding`);
    const names = new Set(parseExposition(text).map((s) => s.name));
    // The per-type gauges stay: their sum is what the dropped `_total` gauges said.
    t.true(names.has('nodejs_active_handles'), `${who}: nodejs_active_handles kept`);
    t.false(names.has('nodejs_active_handles_total'), `${who}: nodejs_active_handles_total dropped`);
    t.true([...names].some((n) => n.startsWith('process_')), `${who}: process metrics kept`);
  }
  // The linter does fail what it should (the test would notice a promtool that accepts anything).
  t.is(promtool('# HELP x_total a gauge\n# TYPE x_total gauge\nx_total 1\n').code, 3);
});
