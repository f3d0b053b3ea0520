// Writes only on change, with checks running: an http check probing every second moves etcd's revision
// only when the endpoint's health changes, one transaction per change.
import test from 'ava';
import { join } from 'node:path';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { agentYaml, getJson, httpServer, shortTempDir, startAgent } from './health-support.js';

const PREFIX = '/t-hsteady';
const WEB = `${PREFIX}/v1/services/web/n1`;

test('etcd revision moves only on health changes, never on a steady check', async (t) => {
  const etcd = await EtcdCluster.start();
  const server = await httpServer(200);
  t.teardown(async () => {
    await server.close();
    await etcd.destroy();
  });
  const agent = startAgent(
    t,
    agentYaml(etcd, PREFIX, 'n1', join(shortTempDir(), 'a.sock'), [
      'services:',
      '  - name: web',
      '    port: 8080',
      '    checks:',
      `      - http: http://127.0.0.1:${server.port}/healthz`,
      '        interval: 1s',
      '        timeout: 500ms',
    ]),
  );
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  const health = () => getJson(etcd, WEB)?.health;
  await waitFor(() => health() === 'passing', { timeoutMs: 10_000, what: 'web passing' });

  // Hold still for ~10 s while the check probes every second: no write at all.
  const steady = async (rev: number, seconds: number, what: string) => {
    const hits = server.hits;
    for (let i = 0; i < seconds * 2; i++) {
      await new Promise((r) => setTimeout(r, 500));
      t.is(etcd.revision(), rev, `revision moved during ${what} after ${(i + 1) * 500} ms`);
    }
    t.true(server.hits - hits >= seconds / 2, `the check kept probing during ${what} (${server.hits - hits} requests)`);
  };
  const rev0 = etcd.revision();
  await steady(rev0, 10, 'the steady passing state');
  // Counted after the quiet period: the agent logs an update only after its transaction returns, so the
  // log line of the write that made web passing can trail what etcd already shows.
  const updates0 = agent.withMsg('registration updated').length;

  // Each transition is exactly one write: passing → warning (429) → critical (500) → passing.
  const transitions: [number, string][] = [
    [429, 'warning'],
    [500, 'critical'],
    [200, 'passing'],
  ];
  let rev = rev0;
  for (const [status, expected] of transitions) {
    server.status = status;
    await waitFor(() => health() === expected, { timeoutMs: 10_000, what: `web ${expected}` });
    rev++;
    await steady(rev, 3, `the steady ${expected} state`);
    const ep = getJson(etcd, WEB)!;
    t.is(ep.health, expected);
    if (expected !== 'passing') t.regex(String(ep.output), new RegExp(String(status)), 'the output names what the check saw');
  }
  t.is(agent.withMsg('registration updated').length - updates0, transitions.length, 'one registration update per change');
  t.is(agent.withMsg('registered').length, 1);
});
