// The keys a node writes for one lease, from a given state: pure, so a plain state stands in for the agent's.
import test from 'ava';
import { leaseRecords, type NodeState } from '../../src/agent/lease-records.js';
import type { EndpointHealthState } from '../../src/checks/health.js';
import { Keys } from '../../src/etcd/keys.js';
import { SCHEMA_VERSION, type ConditionsRecord, type MaintenanceRecord } from '../../src/types.js';

const SINCE = '2030-01-01T00:00:00.000Z';

function state(health: Record<string, EndpointHealthState['health']>, extra: Partial<NodeState> = {}): NodeState {
  return {
    config: {
      node: { name: 'N1', ttl: 10, keepaliveIntervalMs: 3_000, keepaliveTimeoutMs: 700, labels: { zone: 'a' }, address: { address: '10.0.0.1', envFiles: [], order: ['config'] } },
      services: [
        { name: 'web', port: 8080, protocol: 'tcp', tags: [], meta: {}, checks: [] },
        { name: 'db', port: 5432, protocol: 'tcp', address: '10.0.0.9', tags: [], meta: {}, checks: [] },
        { name: 'new', port: 9000, protocol: 'tcp', tags: [], meta: {}, checks: [] },
      ],
      dns: { domain: 'beacon.local', prefix: '/skydns', ttl: 30 },
    },
    keys: new Keys('/p'),
    local: {
      identity: { machineId: 'a'.repeat(32), bootId: 'b'.repeat(36), warnings: [] },
      facts: { os: 'linux', osRelease: 'x', kernel: 'k', arch: 'x64', cpus: 2, memoryBytes: 1, diskBytes: 1 },
      address: { address: '10.0.0.1', source: 'config', addresses: ['10.0.0.1'] },
    },
    startedAt: SINCE,
    registeredAt: SINCE,
    health: (s) => (health[s] ? { health: health[s]!, output: health[s]!, since: SINCE } : undefined),
    ...extra,
  };
}

const lease = { id: '1f', ttl: 10 };

test('an unchanged state gives identical strings: a steady node writes nothing', (t) => {
  const s = state({ web: 'passing', db: 'critical' });
  t.deepEqual(leaseRecords(s, lease, 'up'), leaseRecords(s, lease, 'up'));
});

test('leased: live record, endpoints, SkyDNS records of passing endpoints only; unleased: the identity', (t) => {
  const { leased, unleased } = leaseRecords(state({ web: 'passing', db: 'passing' }), lease, 'up');
  t.deepEqual([...leased.keys()], [
    '/p/v1/nodes/N1/live',
    '/p/v1/services/web/N1',
    '/p/v1/services/db/N1',
    '/p/v1/services/new/N1',
    '/skydns/local/beacon/web/n1',
    '/skydns/local/beacon/db/n1',
  ]);
  t.is(leased.get('/skydns/local/beacon/db/n1'), '{"host":"10.0.0.9","port":5432,"ttl":30}');
  // A service whose checks do not exist yet is not healthy.
  t.like(JSON.parse(leased.get('/p/v1/services/new/N1')!), { health: 'critical', output: 'checks not started', since: SINCE });
  t.like(JSON.parse(leased.get('/p/v1/nodes/N1/live')!), { state: 'up', lease: '1f', ttl: 10, registeredAt: SINCE });
  t.deepEqual([...unleased.keys()], ['/p/v1/nodes/N1/identity']);
  t.like(JSON.parse(unleased.get('/p/v1/nodes/N1/identity')!), { lease: '1f', left: null });

  const critical = leaseRecords(state({ web: 'passing', db: 'critical' }), lease, 'up').leased;
  t.false(critical.has('/skydns/local/beacon/db/n1'));
});

test('leaving marks the live record and the identity; the maintenance marker and conditions go where they belong', (t) => {
  const maintenance: MaintenanceRecord = { schema: SCHEMA_VERSION, node: 'N1', reason: 'upgrade', services: {}, updatedAt: SINCE };
  const conditions: ConditionsRecord = { schema: SCHEMA_VERSION, node: 'N1', conditions: [], watermark: null, bootId: 'b'.repeat(36) };
  const { leased, unleased } = leaseRecords(state({ web: 'passing' }, { maintenance, conditions }), lease, 'leaving');
  t.like(JSON.parse(leased.get('/p/v1/nodes/N1/live')!), { state: 'leaving' });
  t.like(JSON.parse(unleased.get('/p/v1/nodes/N1/identity')!), { left: { lease: '1f' } });
  t.deepEqual(JSON.parse(unleased.get('/p/v1/nodes/N1/maintenance')!), maintenance);
  t.deepEqual(JSON.parse(leased.get('/p/v1/nodes/N1/conditions')!), conditions);
});
