// What a node's history says of each change (pure): a loss names how it was seen and the DELETE's
// revision, and an etcd leader change shortly before it; conditions and maintenance only when they change.
import test from 'ava';
import type { ConditionsRecord, MaintenanceRecord } from '../../src/types.js';
import { conditionEntries, maintenanceEntries, partitionEntries, transitionEntries } from '../../src/watcher/history-notes.js';
import type { NodeEvent, StatusRecord } from '../../src/watcher/records.js';

const NOW = Date.parse('2026-12-01T00:01:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

const up: StatusRecord = { schema: 1, node: 'n1', state: 'up', since: iso(NOW - 50_000), lastSeen: iso(NOW - 40_000), reason: 'Registered', lease: 'a1', bootId: 'b', address: '10.0.0.1' };
const failed: StatusRecord = { ...up, state: 'failed', since: iso(NOW), lastSeen: iso(NOW), reason: 'LeaseExpired' };
const event = (type: NodeEvent['event'], extra: Partial<NodeEvent> = {}): NodeEvent => ({
  schema: 1, id: `n1.a1.${type}`, event: type, node: 'n1', time: iso(NOW), reason: 'LeaseExpired', detectedBy: 'watch',
  lease: 'a1', bootId: 'b', address: '10.0.0.1', previous: 'up', hooks: {}, ...extra,
});

test('a failure seen in the watch names the lease, the DELETE revision and when the node was last seen up', (t) => {
  const entries = transitionEntries({ events: [event('NodeFailed')], d: { by: 'watch', deleted: { lease: 'a1', revision: '42' } }, prev: up, next: failed, live: undefined }, undefined, NOW);
  t.is(entries.length, 1);
  t.like(entries[0], { what: 'NodeFailed', id: 'n1.a1.NodeFailed', revision: '42' });
  t.regex(entries[0]!.detail, /lease a1 expired .*seen in a watch event; last seen up at /);
});

test('an etcd leader change is noted with a loss, not with a join', (t) => {
  const changedAt = NOW - 30_000;
  const loss = transitionEntries({ events: [event('NodeFailed')], d: { by: 'resync' }, prev: up, next: failed, live: undefined }, changedAt, NOW);
  t.deepEqual(loss.map((e) => e.what), ['NodeFailed', 'EtcdLeaderChanged']);
  t.is(loss[1]!.time, iso(changedAt));
  t.regex(loss[1]!.detail, /30 s before this was seen/);
  t.is(loss[0]!.revision, undefined, 'no DELETE revision when found by comparing');
  const join = transitionEntries({ events: [event('NodeJoined', { reason: 'Registered', previous: 'unknown' })], d: { by: 'resync' }, prev: undefined, next: up, live: undefined }, changedAt, NOW);
  t.deepEqual(join.map((e) => e.what), ['NodeJoined']);
});

test('a condition is noted when its status or reason changes, never for a record gone with its lease', (t) => {
  const rec = (status: 'True' | 'False', reason: string): ConditionsRecord => ({
    schema: 1, node: 'n1', watermark: null, bootId: 'b',
    conditions: [{ type: 'KernelDeadlock', status, reason, message: '', lastTransitionTime: iso(NOW) }],
  });
  t.deepEqual(conditionEntries(undefined, rec('False', 'KernelHasNoDeadlock')), []);
  t.deepEqual(conditionEntries(rec('False', 'KernelHasNoDeadlock'), rec('True', 'DockerHung')).map((e) => e.detail), ['KernelDeadlock False -> True (DockerHung)']);
  t.deepEqual(conditionEntries(rec('True', 'DockerHung'), undefined), []);
});

test('maintenance is noted when it starts, changes and ends', (t) => {
  const m = (reason: string | null, services: Record<string, string> = {}): MaintenanceRecord => ({ schema: 1, node: 'n1', reason, services, updatedAt: iso(NOW) });
  t.deepEqual(maintenanceEntries(undefined, m('kernel upgrade'), new Date(NOW)).map((e) => e.detail), ['maintenance started: node: kernel upgrade']);
  t.deepEqual(maintenanceEntries(m('kernel upgrade'), m('kernel upgrade'), new Date(NOW)), []);
  t.deepEqual(maintenanceEntries(m('kernel upgrade'), m(null, { web: 'deploy' }), new Date(NOW)).map((e) => e.detail), ['maintenance changed: web: deploy']);
  t.deepEqual(maintenanceEntries(m(null, { web: 'deploy' }), undefined, new Date(NOW)), [{ time: iso(NOW), what: 'Maintenance', detail: 'maintenance ended (was web: deploy)' }]);
});

test('a mass failure is noted on each failed node, naming the others', (t) => {
  const e = event('PartitionSuspected', { id: 'PartitionSuspected.1', node: '*' });
  const notes = partitionEntries({ tripped: true, nodes: ['n1', 'n2'], known: 3 }, e);
  t.deepEqual(notes.map(([n, entry]) => [n, entry.detail]), [
    ['n1', '2 of 3 known nodes failed within the window (with n2): remedy hooks suspended'],
    ['n2', '2 of 3 known nodes failed within the window (with n1): remedy hooks suspended'],
  ]);
});
