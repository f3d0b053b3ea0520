// The agent watches its own keys to repair changes made by others, and warns `own key changed by
// someone else` when it sees one. Its own writes must never raise that warning, even when their watch
// event arrives before the transaction's answer (then the event waits for the revision the
// transaction returns). Real `beacon maint` toggles, in quick succession, plus a first health change.
import { join } from 'node:path';
import test from 'ava';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { beacon, writeConfig } from '../helpers/process.js';
import { agentYaml, shortTempDir, startAgent, TcpServer, waitHealth } from './health-support.js';

const PREFIX = '/t-ownwrites';
const TOGGLES = 16;

test(`${TOGGLES} maint toggles and a first health change: no "own key changed by someone else"; a foreign write still warns`, async (t) => {
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
  const agent = startAgent(t, '', cfg);
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  await waitHealth(etcd, PREFIX, 'db', 'passing'); // the first health change (starting → passing)

  for (let i = 0; i < TOGGLES; i++) {
    const r = beacon(['maint', i % 2 === 0 ? 'enable' : 'disable', '--service', 'web', '--reason', `toggle ${i}`, '--socket', socket]);
    t.is(r.code, 0, r.stderr);
  }
  await waitHealth(etcd, PREFIX, 'web', 'passing');
  const updates = () => agent.withMsg('registration updated').length;
  // Quiet: every toggle's write has landed and echoed back.
  let seen = -1;
  await waitFor(
    async () => {
      const n = updates();
      const stable = n === seen;
      seen = n;
      if (!stable) await new Promise((r) => setTimeout(r, 1_000));
      return stable;
    },
    { timeoutMs: 20_000, intervalMs: 0, what: 'the agent quiet after the toggles' },
  );
  t.log(`${updates()} registration updates for ${TOGGLES} toggles`);
  t.true(updates() >= 2, 'the toggles were written');
  t.deepEqual(agent.withMsg('own key changed by someone else'), [], 'no warning for the agent\'s own writes');

  // The warning still means something: a write by someone else raises it (and is repaired).
  const key = `${PREFIX}/v1/services/web/n1`;
  const before = etcd.etcdctl(['get', key, '--print-value-only']).trim();
  const lease = etcd.etcdctl(['get', key, '-w', 'json']).match(/"lease":(-?\d+)/)![1]!;
  etcd.etcdctl(['put', key, before.replace('"passing"', '"critical"'), `--lease=${BigInt.asUintN(64, BigInt(lease)).toString(16)}`]);
  await agent.waitLine((l) => l.msg === 'own key changed by someone else', 5_000);
  await waitHealth(etcd, PREFIX, 'web', 'passing');
});
