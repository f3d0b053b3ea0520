// The watcher's HTTP endpoint against real agents and a real etcd: /http_sd content and filters, 400 on
// bad filters, /healthz with the role, /metrics, and a killed node's endpoints leaving the list.
import test from 'ava';
import { EtcdCluster, freePort, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beacon, writeConfig } from '../helpers/process.js';
import { get, registered, scrape, valueOf } from '../metrics/support.js';
import { hookCalls, hookFile, recordingHook, waitLeading, watcherConfigFile } from './support.js';

interface Group {
  targets: string[];
  labels: Record<string, string>;
}

let etcd: EtcdCluster;

test.before(async () => {
  etcd = await EtcdCluster.start();
});

test.after.always(async () => {
  await etcd?.destroy();
});

type Teardown = { teardown(fn: () => unknown): void };

// An agent with a passing `web` (tags, meta), a critical `db` (its check hits a closed port) and node labels.
async function agent(t: Teardown, prefix: string, node: string, webPort: number): Promise<BeaconProcess> {
  const cfg = [
    'etcd:',
    `  endpoints: [${etcd.endpoints}]`,
    `prefix: ${prefix}`,
    'node:',
    `  name: ${node}`,
    '  ttl: 2s',
    `  labels: { "topology.zone": z-${node}, rack: r1 }`,
    'services:',
    '  - name: web',
    `    port: ${webPort}`,
    '    address: 127.0.0.1',
    '    tags: [http, v2]',
    '    meta: { version: "1.4.2" }',
    '  - name: db',
    '    port: 5432',
    '    address: 127.0.0.1',
    '    checks:',
    '      - tcp: 127.0.0.1:1',
    '        interval: 1s',
    '        timeout: 500ms',
    '',
  ].join('\n');
  const p = new BeaconProcess(['agent', '--config', writeConfig(cfg)]);
  t.teardown(() => p.stop('SIGKILL'));
  await registered(p);
  return p;
}

async function sd(base: string, query = ''): Promise<Group[]> {
  const r = await get(`${base}/http_sd${query}`);
  if (r.status !== 200) throw new Error(`http_sd${query}: ${r.status} ${r.body}`);
  return JSON.parse(r.body) as Group[];
}

const summary = (gs: Group[]) => gs.map((g) => `${g.labels.__meta_beacon_service}@${g.labels.__meta_beacon_node}=${g.targets.join(',')}`);

