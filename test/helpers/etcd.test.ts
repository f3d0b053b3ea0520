import test from 'ava';
import { EtcdCluster } from './etcd.js';

test('harness starts a real etcd and etcdctl reaches it', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  etcd.etcdctl(['put', '/x', 'y']);
  t.is(etcd.etcdctl(['get', '/x', '--print-value-only']).trim(), 'y');
  t.true(etcd.revision() >= 2);
});
