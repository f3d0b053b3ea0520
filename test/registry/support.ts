// What the registry's tests against a real etcd share: a single-member etcd, a store with 1 s deadlines,
// and node `n1`'s records (its live key) as an agent would render them for a Registration.
import type { ExecutionContext } from 'ava';
import { Keys } from '../../src/etcd/keys.js';
import { Store } from '../../src/etcd/store.js';
import type { Desired } from '../../src/registry/registration.js';
import { SCHEMA_VERSION } from '../../src/types.js';
import { EtcdCluster } from '../helpers/etcd.js';

export async function oneNode(t: ExecutionContext, prefix: string) {
  const etcd = await EtcdCluster.start(1);
  t.teardown(() => etcd.destroy());
  const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 1_000, dialTimeoutMs: 1_000 });
  t.teardown(() => store.close());
  const keys = new Keys(prefix);
  const self = { machineId: 'm'.repeat(32), bootId: 'b1', pid: process.pid };
  const render = (lease: { id: string }): Desired => ({
    leased: new Map([
      [
        keys.live('n1'),
        JSON.stringify({ schema: SCHEMA_VERSION, name: 'n1', state: 'up', bootId: self.bootId, machineId: self.machineId, pid: self.pid, address: '10.0.0.1', labels: {}, lease: lease.id }),
      ],
    ]),
    unleased: new Map(),
  });
  return { etcd, store, keys, self, render };
}