test('http_sd lists every endpoint with its labels, filters by service and health, and drops a killed node', async (t) => {
  const prefix = '/h1';
  const [, b] = await Promise.all([agent(t, prefix, 'a1', 8001), agent(t, prefix, 'b1', 8002)]);
  const port = await freePort();
  // The flag, not the file: the file has no http section.
  const wl = new BeaconProcess(['watcher', '--config', watcherConfigFile({ endpoints: etcd.endpoints, prefix, id: 'w2' }), '--listen', `127.0.0.1:${port}`]);
  t.teardown(() => wl.stop('SIGKILL'));
  const base = `http://127.0.0.1:${port}`;
  await wl.waitLine((l) => l.msg === 'http listening', 15_000);

  // db turns critical within a check interval or two.
  const all = await waitFor(async () => {
    const gs = await sd(base);
    return gs.length === 4 && gs.filter((g) => g.labels.__meta_beacon_health === 'critical').length === 2 ? gs : undefined;
  }, { timeoutMs: 20_000, what: 'four endpoints, both db critical' });
  t.deepEqual(summary(all), ['db@a1=127.0.0.1:5432', 'db@b1=127.0.0.1:5432', 'web@a1=127.0.0.1:8001', 'web@b1=127.0.0.1:8002']);
  t.deepEqual(all[2]!.labels, {
    __meta_beacon_node: 'a1',
    __meta_beacon_service: 'web',
    __meta_beacon_health: 'passing',
    __meta_beacon_tags: ',http,v2,',
    __meta_beacon_address: '127.0.0.1',
    __meta_beacon_port: '8001',
    __meta_beacon_protocol: 'tcp',
    __meta_beacon_service_meta_version: '1.4.2',
    __meta_beacon_node_label_topology_zone: 'z-a1',
    __meta_beacon_node_label_rack: 'r1',
  });
  t.is(all[0]!.labels.__meta_beacon_tags, '');

  const raw = await get(`${base}/http_sd`);
  t.regex(raw.type, /^application\/json/);

  t.deepEqual(summary(await sd(base, '?service=web')), ['web@a1=127.0.0.1:8001', 'web@b1=127.0.0.1:8002']);
  t.deepEqual(summary(await sd(base, '?health=passing')), ['web@a1=127.0.0.1:8001', 'web@b1=127.0.0.1:8002']);
  t.deepEqual(summary(await sd(base, '?health=critical&service=db')), ['db@a1=127.0.0.1:5432', 'db@b1=127.0.0.1:5432']);
  t.is((await sd(base, '?service=web&service=db&health=passing&health=critical')).length, 4);
  t.deepEqual(await sd(base, '?service=db&health=passing'), []);
  t.deepEqual(await sd(base, '?service=nosuch'), []);

  for (const [q, msg] of [
    ['?health=ok', /health="ok" must be one of passing, warning, critical, maintenance/],
    ['?service=..%2Fx', /service="..\/x" is not a valid service name/],
    ['?node=a1', /unknown query parameter "node"/],
  ] as const) {
    const r = await get(`${base}/http_sd${q}`);
    t.is(r.status, 400, q);
    t.regex(JSON.parse(r.body).error, msg, q);
  }

  // A killed node's endpoints expire with its lease and leave the list; the other node's stay.
  b.kill('SIGKILL');
  await waitFor(async () => (await sd(base)).every((g) => g.labels.__meta_beacon_node === 'a1'), {
    timeoutMs: 20_000,
    what: 'b1 gone from http_sd after its lease expired',
  });
  t.deepEqual(summary(await sd(base, '?service=web')), ['web@a1=127.0.0.1:8001']);
});

test('healthz says leader or standby; metrics count events, nodes and resyncs', async (t) => {
  const prefix = '/h2';
  await agent(t, prefix, 'c1', 8003);
  const doomed = await agent(t, prefix, 'c2', 8004);
  const [pa, pb] = [await freePort(), await freePort()];
  const calls = hookFile();
  const file = (id: string, port: number) => {
    const cfg = {
      etcd: { endpoints: etcd.endpoints.split(',') },
      prefix,
      watcher: { id, electionTtl: '2s', probeInterval: '1s', massFailure: { hold: '1s' } },
      hooks: [recordingHook(calls)],
      http: { listen: `127.0.0.1:${port}` },
    };
    return writeConfig(JSON.stringify(cfg), 'watcher.json');
  };
  // The config's http.listen this time.
  const first = new BeaconProcess(['watcher', '--config', file('wa', pa)]);
  t.teardown(() => first.stop('SIGKILL'));
  await waitLeading(first);
  const second = new BeaconProcess(['watcher', '--config', file('wb', pb)]);
  t.teardown(() => second.stop('SIGKILL'));
  await second.waitLine((l) => l.msg === 'http listening', 15_000);

  const lead = await waitFor(async () => {
    const r = await get(`http://127.0.0.1:${pa}/healthz`);
    return r.status === 200 ? r : undefined;
  }, { what: 'leader healthz 200' });
  t.regex(lead.type, /^application\/json/);
  t.like(JSON.parse(lead.body), { status: 'ok', role: 'leader', id: 'wa' });
  const standby = await waitFor(async () => {
    const r = await get(`http://127.0.0.1:${pb}/healthz`);
    return r.status === 200 ? r : undefined;
  }, { what: 'standby healthz 200' });
  t.like(JSON.parse(standby.body), { status: 'ok', role: 'standby', id: 'wb' });

  const s = await scrape(`http://127.0.0.1:${pa}/metrics`);
  t.is(valueOf(s, 'beacon_watcher_leader'), 1);
  t.is(valueOf(s, 'beacon_watcher_etcd_up'), 1);
  t.is(valueOf(s, 'beacon_watcher_nodes', { status: 'up' }), 2);
  t.true((valueOf(s, 'beacon_watcher_resyncs_total') ?? 0) >= 1);
  t.is(valueOf(await scrape(`http://127.0.0.1:${pb}/metrics`), 'beacon_watcher_leader'), 0);

  doomed.kill('SIGKILL');
  const after = await waitFor(async () => {
    const x = await scrape(`http://127.0.0.1:${pa}/metrics`);
    return valueOf(x, 'beacon_watcher_events_total', { type: 'NodeFailed' }) === 1 ? x : undefined;
  }, { timeoutMs: 20_000, what: 'beacon_watcher_events_total{type="NodeFailed"} 1 on the leader' });
  t.is(valueOf(after, 'beacon_watcher_nodes', { status: 'failed' }), 1);
  const hooked = await waitFor(async () => {
    const x = await scrape(`http://127.0.0.1:${pa}/metrics`);
    return valueOf(x, 'beacon_watcher_hook_outcomes_total', { hook: 'remedy', outcome: 'ok' }) === 1 ? x : undefined;
  }, { timeoutMs: 20_000, what: 'beacon_watcher_hook_outcomes_total{hook="remedy",outcome="ok"} 1' });
  t.is(valueOf(hooked, 'beacon_watcher_hook_outcomes_total', { hook: 'remedy', outcome: 'failed' }), undefined);
  t.is(hookCalls(calls).length, 1);
  t.is(valueOf(after, 'beacon_watcher_nodes', { status: 'up' }), 1);
  t.is(valueOf(await scrape(`http://127.0.0.1:${pb}/metrics`), 'beacon_watcher_events_total', { type: 'NodeFailed' }), undefined);
});

