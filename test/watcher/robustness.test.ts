// What must not stop or fool the watcher: garbage under the prefix (bad bytes, bad JSON, unknown schema,
// huge values, keys beacon never writes), a hung etcd (noticed by the probe within seconds), and etcd
// going away and coming back while a node dies (reported once after the watcher lists again).
import test from 'ava';
import { Keys } from '../../src/etcd/keys.js';
import { EtcdCluster, freePort, putRaw, waitFor } from '../helpers/etcd.js';
import { BeaconProcess } from '../helpers/process.js';
import { endpointRecord, identityRecord, liveRecord } from '../helpers/records.js';
import { get, scrape, valueOf } from '../metrics/support.js';
import { nodeEvents, startAgent, startAgents, startWatcher, stopGracefully, waitEvent, waitLeading, watcherConfigFile } from './support.js';

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

// Records that are JSON but fail the published schema: a malformed lease in an identity (once taken for an
// etcd outage, or failing every reconcile), garbage live records, endpoints Prometheus would reject.
// None reaches etcd, a status, a label or a target; other nodes' failures still arrive within TTL + 1 s.
test('records failing the schema: no reconcile loop, no outage, valid-only metrics and targets, failures on time', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const prefix = '/t-schema';
  const keys = new Keys(prefix);
  const put = (key: string, value: unknown) => putRaw(etcd, key, Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)));
  const badNodes = {
    hexless: identityRecord({ name: 'hexless', lease: 'zz-not-hex' }),
    dotdot: identityRecord({ name: 'dotdot', lease: '../../x' }),
  };
  for (const [n, rec] of Object.entries(badNodes)) put(keys.identity(n), rec);
  put(keys.live('exploding'), liveRecord({ name: 'exploding', state: 'exploding' as 'up' }));
  put(keys.live('rack'), liveRecord({ name: 'rack', labels: { rack: { a: 1 } } as unknown as Record<string, string> }));
  put(keys.live('badlease'), liveRecord({ name: 'badlease', lease: '../../x' }));
  put(keys.endpoint('web', 'good'), endpointRecord({ node: 'good', address: '127.0.0.1', port: 9100 }));
  const { tags: _tags, ...noTags } = endpointRecord({ node: 'notags' });
  put(keys.endpoint('web', 'notags'), noTags);
  put(keys.endpoint('web', 'meta'), endpointRecord({ node: 'meta', meta: { n: 1 } as unknown as Record<string, string> }));
  put(keys.endpoint('web', 'bigport'), JSON.stringify(endpointRecord({ node: 'bigport' })).replace('"port":8080', '"port":1e400'));
  put(keys.endpoint('web', 'notip'), endpointRecord({ node: 'notip', address: 'not-an-ip' }));
  const invalidKeys = 9;

  const agents = await startAgents(t, etcd.endpoints, prefix, ['n1', 'n2'], '3s');
  const port = await freePort();
  const watcher = new BeaconProcess(['watcher', '--config', watcherConfigFile({ endpoints: etcd.endpoints, prefix, id: 'w-schema' }), '--listen', `127.0.0.1:${port}`]);
  t.teardown(() => stopGracefully(watcher));
  await waitLeading(watcher);
  await waitEvent(watcher, 'NodeJoined', 'n1');
  await waitEvent(watcher, 'NodeJoined', 'n2');
  await watcher.waitLine((l) => l.msg === 'in sync', 15_000);
  const base = `http://127.0.0.1:${port}`;

  // /http_sd: 200, the good target only, every label value a string.
  const sd = await waitFor(async () => {
    const r = await get(`${base}/http_sd`);
    return r.status === 200 && (JSON.parse(r.body) as unknown[]).length > 0 ? r : undefined;
  }, { timeoutMs: 15_000, what: 'http_sd synced' });
  const groups = JSON.parse(sd.body) as { targets: string[]; labels: Record<string, unknown> }[];
  t.deepEqual(groups.map((g) => g.targets), [['127.0.0.1:9100']]);
  t.true(Object.values(groups[0]!.labels).every((v) => typeof v === 'string'));

  // Metrics: only valid records count as up; unreadable ones are unknown; invalid keys are counted.
  await waitFor(async () => valueOf(await scrape(`${base}/metrics`), 'beacon_watcher_invalid_records') === invalidKeys, { timeoutMs: 15_000, what: `${invalidKeys} invalid records` });
  const m = await scrape(`${base}/metrics`);
  t.is(valueOf(m, 'beacon_watcher_nodes', { status: 'up' }), 2);
  t.is(valueOf(m, 'beacon_watcher_nodes', { status: 'unknown' }), 5);
  t.is(valueOf(m, 'beacon_watcher_invalid_records_total'), invalidKeys);

  // Another node's failure arrives within the usual bound (failure.test.ts: TTL + 1 s).
  const killedAt = Date.now();
  await agents[0]!.stop('SIGKILL');
  const failed = await waitEvent(watcher, 'NodeFailed', 'n1', 10_000);
  const latency = Date.parse(failed.time as string) - killedAt;
  t.true(latency <= 3_000 + 1_000, `NodeFailed ${latency} ms after SIGKILL`);

  // Nothing looped: no reconcile failure, no outage, each invalid key logged once, no event about garbage.
  await new Promise((r) => setTimeout(r, 3_000));
  t.is(watcher.withMsg('reconcile failed').length, 0);
  t.is(watcher.withMsg('etcd not answering').length, 0);
  t.is(watcher.withMsg('etcd not answering; will retry').length, 0);
  const logged = watcher.withMsg('undecodable record ignored').map((l) => l.key as string);
  t.is(logged.length, new Set(logged).size, 'each key once per revision');
  t.is(logged.length, invalidKeys);
  t.deepEqual(nodeEvents(watcher).map((e) => `${e.event} ${e.node}`).sort(), ['NodeFailed n1', 'NodeJoined n1', 'NodeJoined n2']);

  // A fixed key leaves the gauge; a deleted one too.
  put(keys.endpoint('web', 'notip'), endpointRecord({ node: 'notip', address: '127.0.0.2', port: 9100 }));
  etcd.etcdctl(['del', keys.endpoint('web', 'meta')]);
  await waitFor(async () => valueOf(await scrape(`${base}/metrics`), 'beacon_watcher_invalid_records') === invalidKeys - 2, { timeoutMs: 10_000, what: 'the gauge to go down' });
  const after = JSON.parse((await get(`${base}/http_sd`)).body) as { targets: string[] }[];
  t.deepEqual(after.map((g) => g.targets[0]).sort(), ['127.0.0.1:9100', '127.0.0.2:9100']);
});
