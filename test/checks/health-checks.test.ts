import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { HealthChecks } from '../../src/checks/health-checks.js';
import type { EndpointHealthState } from '../../src/checks/health.js';
import { parseChecks } from '../../src/checks/spec.js';
import { UnknownCheckError } from '../../src/checks/ttl.js';
import { waitFor } from '../helpers/etcd.js';
import { silent } from './util.js';

test('a service with http and ttl checks: real server, real reports, changes only', async (t) => {
  let code = 200;
  const server = http.createServer((_req, res) => res.writeHead(code).end(`code ${code}`));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  const doc = parseYaml(`
checks:
  - http: http://127.0.0.1:${port}/healthz
    interval: 1s
    timeout: 500ms
  - ttl: 30s
    id: web-batch
`) as { checks: unknown[] };
  const checks = parseChecks(doc.checks, 'services[0].checks', 'web');
  const changes: EndpointHealthState[] = [];
  const hc = new HealthChecks({
    services: [{ name: 'web', checks }],
    log: silent,
    onChange: (service, state) => {
      t.is(service, 'web');
      changes.push(state);
    },
    random: () => 0,
  });
  t.like(hc.health.get('web'), { health: 'critical' });
  const ac = new AbortController();
  const done = hc.run(ac.signal);
  t.teardown(() => ac.abort());

  // http passes on its first attempt; the ttl check (initial critical) now explains the critical endpoint.
  await waitFor(() => changes.length === 1, { what: 'http passing' });
  t.like(changes[0], { health: 'critical', output: 'ttl 30s: no result yet (initial status)' });
  hc.report('web-batch', 'passing', 'batch ok');
  await waitFor(() => changes.length === 2, { what: 'endpoint passing' });
  t.like(changes[1], { health: 'passing', output: '2 checks passing' });

  // Steady passing checks cost nothing.
  const since = () => hc.checkStates().get('web:http:0')!.since;
  const before = since();
  await new Promise((r) => setTimeout(r, 2200));
  t.is(changes.length, 2);
  t.is(since(), before);

  code = 500;
  await waitFor(() => changes.length === 3, { what: 'endpoint critical' });
  t.like(changes[2], { health: 'critical' });
  t.regex(changes[2]!.output, /^http http:\/\/127\.0\.0\.1:\d+\/healthz: HTTP GET .*: 500 Internal Server Error Output: code 500$/);

  hc.setMaintenance('web', 'deploying');
  t.like(changes[3], { health: 'maintenance', output: 'service in maintenance: deploying' });
  t.deepEqual(hc.maintenance(), { node: null, services: { web: 'deploying' } });

  ac.abort();
  await done;
  // Stopped: no more changes.
  const n = changes.length;
  code = 200;
  await new Promise((r) => setTimeout(r, 1200));
  t.is(changes.length, n);
});

test('new service lists: a changed service starts over, the others keep their state, a removed one stops', async (t) => {
  const ttl = (id: string, service: string) => parseChecks([{ ttl: '30s', id }], 'services[0].checks', service);
  const changes: [string, EndpointHealthState][] = [];
  const hc = new HealthChecks({
    services: [
      { name: 'web', checks: ttl('web-ttl', 'web') },
      { name: 'db', checks: ttl('db-ttl', 'db') },
      { name: 'batch', checks: ttl('batch-ttl', 'batch') },
    ],
    log: silent,
    onChange: (service, state) => changes.push([service, state]),
    maintenance: { services: { batch: 'paused' } },
  });
  const ac = new AbortController();
  const done = hc.run(ac.signal);
  t.teardown(() => ac.abort());
  for (const id of ['web-ttl', 'db-ttl']) hc.report(id, 'passing', 'ok');
  await waitFor(() => hc.health.get('web')?.health === 'passing' && hc.health.get('db')?.health === 'passing', { what: 'both passing' });
  const dbBefore = hc.health.get('db');

  // Same list: nothing replaced, nothing reported.
  const n = changes.length;
  t.deepEqual(hc.setServices([{ name: 'web', checks: ttl('web-ttl', 'web') }, { name: 'db', checks: ttl('db-ttl', 'db') }, { name: 'batch', checks: ttl('batch-ttl', 'batch') }]), []);
  t.is(changes.length, n);

  // web gets a longer TTL (its checks changed), batch goes, api comes; db is left alone.
  const web2 = parseChecks([{ ttl: '45s', id: 'web-ttl' }], 'services[0].checks', 'web');
  t.deepEqual(hc.setServices([{ name: 'web', checks: web2 }, { name: 'db', checks: ttl('db-ttl', 'db') }, { name: 'api', checks: [] }]), ['web']);
  t.like(hc.health.get('web'), { health: 'critical', output: 'ttl 45s: no result yet (initial status)' });
  t.is(hc.health.get('db'), dbBefore);
  t.is(hc.health.get('batch'), undefined);
  t.like(hc.health.get('api'), { health: 'passing', output: 'no checks' });
  t.deepEqual([...hc.checkStates().keys()].sort(), ['db-ttl', 'web-ttl']);
  t.throws(() => hc.report('batch-ttl', 'passing', ''), { instanceOf: UnknownCheckError });
  // A removed service's maintenance stays: it applies again if the service comes back.
  t.deepEqual(hc.maintenance(), { node: null, services: { batch: 'paused' } });

  // The new web check takes reports and runs: its change reaches onChange.
  const before = changes.length;
  hc.report('web-ttl', 'warning', 'slow');
  await waitFor(() => hc.health.get('web')?.health === 'warning', { what: 'new web check reported' });
  t.like(changes.at(-1), ['web', { health: 'warning', output: 'ttl 45s: slow' }]);
  t.true(changes.slice(before).every(([s]) => s === 'web'));

  ac.abort();
  await done;
});