test('a bad --listen is a usage error naming the flag; a port in use fails the start', async (t) => {
  const cfg = watcherConfigFile({ endpoints: etcd.endpoints, prefix: '/h3', id: 'w3' });
  const bad = beacon(['watcher', '--config', cfg, '--listen', 'nope']);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /--listen: must be HOST:PORT.*\(got "nope"\)/);

  const port = await freePort();
  const holder = new BeaconProcess(['watcher', '--config', cfg, '--listen', `127.0.0.1:${port}`]);
  t.teardown(() => holder.stop('SIGKILL'));
  await holder.waitLine((l) => l.msg === 'http listening', 15_000);
  const busy = beacon(['watcher', '--config', cfg, '--listen', `127.0.0.1:${port}`]);
  t.is(busy.code, 1);
  t.regex(busy.stderr, /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);

  // SIGTERM with a kept-alive scrape connection open: the watcher still stops promptly, exit 0.
  t.is((await get(`http://127.0.0.1:${port}/metrics`)).status, 200);
  holder.kill('SIGTERM');
  const code = await Promise.race([holder.exited, new Promise((r) => setTimeout(() => r('still running'), 15_000))]);
  t.is(code, 0);
});

test('healthz turns 503 while etcd does not answer, and 200 again after', async (t) => {
  const own = await EtcdCluster.start();
  t.teardown(async () => {
    own.members[0]!.signal('SIGCONT');
    await own.destroy();
  });
  const port = await freePort();
  const cfg = watcherConfigFile({ endpoints: own.endpoints, prefix: '/h4', id: 'w4' });
  const w = new BeaconProcess(['watcher', '--config', cfg, '--listen', `127.0.0.1:${port}`]);
  t.teardown(() => w.stop('SIGKILL'));
  const health = async (status: number) => {
    const r = await get(`http://127.0.0.1:${port}/healthz`);
    return r.status === status ? (JSON.parse(r.body) as Record<string, unknown>) : undefined;
  };
  await waitFor(() => health(200), { timeoutMs: 20_000, what: 'healthz 200' });
  own.members[0]!.signal('SIGSTOP');
  const down = await waitFor(() => health(503), { timeoutMs: 20_000, what: 'healthz 503 with etcd frozen' });
  t.is(down.status, 'etcd-unreachable');
  t.is(valueOf(await scrape(`http://127.0.0.1:${port}/metrics`), 'beacon_watcher_etcd_up'), 0);
  own.members[0]!.signal('SIGCONT');
  const up = await waitFor(() => health(200), { timeoutMs: 20_000, what: 'healthz 200 after etcd resumed' });
  t.is(up.status, 'ok');
});
