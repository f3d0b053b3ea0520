// Valid records of each kind as beacon's own writers produce them (schema/v1/), for tests that put records
// by hand: override only the fields a test is about, so fixtures keep passing the codec.
import type { EndpointRecord, NodeIdentity, NodeRecord } from '../../src/types.js';

/** A lease id as etcdctl prints it. */
export const LEASE = '390da21e114c7205';

/** A node live record. */
export function liveRecord(over: Partial<NodeRecord> & Record<string, unknown> = {}): NodeRecord {
  return {
    schema: 1, name: 'node1', state: 'up', machineId: '3d1219c7c4c5404aaa1f6d2a48adfda4', bootId: '94c7a4a7-76dc-4a73-8a8b-580979eed464',
    address: '10.0.0.21', addressSource: 'config', addresses: ['10.0.0.21'], labels: {},
    facts: { os: 'Debian GNU/Linux', osRelease: '12', kernel: '6.1.0-18-amd64', arch: 'x86_64', cpus: 2, memoryBytes: 4109434880 },
    agentVersion: '0.1.0', pid: 812, startedAt: '2024-05-01T10:00:00.152Z', registeredAt: '2024-05-01T10:00:00.177Z', lease: LEASE, ttl: 10,
    ...over,
  } as NodeRecord;
}

/** A node identity record. */
export function identityRecord(over: Partial<NodeIdentity> & Record<string, unknown> = {}): NodeIdentity {
  return {
    schema: 1, name: 'node1', machineId: '3d1219c7c4c5404aaa1f6d2a48adfda4', bootId: '94c7a4a7-76dc-4a73-8a8b-580979eed464',
    lease: LEASE, registeredAt: '2024-05-01T10:00:00.177Z', left: null,
    ...over,
  } as NodeIdentity;
}

/** An endpoint record. */
export function endpointRecord(over: Partial<EndpointRecord> & Record<string, unknown> = {}): EndpointRecord {
  const service = (over.service as string | undefined) ?? 'web';
  const node = (over.node as string | undefined) ?? 'node1';
  return {
    schema: 1, id: `${node}/${service}`, service, node, address: '10.0.0.21', port: 8080, protocol: 'tcp', tags: ['http'],
    meta: { version: '1.4.2' }, health: 'passing', output: 'no checks', since: '2024-05-01T10:00:00.152Z', lease: LEASE,
    ...over,
  } as EndpointRecord;
}

const BOOT = '94c7a4a7-76dc-4a73-8a8b-580979eed464';
const AT = '2024-05-01T10:00:00.152Z';

/** A node conditions record. */
export function conditionsRecord(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: 1, node: 'node1', bootId: BOOT, watermark: null,
    conditions: [{ type: 'KernelDeadlock', status: 'False', reason: 'KernelHasNoDeadlock', message: 'kernel has no deadlock', lastTransitionTime: AT }],
    ...over,
  };
}

/** A node maintenance marker. */
export function maintenanceRecord(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { schema: 1, node: 'node1', reason: 'kernel upgrade', services: { web: 'draining' }, updatedAt: AT, ...over };
}

/** A node problem event, as the agent writes it. */
export function nodeEventRecord(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: 1, node: 'node1', id: 'OOMKilling.1', source: 'kernel-monitor', reason: 'OOMKilling', message: 'Killed process 1234 (java)',
    count: 1, firstTime: AT, lastTime: AT, severity: 'warn',
    ...over,
  };
}

/** A node status kept by the watcher. */
export function statusRecord(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { schema: 1, node: 'node1', state: 'up', since: AT, lastSeen: AT, reason: 'Registered', lease: LEASE, bootId: BOOT, address: '10.0.0.21', ...over };
}

/** A watcher event with one hook outcome (the watcher writes it under its retention lease). */
export function watcherEventRecord(over: Record<string, unknown> = {}): Record<string, unknown> {
  const node = (over.node as string | undefined) ?? 'node1';
  return {
    schema: 1, id: `${node}.${LEASE}.NodeJoined`, event: 'NodeJoined', node, time: AT, reason: 'Registered', detectedBy: 'watch', lease: LEASE, bootId: BOOT,
    address: '10.0.0.21', previous: 'unknown', hooks: { notify: { state: 'ok', attempts: 1, durationMs: 5, output: 'sent', exitCode: 0 } },
    ...over,
  };
}

/** A reaction progress record (a hook's run for one event). */
export function reactionRecord(over: Record<string, unknown> = {}): Record<string, unknown> {
  const { hooks: _hooks, ...event } = watcherEventRecord();
  return {
    schema: 1, id: `${event.id as string}.remedy`, hook: 'remedy', event, state: 'done', notBefore: AT, owner: null,
    attempts: [{ attempt: 1, owner: 'w1', startedAt: AT, state: 'ok', durationMs: 12, output: 'restarted', exitCode: 0 }],
    outcome: { state: 'ok', attempts: 1, durationMs: 12, output: 'restarted', exitCode: 0 },
    createdAt: AT, updatedAt: AT,
    ...over,
  };
}

/** A node usage record (docs/capacity.md): one measured service with a reservation, one reserved only. */
export function usageRecord(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: 1, node: 'node1', at: AT, windowSeconds: 300, capacity: { cpu: 2, memoryBytes: 4109434880 }, used: { cpu: 0.4, memoryBytes: 1288490188 },
    services: {
      web: { reserved: { cpu: 0.5, memoryBytes: 268435456 }, source: 'unit:web.service', used: { cpu: 0.031, memoryBytes: 52428800 }, error: null },
      batch: { reserved: { cpu: 2, memoryBytes: null }, source: null, used: null, error: null },
    },
    ...over,
  };
}
