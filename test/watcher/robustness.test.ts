// What must not stop or fool the watcher: garbage under the prefix (bad bytes, bad JSON, unknown schema,
// huge values, keys beacon never writes), a hung etcd (noticed by the probe within seconds), and etcd
// going away and coming back while a node dies (reported once after the watcher lists again).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { EtcdCluster, requireBinary, waitFor } from '../helpers/etcd.js';
import { nodeEvents, startAgent, startWatcher, stopGracefully, waitEvent, waitLeading } from './support.js';

function putRaw(etcd: EtcdCluster, key: string, value: Buffer): void {
  const r = spawnSync(requireBinary('etcdctl'), ['--endpoints', etcd.endpoints, 'put', key], {
    env: { ...process.env, ETCDCTL_API: '3' },
    input: value,
  });
  if (r.status !== 0) throw new Error(`etcdctl put ${key}: ${r.stderr.toString()}`);
}

const garbageLines = (w: { lines: Record<string, unknown>[] }) => w.lines.filter((l) => l.msg === 'undecodable record ignored');

test('garbage keys under the prefix are logged and counted, and change nothing', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const prefix = '/t-garbage';
  const n = `${prefix}/v1/nodes`;
  // Some garbage is there before the watcher starts (seen in its listing), some arrives while it watches.
  putRaw(etcd, `${prefix}/v1/watcher/reactions/bogus.remedy`, Buffer.from('{"schema":1,"state":"pending"'));
  putRaw(etcd, `${n}/g1/live`, Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x7b]));
  const agent = await startAgent(t, etcd.endpoints, prefix, 'n1');
  const spec = { endpoints: etcd.endpoints, prefix };
  const watcher = startWatcher(t, { ...spec, id: 'w-garbage' });
  await waitLeading(watcher);
  await waitEvent(watcher, 'NodeJoined', 'n1');

  putRaw(etcd, `${n}/g2/live`, Buffer.from('{"schema":1,"name":"g2",'));
  putRaw(etcd, `${n}/g3/live`, Buffer.from(JSON.stringify({ schema: 99, name: 'g3', state: 'up' })));
  putRaw(etcd, `${n}/g4/identity`, Buffer.from(JSON.stringify({ schema: 1, name: 'g4', pad: 'x'.repeat(1024 * 1024) })));
  putRaw(etcd, `${n}/g5/live`, Buffer.from(JSON.stringify({ schema: 1, name: 'someone-else', state: 'up', bootId: 'b', address: 'a', labels: {}, lease: 'x' })));
  putRaw(etcd, `${n}/junk`, Buffer.from('x'));
  putRaw(etcd, `${n}/\u00ff\u0001/live`, Buffer.from('{}'));
  etcd.etcdctl(['del', `${n}/g2/live`]);

  // Everything was logged and counted (the reaction garbage on takeover, the rest as it came).
  await waitFor(() => garbageLines(watcher).length >= 8, { timeoutMs: 10_000, what: 'garbage logged' });
  t.is(Math.max(...garbageLines(watcher).map((l) => l.garbage as number)), garbageLines(watcher).length);

  // The watcher still works, and reported nothing about the garbage.
  await agent.stop('SIGKILL');
  await waitEvent(watcher, 'NodeFailed', 'n1', 10_000);
  t.deepEqual(
    nodeEvents(watcher).map((e) => `${e.event} ${e.node}`),
    ['NodeJoined n1', 'NodeFailed n1'],
  );

  // A new leader reading the same garbage from its listing reports nothing either.
  await stopGracefully(watcher);
  const next = startWatcher(t, { ...spec, id: 'w-garbage-2' });
  await waitLeading(next);
  t.deepEqual(nodeEvents(next), []);
  t.true(garbageLines(next).length >= 5);
});

test('a hung etcd is noticed by the probe within seconds; after it resumes the watcher lists again', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const prefix = '/t-hung';
  // A TTL well above the time etcd stays stopped: etcd's lessor would otherwise expire the lease on resume.
  const agent = await startAgent(t, etcd.endpoints, prefix, 'n1', '10s');
  const watcher = startWatcher(t, { endpoints: etcd.endpoints, prefix, id: 'w-hung', watcher: { electionTtl: '5s' } });
  await waitLeading(watcher);
  await waitEvent(watcher, 'NodeJoined', 'n1');

  const from = watcher.lines.length;
  const stoppedAt = Date.now();
  etcd.members[0]!.signal('SIGSTOP');
  const noticed = await watcher.waitLine((l) => l.msg === 'etcd not answering' && l.component === 'feed', 10_000, from);
  t.true(Date.parse(noticed.time as string) - stoppedAt < 5_000, 'noticed within seconds');
  etcd.members[0]!.signal('SIGCONT');
  await watcher.waitLine((l) => l.msg === 'etcd answering again; resynchronised', 15_000, from);
  await watcher.waitLine((l) => l.msg === 'in sync', 5_000, from);
  t.deepEqual(nodeEvents(watcher).map((e) => e.event), ['NodeJoined']);

  // The new watch works.
  await agent.stop('SIGTERM');
  await waitEvent(watcher, 'NodeLeft', 'n1', 10_000);
});

test('etcd restarted while a node dies: reported once, after the watcher lists and watches again', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const prefix = '/t-restart';
  const agent = await startAgent(t, etcd.endpoints, prefix, 'n1');
  const watcher = startWatcher(t, { endpoints: etcd.endpoints, prefix, id: 'w-restart' });
  await waitLeading(watcher);
  await waitEvent(watcher, 'NodeJoined', 'n1');

  const from = watcher.lines.length;
  await etcd.members[0]!.stop('SIGKILL');
  await agent.stop('SIGKILL');
  await watcher.waitLine((l) => l.msg === 'etcd not answering', 10_000, from);
  await etcd.members[0]!.start();
  // etcd restores the dead node's lease with a full TTL: it expires a TTL after the restart.
  const failed = await waitEvent(watcher, 'NodeFailed', 'n1', 20_000);
  t.is(failed.previous, 'up');
  await watcher.waitLine((l) => l.msg === 'in sync', 5_000, from);
  t.is(nodeEvents(watcher, 'NodeFailed').length, 1);
});
