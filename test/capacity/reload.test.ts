// `resources` applied on reload (SIGHUP): the usage record appears under the same lease when a service
// starts declaring them, and is deleted when none does any more.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../helpers/process.js';

test('a reload adds and removes the usage record', async (t) => {
  const etcd = await EtcdCluster.start();
  const head = ['etcd:', `  endpoints: [${etcd.endpoints}]`, 'prefix: /t-cap-reload', 'node: { name: n1, ttl: 5s }', 'services:'];
  const path = writeConfig([...head, '  - { name: web, port: 80 }', ''].join('\n'));
  const agent = new BeaconProcess(['agent', '--config', path]);
  t.teardown(async () => {
    await agent.stop('SIGKILL');
    await etcd.destroy();
  });
  await agent.waitLine((l) => l.msg === 'registered', 30_000);
  const key = '/t-cap-reload/v1/nodes/n1/usage';
  const get = () => etcd.etcdctl(['get', key, '--print-value-only']).trim();
  t.is(get(), '', 'no usage record without resources');
  writeFileSync(path, [...head, '  - { name: web, port: 80, resources: { cpu: 250m, memory: 64Mi } }', ''].join('\n'));
  agent.kill('SIGHUP');
  const rec = await waitFor(() => get(), { timeoutMs: 20_000, what: 'usage record after reload' });
  const usage = JSON.parse(rec) as { services: Record<string, { reserved: unknown }> };
  t.deepEqual(usage.services.web?.reserved, { cpu: 0.25, memoryBytes: 64 * 2 ** 20 });
  writeFileSync(path, [...head, '  - { name: web, port: 80 }', ''].join('\n'));
  agent.kill('SIGHUP');
  await waitFor(() => get() === '', { timeoutMs: 20_000, what: 'usage record deleted after reload' });
  t.is(agent.withMsg('registered').length, 1, 'the same registration throughout');
});
