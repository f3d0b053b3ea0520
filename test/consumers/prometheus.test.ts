// A real Prometheus (Debian's package) discovers beacon's endpoints through the watcher's /http_sd:
// the targets appear in its own /api/v1/targets, are scraped (real HTTP servers, so they are `up`),
// and leave after their node's agent is SIGKILLed and its lease expires. It scrapes the watcher's and
// an agent's own /metrics in the same run.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, freePort, requireBinary, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../helpers/process.js';
import { codeBlocks, readDoc } from '../docs/markdown.js';
import { get, registered } from '../metrics/support.js';
import { Keys } from '../../src/etcd/keys.js';
import { endpointRecord } from '../helpers/records.js';

interface Target {
  labels: Record<string, string>;
  scrapePool: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

type Teardown = { teardown(fn: () => unknown): void };

// A scrape target: answers /metrics in the text format.
async function targetServer(t: Teardown): Promise<number> {
  const s: Server = createServer((req, res) => {
    res.writeHead(req.url === '/metrics' ? 200 : 404, { 'content-type': 'text/plain; version=0.0.4' });
    res.end('# TYPE demo_up gauge\ndemo_up 1\n');
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  t.teardown(
    () =>
      new Promise<void>((r) => {
        s.close(() => r());
        s.closeAllConnections();
      }),
  );
  return (s.address() as { port: number }).port;
}

// The scrape config of docs/consumers.md with its example hosts, service and interval replaced.
function docConfig(watcherPort: number, agentPort: number): string {
  const block = codeBlocks(readDoc('docs/consumers.md'), 'yaml').find((b) => b.heading === 'Prometheus' && b.body.includes('http_sd_configs'));
  if (!block) throw new Error('docs/consumers.md: no yaml block with http_sd_configs under "Prometheus"');
  let text = block.body;
  for (const [from, to] of [
    ['beacon-watcher.example:9465', `127.0.0.1:${watcherPort}`],
    ['node1.example:9464', `127.0.0.1:${agentPort}`],
    ['service=web', 'service=app'],
    ['refresh_interval: 15s', 'refresh_interval: 1s'],
    ['job_name: beacon-web', 'job_name: beacon-app'],
    ['job_name: beacon\n', 'job_name: beacon-self\n'],
  ]) {
    if (!text.includes(from!)) throw new Error(`docs/consumers.md's scrape config no longer has ${JSON.stringify(from)}`);
    text = text.split(from!).join(to!);
  }
  return text;
}

async function agent(t: Teardown, etcd: EtcdCluster, node: string, appPort: number, metricsPort?: number): Promise<BeaconProcess> {
  const cfg = [
    'etcd:',
    `  endpoints: [${etcd.endpoints}]`,
    'prefix: /prom',
    'node:',
    `  name: ${node}`,
    '  ttl: 2s',
    '  labels: { zone: z1 }',
    'services:',
    '  - name: app',
    `    port: ${appPort}`,
    '    address: 127.0.0.1',
    '    tags: [metrics]',
    ...(metricsPort ? ['metrics:', `  listen: 127.0.0.1:${metricsPort}`] : []),
    '',
  ].join('\n');
  const p = new BeaconProcess(['agent', '--config', writeConfig(cfg)]);
  t.teardown(() => p.stop('SIGKILL'));
  await registered(p);
  return p;
}

test('Prometheus discovers targets through /http_sd and drops them when their node dies', async (t) => {
  const prometheus = requireBinary('prometheus');
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const [app1, app2] = [await targetServer(t), await targetServer(t)];
  const [agentMetrics, watcherPort, promPort] = [await freePort(), await freePort(), await freePort()];
  await agent(t, etcd, 'p1', app1, agentMetrics);
  const doomed = await agent(t, etcd, 'p2', app2);
  // Records that fail the schema beside the good ones (docs/keys.md, Validation): /http_sd still answers 200
  // with the good targets only (a record without tags once made it answer 500 to every request, and a meta
  // value that is not a string made Prometheus reject the whole list).
  const prom = new Keys('/prom');
  const { tags: _tags, ...noTags } = endpointRecord({ service: 'app', node: 'notags', address: '127.0.0.1', port: app1 });
  etcd.etcdctl(['put', prom.endpoint('app', 'notags'), JSON.stringify(noTags)]);
  etcd.etcdctl(['put', prom.endpoint('app', 'badmeta'), JSON.stringify(endpointRecord({ service: 'app', node: 'badmeta', address: '127.0.0.1', port: app1, meta: { n: 1 } as unknown as Record<string, string> }))]);
  etcd.etcdctl(['put', prom.endpoint('app', 'notip'), JSON.stringify(endpointRecord({ service: 'app', node: 'notip', address: 'localhost', port: app1 }))]);

  const wcfg = { etcd: { endpoints: etcd.endpoints.split(',') }, prefix: '/prom', watcher: { id: 'wp', electionTtl: '2s', probeInterval: '1s' } };
  const watcher = new BeaconProcess(['watcher', '--config', writeConfig(JSON.stringify(wcfg), 'watcher.json'), '--listen', `127.0.0.1:${watcherPort}`]);
  t.teardown(() => watcher.stop('SIGKILL'));
  await watcher.waitLine((l) => l.msg === 'http listening', 15_000);

  // The scrape config docs/consumers.md shows, pointed at this test's processes, with test timings.
  const dir = mkdtempSync(join(tmpdir(), 'beacon-prom-'));
  const config = ['global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', docConfig(watcherPort, agentMetrics)].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const proc: ChildProcess = spawn(
    prometheus,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const api = `http://127.0.0.1:${promPort}`;
  await waitFor(async () => (await get(`${api}/-/ready`)).status === 200, { timeoutMs: 30_000, what: `prometheus ready (stderr: ${stderr})` });

  const targets = async (job: string): Promise<Target[]> => {
    const r = await get(`${api}/api/v1/targets?state=active`);
    return (JSON.parse(r.body).data.activeTargets as Target[]).filter((x) => x.scrapePool === job);
  };
  const both = await waitFor(
    async () => {
      const ts = await targets('beacon-app');
      return ts.length === 2 && ts.every((x) => x.health === 'up') ? ts : undefined;
    },
    { timeoutMs: 30_000, what: `both app targets up in Prometheus (stderr: ${stderr})` },
  );
  const byNode = new Map(both.map((x) => [x.labels.node, x.labels]));
  t.like(byNode.get('p1'), { instance: `127.0.0.1:${app1}`, service: 'app', zone: 'z1', job: 'beacon-app' });
  t.like(byNode.get('p2'), { instance: `127.0.0.1:${app2}`, service: 'app', zone: 'z1' });

  // beacon's own metrics, scraped by the same Prometheus.
  await waitFor(
    async () => {
      const ts = await targets('beacon-self');
      return ts.length === 2 && ts.every((x) => x.health === 'up');
    },
    { timeoutMs: 30_000, what: 'the watcher and the agent scraped' },
  );
  const query = async (q: string) => {
    const r = await get(`${api}/api/v1/query?query=${encodeURIComponent(q)}`);
    return JSON.parse(r.body).data.result as { metric: Record<string, string>; value: [number, string] }[];
  };
  const leader = await waitFor(async () => {
    const r = await query('beacon_watcher_leader');
    return r.length === 1 && r[0]!.value[1] === '1' ? r : undefined;
  }, { timeoutMs: 20_000, what: 'beacon_watcher_leader 1 in Prometheus' });
  t.is(leader[0]!.metric.instance, `127.0.0.1:${watcherPort}`);
  const registered = await query('beacon_agent_registered');
  t.deepEqual(registered.map((r) => r.value[1]), ['1']);

  // SIGKILL: no graceful leave; the lease expires (2 s TTL), the watcher's view drops it, Prometheus follows.
  doomed.kill('SIGKILL');
  const left = await waitFor(
    async () => {
      const ts = await targets('beacon-app');
      return ts.length === 1 ? ts : undefined;
    },
    { timeoutMs: 30_000, what: 'p2 gone from Prometheus targets' },
  );
  t.is(left[0]!.labels.node, 'p1');
  t.is(left[0]!.health, 'up');
});
