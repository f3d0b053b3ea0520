import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { HealthChecks } from '../../src/checks/health-checks.js';
import type { EndpointHealthState } from '../../src/checks/health.js';
import { parseChecks } from '../../src/checks/spec.js';
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
  hc.board.report('web-batch', 'passing', 'batch ok');
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

  ac.abort();
  await done;
  // Stopped: no more changes.
  const n = changes.length;
  code = 200;
  await new Promise((r) => setTimeout(r, 1200));
  t.is(changes.length, n);
});
