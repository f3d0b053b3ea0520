// `services` (`beacon render --service`): only the named services are followed, so a change to any other
// service causes no render at all, and the template context holds only those services (naming another one
// fails the render loudly instead of reading as an empty list). A renderer without the filter runs beside
// as the control: it proves the other changes were delivered to anyone following everything.
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

const LIVE = liveRecord({ name: 'a', address: '127.0.0.1' });
const TEMPLATE = '{{#each services}}{{@key}}:{{#each this}}{{node}}:{{port}},{{/each}} {{/each}}|{{#each nodes}}{{name}}={{join services "+"}} {{/each}}';

test('with services, only those are followed and in the context; a change to another service renders nothing', async (t) => {
  const prefix = '/sf-follow';
  const only = setup(t, etcd, prefix, TEMPLATE, { renderer: { services: ['web', 'api', 'web'] } });
  const all = setup(t, etcd, prefix, TEMPLATE);
  const k = only.keys;
  etcd.etcdctl(['put', k.live('a'), JSON.stringify(LIVE)]);
  etcd.etcdctl(['put', k.endpoint('web', 'a'), endpoint('web', 'a', 81)]);
  etcd.etcdctl(['put', k.endpoint('api', 'a'), endpoint('api', 'a', 91)]);
  // `webx` shares a key prefix with `web`: following `web` must not pick it up.
  etcd.etcdctl(['put', k.endpoint('webx', 'a'), endpoint('webx', 'a', 71)]);
  etcd.etcdctl(['put', k.endpoint('other', 'a'), endpoint('other', 'a', 61)]);
  await only.until('api:a:91, web:a:81, |a=api+web ', 'the filtered render');
  await all.until('api:a:91, other:a:61, web:a:81, webx:a:71, |a=api+other+web+webx ', 'the unfiltered render');

  const renders = only.renderer.status().renders;
  const controlRenders = all.renderer.status().renders;
  etcd.etcdctl(['put', k.endpoint('webx', 'a'), endpoint('webx', 'a', 72)]);
  etcd.etcdctl(['put', k.endpoint('other', 'b'), endpoint('other', 'b', 62)]);
  etcd.etcdctl(['del', k.endpoint('other', 'a')]);
  await all.until('api:a:91, other:b:62, web:a:81, webx:a:72, |a=api+web+webx ', 'the control to render the other services');
  t.true(all.renderer.status().renders > controlRenders, 'the control rendered them');
  // A change to a followed service afterwards: the filtered renderer renders exactly once, for it.
  etcd.etcdctl(['put', k.endpoint('web', 'a'), endpoint('web', 'a', 82)]);
  await only.until('api:a:91, web:a:82, |a=api+web ', 'the followed change');
  t.is(only.renderer.status().renders, renders + 1, 'no render for the other services');
  await waitFor(() => only.health()?.renders === renders + 1, { what: 'the health file to count the same' });
  t.true(only.renderer.status().healthy);
});

test('with services, a followed service without endpoints is an empty list, and naming another one fails the render', async (t) => {
  const ok = setup(t, etcd, '/sf-names', '[{{#each passing.web}}{{node}}{{/each}}]', { renderer: { services: ['web'] } });
  await ok.until('[]', 'an empty followed service');
  const bad = setup(t, etcd, '/sf-names', '[{{#each passing.web}}{{node}}{{/each}}][{{#each passing.api}}{{node}}{{/each}}]', { renderer: { services: ['web'] } });
  const err = await waitFor(() => bad.renderer.status().lastError, { what: 'the render to fail' });
  t.is(err.stage, 'render');
  t.regex(err.message, /passing\.api: not a followed service \(only web\)/);
  t.is(bad.read(), undefined, 'nothing written');
  t.false(bad.renderer.status().healthy);
});
