// The Renderer against a real etcd (records written with etcdctl) and real files: it follows changes, keeps
// running through a failing render and a refused check (the old file stays), and keeps the last good render
// while etcd is down, saying so in its status and health file, until a fresh listing.
import test from 'ava';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { endpoint, setup } from './support.js';
import { liveRecord } from '../helpers/records.js';

let etcd: EtcdCluster;

test.before(async () => {
  etcd = await EtcdCluster.start();
});

test.after.always(async () => {
  await etcd?.destroy();
});

const LIST = '{{#each passing.web}}{{node}}={{port}} {{/each}}|{{#each services.web}}{{node}}:{{health}} {{/each}}|{{#each nodes}}{{name}}:{{status}}:{{labels.zone}} {{/each}}';

test.serial('renders on start and on every change; an empty service renders as an empty list', async (t) => {
  const r = setup(t, etcd, '/r-follow', LIST);
  await r.until('||', 'the first render of an empty registry');
  etcd.etcdctl(['put', r.keys.endpoint('web', 'a'), endpoint('web', 'a', 81)]);
  etcd.etcdctl(['put', r.keys.endpoint('web', 'b'), endpoint('web', 'b', 82, { health: 'critical' })]);
  await r.until('a=81 |a:passing b:critical |', 'both endpoints');
  const live = liveRecord({ name: 'a', address: '127.0.0.1', labels: { zone: 'z1' } });
  etcd.etcdctl(['put', r.keys.live('a'), JSON.stringify(live)]);
  await r.until('a=81 |a:passing b:critical |a:up:z1 ', 'the node');
  etcd.etcdctl(['del', r.keys.endpoint('web', 'a')]);
  await r.until('|b:critical |a:up:z1 ', 'a removed');
  const s = r.renderer.status();
  t.true(s.healthy);
  t.is(s.etcd, 'up');
  t.true(s.writes >= 3);
  t.like(r.health(), { healthy: true, etcd: 'up' });
});

test.serial('a failing render and a refused check keep the old file; the renderer keeps going', async (t) => {
  // Strict mode: an endpoint without meta.weight fails the render; the check refuses any "forbidden" tag.
  const r = setup(t, etcd, '/r-fail', '{{#each passing.web}}{{node}} w={{meta.weight}} {{join tags "+"}}\n{{/each}}', {
    target: { checkCmd: '! grep -q forbidden {{staged}}' },
  });
  etcd.etcdctl(['put', r.keys.endpoint('web', 'a'), endpoint('web', 'a', 81, { meta: { weight: '5' } })]);
  await r.until('a w=5 \n', 'the first render');

  etcd.etcdctl(['put', r.keys.endpoint('web', 'b'), endpoint('web', 'b', 82)]);
  await waitFor(() => r.renderer.status().lastError?.stage === 'render', { what: 'a render failure' });
  t.regex(r.renderer.status().lastError!.message, /weight/);
  t.false(r.renderer.status().healthy);
  t.is(r.read(), 'a w=5 \n', 'the old file stays');
  // Back to the state whose render is in place: healthy again, nothing rewritten.
  const writes = r.renderer.status().writes;
  etcd.etcdctl(['del', r.keys.endpoint('web', 'b')]);
  await waitFor(() => r.renderer.status().healthy, { what: 'healthy once the registry renders to the file in place' });
  t.is(r.renderer.status().writes, writes);

  etcd.etcdctl(['put', r.keys.endpoint('web', 'b'), endpoint('web', 'b', 82, { meta: { weight: '1' }, tags: ['forbidden'] })]);
  await waitFor(() => r.renderer.status().lastError?.stage === 'check', { what: 'a refused check' });
  t.is(r.renderer.status().checkFailures, 1);
  t.is(r.read(), 'a w=5 \n', 'the old file stays');
  // The health file is written after the status changes (in order, asynchronously): wait for it to follow.
  await waitFor(() => r.health()?.lastError?.stage === 'check', { what: 'the health file to report the refused check' });
  t.like(r.health(), { healthy: false, lastError: { stage: 'check' } });

  etcd.etcdctl(['put', r.keys.endpoint('web', 'b'), endpoint('web', 'b', 82, { meta: { weight: '1' }, tags: ['x', 'y'] })]);
  await r.until('a w=5 \nb w=1 x+y\n', 'the fixed render');
  await waitFor(() => r.renderer.status().healthy, { what: 'healthy again' });
  t.is(r.renderer.status().lastError, undefined);
});

test.serial('while etcd is down the last render stays and the status says so; after it returns, changes render again', async (t) => {
  const r = setup(t, etcd, '/r-outage', LIST);
  etcd.etcdctl(['put', r.keys.endpoint('web', 'a'), endpoint('web', 'a', 81)]);
  await r.until('a=81 |a:passing |', 'the first render');
  const before = r.read();
  await etcd.members[0]!.stop();
  await waitFor(() => r.renderer.status().etcd === 'down', { timeoutMs: 15_000, what: 'etcd noticed down' });
  await waitFor(() => r.health()?.etcd === 'down' && r.health()?.healthy === false, { what: 'the health file to say so' });
  t.is(r.read(), before, 'the last good render stays in place');
  await etcd.members[0]!.start();
  await waitFor(() => r.renderer.status().etcd === 'up', { timeoutMs: 20_000, what: 'etcd noticed back' });
  etcd.etcdctl(['put', r.keys.endpoint('web', 'c'), endpoint('web', 'c', 83)]);
  await r.until('a=81 c=83 |a:passing c:passing |', 'a render after the outage', 15_000);
  t.true(r.renderer.status().healthy);
});
