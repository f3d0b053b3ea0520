// Maintenance end to end: `beacon maint` talks to the agent's local API, the agent marks the endpoints
// `maintenance` and stores the marker in etcd (unleased), and a restarted agent starts from it (its
// first registration already says `maintenance`, never a "passing" flash).
import test from 'ava';
import { join } from 'node:path';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { beacon, writeConfig } from '../helpers/process.js';
import { checkRecord, readDoc, tables } from '../docs/markdown.js';
import { agentYaml, getJson, keyLease, shortTempDir, startAgent, TcpServer, waitHealth } from './health-support.js';

const PREFIX = '/t-hmaint';
const MAINT = `${PREFIX}/v1/nodes/n1/maintenance`;

test('maint enable/disable for a service and the node, stored in etcd, kept across a restart', async (t) => {
  const etcd = await EtcdCluster.start();
  const db = await TcpServer.start();
  t.teardown(async () => {
    await db.close();
    await etcd.destroy();
  });
  const socket = join(shortTempDir(), 'agent.sock');
  const cfg = writeConfig(
    agentYaml(etcd, PREFIX, 'n1', socket, [
      'services:',
      '  - { name: web, port: 8080 }',
      '  - name: db',
      `    port: ${db.port}`,
      '    checks:',
      `      - tcp: 127.0.0.1:${db.port}`,
      '        interval: 1s',
      '        timeout: 500ms',
    ]),
  );
  let agent = startAgent(t, '', cfg);
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  await waitHealth(etcd, PREFIX, 'db', 'passing');
  t.is(getJson(etcd, MAINT), undefined, 'no marker while nothing is in maintenance');
  const maint = (...args: string[]) => beacon(['maint', ...args]);

  // One service.
  let r = maint('enable', '--service', 'web', '--reason', 'deploy 1.4.3', '--socket', socket);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /service web: deploy 1\.4\.3/);
  const web = await waitHealth(etcd, PREFIX, 'web', 'maintenance');
  t.is(web.output, 'service in maintenance: deploy 1.4.3');
  t.is((await waitHealth(etcd, PREFIX, 'db', 'passing')).health, 'passing', 'the other service is untouched');
  t.like(getJson(etcd, MAINT), { schema: 1, node: 'n1', reason: null, services: { web: 'deploy 1.4.3' } });
  t.is(keyLease(etcd, MAINT), '', 'the marker is not leased: it survives the agent');

  // The whole node, through the socket named in the config file.
  r = maint('enable', '--reason', 'kernel upgrade', '-c', cfg);
  t.is(r.code, 0, r.stderr);
  const dbMaint = await waitHealth(etcd, PREFIX, 'db', 'maintenance');
  t.is(dbMaint.output, 'node in maintenance: kernel upgrade');
  t.is((await waitHealth(etcd, PREFIX, 'web', 'maintenance')).output, 'service in maintenance: deploy 1.4.3', 'the service reason wins');
  const marker = getJson(etcd, MAINT)!;
  t.like(marker, { reason: 'kernel upgrade', services: { web: 'deploy 1.4.3' } });
  const table = tables(readDoc('docs/keys.md')).find((x) => x.headers[0] === 'Field' && x.heading.includes('/maintenance`'))!;
  checkRecord(t, 'docs/keys.md', MAINT, marker, table, true);

  // Restart: the first registration of the new agent already carries maintenance.
  t.is(await agent.stop('SIGTERM'), 0);
  const rev = etcd.revision();
  agent = startAgent(t, '', cfg);
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  await new Promise((res) => setTimeout(res, 2_500)); // the db check has probed meanwhile
  const history = etcd
    .etcdctl(['watch', '--prefix', `${PREFIX}/v1/services/`, '--rev', String(rev + 1), '-w', 'json'], undefined, 2_000)
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => (JSON.parse(l) as { Events: { type?: number; kv: { value?: string } }[] }).Events)
    .filter((e) => e.type !== 1)
    .map((e) => (JSON.parse(Buffer.from(e.kv.value!, 'base64').toString()) as { service: string; health: string }));
  t.true(history.length >= 2, 'the new registration wrote both endpoints');
  t.deepEqual([...new Set(history.map((e) => e.health))], ['maintenance'], 'never anything but maintenance after the restart');
  t.like(getJson(etcd, MAINT), { reason: 'kernel upgrade', services: { web: 'deploy 1.4.3' } });

  // Node maintenance off: db shows its check again; web stays in its own maintenance.
  r = maint('disable', '--reason', 'upgrade done', '--socket', socket);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /service web: deploy 1\.4\.3/);
  await waitHealth(etcd, PREFIX, 'db', 'passing');
  t.is((await waitHealth(etcd, PREFIX, 'web', 'maintenance')).output, 'service in maintenance: deploy 1.4.3');
  r = maint('disable', '--service', 'web', '--socket', socket);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), 'nothing is in maintenance');
  t.is((await waitHealth(etcd, PREFIX, 'web', 'passing')).output, 'no checks');
  await waitFor(() => getJson(etcd, MAINT) === undefined, { timeoutMs: 5_000, what: 'the marker removed' });
  // (spawnSync above blocked this process: read the agent's log through waitLine, not lines.find)
  await agent.waitLine((l) => l.msg === 'maintenance changed' && l.note === 'upgrade done', 5_000);

  // Mistakes.
  r = maint('enable', '--service', 'nosuch', '--reason', 'x', '--socket', socket);
  t.is(r.code, 3, 'unknown service');
  t.regex(r.stderr, /no service named "nosuch"/);
  t.is(maint('enable', '--socket', socket).code, 2, 'enable needs --reason');
  t.is(maint('pause', '--reason', 'x', '--socket', socket).code, 2, 'enable or disable');
  r = maint('enable', '--reason', 'x', '--socket', join(shortTempDir(), 'none.sock'));
  t.is(r.code, 1, 'no agent there');
  t.regex(r.stderr, /cannot reach the beacon agent/);
});

test('maint during an etcd outage at start is kept on top of the stored marker', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const marker = `${PREFIX}/v1/nodes/n9/maintenance`;
  etcd.etcdctl(['put', marker, JSON.stringify({ schema: 1, node: 'n9', reason: 'rack move', services: {}, updatedAt: '2024-05-01T10:00:00.000Z' })]);
  await etcd.members[0]!.stop();
  const socket = join(shortTempDir(), 'agent.sock');
  const agent = startAgent(t, agentYaml(etcd, PREFIX, 'n9', socket, ['services:', '  - { name: web, port: 8080 }', '  - { name: db, port: 5432 }']));
  await agent.waitLine((l) => l.msg === 'local API listening', 20_000);
  const r = beacon(['maint', 'enable', '--service', 'web', '--reason', 'deploy', '--socket', socket]);
  t.is(r.code, 0, r.stderr);
  await etcd.members[0]!.start();
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  t.like(getJson(etcd, marker), { reason: 'rack move', services: { web: 'deploy' } });
  t.is((await waitHealth(etcd, PREFIX, 'db', 'maintenance')).output, 'node in maintenance: rack move');
  t.is((await waitHealth(etcd, PREFIX, 'web', 'maintenance')).output, 'service in maintenance: deploy');
});
