// The agent as a real process against a real etcd: register, leave, die, conflict, reload.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../helpers/process.js';

let etcd: EtcdCluster;
test.before(async () => {
  etcd = await EtcdCluster.start();
});
test.after.always(async () => {
  await etcd?.destroy();
});

function config(prefix: string, node: string, services: { name: string; port: number }[], ttl = '2s'): string {
  return [
    'etcd:',
    `  endpoints: [${etcd.endpoints}]`,
    `prefix: ${prefix}`,
    'node:',
    `  name: ${node}`,
    `  ttl: ${ttl}`,
    '  labels: { role: test }',
    'services:',
    ...services.map((s) => `  - name: ${s.name}\n    port: ${s.port}`),
    '',
  ].join('\n');
}

function keysUnder(prefix: string): string[] {
  return etcd.etcdctl(['get', prefix, '--prefix', '--keys-only']).split('\n').filter(Boolean);
}

function getJson(key: string): Record<string, unknown> | undefined {
  const out = etcd.etcdctl(['get', key, '--print-value-only']).trim();
  return out ? JSON.parse(out) : undefined;
}

function startAgent(t: { teardown(fn: () => unknown): void }, cfgPath: string): BeaconProcess {
  const p = new BeaconProcess(['agent', '--config', cfgPath]);
  t.teardown(() => p.stop('SIGKILL'));
  return p;
}

test('registers node and services under one lease, visible with etcdctl', async (t) => {
  const prefix = '/t-register';
  const agent = startAgent(t, writeConfig(config(prefix, 'n1', [{ name: 'web', port: 8080 }, { name: 'api', port: 9090 }])));
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  const live = getJson(`${prefix}/v1/nodes/n1/live`)!;
  t.is(live.schema, 1);
  t.is(live.name, 'n1');
  t.is(live.state, 'up');
  t.deepEqual(live.labels, { role: 'test' });
  const web = getJson(`${prefix}/v1/services/web/n1`)!;
  const api = getJson(`${prefix}/v1/services/api/n1`)!;
  t.is(web.port, 8080);
  t.is(web.health, 'passing');
  t.is(api.node, 'n1');
  const identity = getJson(`${prefix}/v1/nodes/n1/identity`)!;
  t.is(identity.left, null);
  // Every leased key carries the same lease, the one named in the records.
  const leases = new Set(
    [`${prefix}/v1/nodes/n1/live`, `${prefix}/v1/services/web/n1`, `${prefix}/v1/services/api/n1`].map((k) => {
      // etcdctl prints the int64 lease as a JSON number: read it as text, not through a double.
      const m = /"lease":(\d+)/.exec(etcd.etcdctl(['get', k, '-w', 'json']));
      return BigInt(m![1]!).toString(16).padStart(16, '0');
    }),
  );
  t.deepEqual([...leases], [live.lease]);
  const ttl = etcd.etcdctl(['lease', 'timetolive', String(live.lease)]);
  t.regex(ttl, /granted with TTL\(2s\)/);
});

test('SIGKILL: every leased key disappears within TTL + 1 s', async (t) => {
  const prefix = '/t-kill';
  const agent = startAgent(t, writeConfig(config(prefix, 'n1', [{ name: 'web', port: 80 }])));
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  const killedAt = Date.now();
  await agent.stop('SIGKILL');
  await waitFor(() => !keysUnder(`${prefix}/v1/services/`).length && !getJson(`${prefix}/v1/nodes/n1/live`), {
    timeoutMs: 3_000,
    intervalMs: 50,
    what: 'leased keys gone after SIGKILL',
  });
  t.log(`keys gone ${Date.now() - killedAt} ms after SIGKILL (TTL 2 s)`);
  // The identity record persists: a later watcher can still tell a known node is gone.
  t.truthy(getJson(`${prefix}/v1/nodes/n1/identity`));
});

test('SIGTERM: marked leaving first, then all leased keys gone within 1 s, exit 0', async (t) => {
  const prefix = '/t-term';
  const agent = startAgent(t, writeConfig(config(prefix, 'n1', [{ name: 'web', port: 80 }], '10s')));
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  const rev = etcd.revision();
  const stoppedAt = Date.now();
  const code = await agent.stop('SIGTERM');
  t.is(code, 0);
  await waitFor(() => !getJson(`${prefix}/v1/nodes/n1/live`) && !keysUnder(`${prefix}/v1/services/`).length, {
    timeoutMs: 1_000,
    what: 'keys gone after SIGTERM',
  });
  t.log(`keys gone ${Date.now() - stoppedAt} ms after SIGTERM (TTL 10 s)`);
  // The history shows the leaving mark written before the delete.
  const history = etcd
    .etcdctl(['watch', `${prefix}/v1/nodes/n1/live`, `--rev=${rev + 1}`, '--prev-kv'], undefined, 1_500)
    .split('\n');
  const putIdx = history.findIndex((l) => l.includes('"state":"leaving"'));
  const delIdx = history.findIndex((l) => l === 'DELETE');
  t.true(putIdx >= 0 && delIdx > putIdx, history.join('\n'));
  const identity = getJson(`${prefix}/v1/nodes/n1/identity`)!;
  t.truthy(identity.left);
  t.is((identity.left as { lease: string }).lease, identity.lease as string);
});

test('a second agent with the same node name does not take the first one\'s keys', async (t) => {
  const prefix = '/t-conflict';
  const first = startAgent(t, writeConfig(config(prefix, 'same', [{ name: 'web', port: 1111 }])));
  await first.waitLine((l) => l.msg === 'registered', 20_000);
  const before = getJson(`${prefix}/v1/nodes/same/live`)!;
  // A different machine (as a cloned host would be) claims the same name.
  const cfg2 = writeConfig(config(prefix, 'same', [{ name: 'web', port: 2222 }]));
  const second = new BeaconProcess(['agent', '--config', cfg2], {});
  t.teardown(() => second.stop('SIGKILL'));
  // Same machine and boot, but a live pid: must not be mistaken for a stale registration of its own.
  const conflict = await second.waitLine((l) => String(l.msg).startsWith('node name held by another live lease'));
  t.is(conflict.holderLease, before.lease);
  const after = getJson(`${prefix}/v1/nodes/same/live`)!;
  t.is(after.lease, before.lease);
  t.is(after.pid, before.pid);
  t.is(getJson(`${prefix}/v1/services/web/same`)!.port, 1111);
  // When the first leaves, the second takes the name.
  await first.stop('SIGTERM');
  await second.waitLine((l) => l.msg === 'registered', 10_000);
  t.is(getJson(`${prefix}/v1/services/web/same`)!.port, 2222);
});

test('SIGHUP applies an added and a removed service under the same lease', async (t) => {
  const prefix = '/t-hup';
  const path = writeConfig(config(prefix, 'n1', [{ name: 'web', port: 80 }, { name: 'old', port: 81 }]));
  const agent = startAgent(t, path);
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  const lease = getJson(`${prefix}/v1/nodes/n1/live`)!.lease;
  writeFileSync(path, config(prefix, 'n1', [{ name: 'web', port: 80 }, { name: 'new', port: 82 }]));
  agent.kill('SIGHUP');
  await waitFor(() => getJson(`${prefix}/v1/services/new/n1`) && !getJson(`${prefix}/v1/services/old/n1`), {
    what: 'service new added and old removed',
  });
  t.is(getJson(`${prefix}/v1/nodes/n1/live`)!.lease as string, lease as string);
  t.is(getJson(`${prefix}/v1/services/new/n1`)!.lease as string, lease as string);
  t.is(agent.withMsg('registered').length, 1);
});
