// Writes only on change: an idle agent sends keepalives (not raft writes) and nothing else.
import test from 'ava';
import { EtcdCluster } from '../helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../helpers/process.js';

test('etcd revision does not move for 30 s while an agent idles', async (t) => {
  const etcd = await EtcdCluster.start();
  const cfg = writeConfig(
    [
      'etcd:',
      `  endpoints: [${etcd.endpoints}]`,
      'prefix: /t-steady',
      // A short TTL means many keepalives in the window: they must not be writes.
      'node: { name: n1, ttl: 2s }',
      'services:',
      '  - { name: web, port: 80 }',
      '  - { name: api, port: 81 }',
      '',
    ].join('\n'),
  );
  const agent = new BeaconProcess(['agent', '--config', cfg]);
  t.teardown(async () => {
    await agent.stop('SIGKILL');
    await etcd.destroy();
  });
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  const start = etcd.revision();
  const until = Date.now() + 30_000;
  // Check every second, so a regression shows up with the moment it happened.
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 1_000));
    t.is(etcd.revision(), start, `revision moved after ${30_000 - (until - Date.now())} ms of idling`);
  }
  t.is(agent.withMsg('registered').length, 1);
  t.is(agent.withMsg('registration lost').length, 0);
});
