// Classification on its own: the same inputs give the same decision from a watch event or after a gap,
// and a transition already in the status record is never reported again.
import test from 'ava';
import { decide, type Observation } from '../../src/watcher/classify.js';
import type { StatusRecord } from '../../src/watcher/records.js';
import type { NodeIdentity, NodeRecord } from '../../src/types.js';

const now = new Date('2024-05-01T12:00:10.000Z');

function rec(lease: string, extra: Partial<NodeRecord> = {}): NodeRecord {
  return {
    schema: 1,
    name: 'n1',
    state: 'up',
    machineId: 'm',
    bootId: 'boot1',
    address: '10.0.0.1',
    addressSource: 'config',
    addresses: ['10.0.0.1'],
    labels: {},
    facts: { os: 'linux', osRelease: '', kernel: '', arch: 'x64', cpus: 1, memoryBytes: 1 },
    agentVersion: '0',
    pid: 1,
    startedAt: '',
    registeredAt: '',
    lease,
    ttl: 3,
    ...extra,
  };
}

function ident(lease: string, left = false, bootId = 'boot1'): NodeIdentity {
  return { schema: 1, name: 'n1', machineId: 'm', bootId, lease, registeredAt: '', left: left ? { lease, at: '' } : null };
}

function status(state: StatusRecord['state'], lease: string, extra: Partial<StatusRecord> = {}): StatusRecord {
  return {
    schema: 1,
    node: 'n1',
    state,
    since: '2024-05-01T12:00:00.000Z',
    lastSeen: '2024-05-01T12:00:05.000Z',
    reason: 'x',
    lease,
    bootId: 'boot1',
    address: '10.0.0.1',
    ...extra,
  };
}

const live = (lease: string, extra: Partial<NodeRecord> = {}): Observation => ({
  node: 'n1',
  live: { lease, modRevision: '5', record: rec(lease, extra) },
  identity: ident(lease, false, extra.bootId),
});

test('first live record: NodeJoined, status up', (t) => {
  const d = decide(live('a1'), undefined, now, 'resync');
  t.deepEqual(d.events.map((e) => [e.event, e.id, e.previous]), [['NodeJoined', 'n1.a1.NodeJoined', 'unknown']]);
  t.like(d.status, { state: 'up', lease: 'a1', since: now.toISOString(), reason: 'Registered' });
});

test('nothing changed: no status write, no event (the steady state costs nothing)', (t) => {
  const d = decide(live('a1'), status('up', 'a1'), now, 'watch');
  t.deepEqual(d, { events: [] });
});

test('leaving: status only; the delete that follows is NodeLeft', (t) => {
  const leaving = decide(live('a1', { state: 'leaving' }), status('up', 'a1'), now, 'watch');
  t.deepEqual(leaving.events, []);
  t.like(leaving.status, { state: 'leaving', reason: 'Leaving' });
  const gone = decide(
    { node: 'n1', identity: ident('a1', true), deleted: { lease: 'a1', record: rec('a1', { state: 'leaving' }) } },
    leaving.status,
    now,
    'watch',
  );
  t.deepEqual(gone.events.map((e) => [e.event, e.previous, e.reason]), [['NodeLeft', 'leaving', 'Left']]);
  t.like(gone.status, { state: 'left', lease: 'a1' });
});

test('the leave marker on the identity alone is enough', (t) => {
  const d = decide({ node: 'n1', identity: ident('a1', true), deleted: { lease: 'a1', record: rec('a1') } }, status('up', 'a1'), now, 'watch');
  t.is(d.events[0]!.event, 'NodeLeft');
});

test('a delete without a leave marker: the lease is checked; gone is NodeFailed, alive is a hand-made delete', (t) => {
  const obs: Observation = { node: 'n1', identity: ident('a1'), deleted: { lease: 'a1', record: rec('a1') } };
  const st = status('up', 'a1');
  t.deepEqual(decide(obs, st, now, 'watch'), { events: [], checkLease: 'a1' });
  const alive = decide(obs, st, now, 'watch', 4);
  t.deepEqual(alive, { events: [], recheckAfterMs: 4500 });
  const failed = decide(obs, st, now, 'watch', -1);
  t.deepEqual(failed.events.map((e) => [e.event, e.id, e.address, e.previous]), [['NodeFailed', 'n1.a1.NodeFailed', '10.0.0.1', 'up']]);
  t.like(failed.status, { state: 'failed', lease: 'a1', reason: 'LeaseExpired', lastSeen: now.toISOString() });
});

test('after a gap: the status says up, the live record is gone → NodeFailed (resync), last seen kept', (t) => {
  const d = decide({ node: 'n1', identity: ident('a1') }, status('up', 'a1'), now, 'resync', -1);
  t.like(d.events[0], { event: 'NodeFailed', detectedBy: 'resync', lease: 'a1' });
  t.is(d.status!.lastSeen, '2024-05-01T12:00:05.000Z');
});

test('reported once: a failed status for the same registration means nothing more to say', (t) => {
  t.deepEqual(decide({ node: 'n1', identity: ident('a1') }, status('failed', 'a1'), now, 'resync'), { events: [] });
  t.deepEqual(decide({ node: 'n1', identity: ident('a1', true) }, status('left', 'a1'), now, 'resync'), { events: [] });
});

test('a registration that came and went unseen is reported by its own lease', (t) => {
  const d = decide({ node: 'n1', identity: ident('a2') }, status('failed', 'a1'), now, 'resync', -1);
  t.like(d.events[0], { event: 'NodeFailed', lease: 'a2', id: 'n1.a2.NodeFailed', previous: 'unknown' });
});

test('a node known only by its identity (it died before any watcher ran) is reported', (t) => {
  t.is(decide({ node: 'n1', identity: ident('a1') }, undefined, now, 'resync', -1).events[0]!.event, 'NodeFailed');
  t.is(decide({ node: 'n1', identity: ident('a1', true) }, undefined, now, 'resync').events[0]!.event, 'NodeLeft');
});

test('failed then registered again: NodeRecovered with the downtime, and NodeRebooted when the boot id changed', (t) => {
  const same = decide(live('a2'), status('failed', 'a1'), now, 'watch');
  t.deepEqual(same.events.map((e) => [e.event, e.downtimeMs]), [['NodeRecovered', 10_000]]);
  t.like(same.status, { state: 'up', lease: 'a2', reason: 'Recovered' });
  const rebooted = decide(live('a2', { bootId: 'boot2' }), status('failed', 'a1'), now, 'watch');
  t.deepEqual(rebooted.events.map((e) => [e.event, e.previousBootId]), [['NodeRecovered', undefined], ['NodeRebooted', 'boot1']]);
});

test('left then back: NodeJoined (previous left)', (t) => {
  const d = decide(live('a2'), status('left', 'a1'), now, 'watch');
  t.deepEqual(d.events.map((e) => [e.event, e.previous, e.reason]), [['NodeJoined', 'left', 'Rejoined']]);
});

test('up under a new lease: re-registered (status only) or rebooted', (t) => {
  const restarted = decide(live('a2'), status('up', 'a1'), now, 'resync');
  t.deepEqual(restarted.events, []);
  t.like(restarted.status, { lease: 'a2', reason: 'Reregistered', since: '2024-05-01T12:00:00.000Z' });
  const rebooted = decide(live('a2', { bootId: 'boot2' }), status('up', 'a1'), now, 'watch');
  t.deepEqual(rebooted.events.map((e) => e.event), ['NodeRebooted']);
});

test('garbage decides nothing: an undecodable live record, or an unreadable identity alone', (t) => {
  const garbage: Observation = { node: 'n1', live: { lease: 'a1', modRevision: '3' } };
  t.deepEqual(decide(garbage, status('up', 'a0'), now, 'watch'), { events: [] });
  t.deepEqual(decide(garbage, undefined, now, 'watch'), { events: [] });
  t.deepEqual(decide({ node: 'n1', identityUnreadable: true }, undefined, now, 'resync'), { events: [] });
  t.deepEqual(decide({ node: 'n1' }, undefined, now, 'resync'), { events: [] });
});

test('an overdue lease still holding the live key: NodeFailed, LeaseOverdue, detected by the audit', (t) => {
  const obs: Observation = { ...live('a1'), overdue: 'a1' };
  const d = decide(obs, status('up', 'a1'), now, 'resync');
  t.deepEqual(d.events.map((e) => [e.event, e.reason, e.detectedBy, e.lease, e.previous]), [['NodeFailed', 'LeaseOverdue', 'audit', 'a1', 'up']]);
  t.like(d.status, { state: 'failed', reason: 'LeaseOverdue', lease: 'a1' });
  t.is(d.checkLease, undefined, 'no second lease lookup: the audit read it expired');
  // Once recorded, the same observation (the key still there until the revoke lands) changes nothing.
  t.deepEqual(decide(obs, d.status, now, 'resync').events, []);
});

test('an overdue lease of a node marked leaving is a graceful leave', (t) => {
  const obs: Observation = { ...live('a1', { state: 'leaving' }), overdue: 'a1' };
  const d = decide(obs, status('leaving', 'a1'), now, 'watch');
  t.deepEqual(d.events.map((e) => [e.event, e.reason]), [['NodeLeft', 'Left']]);
});

test('an overdue mark for an older lease does not touch a newer registration', (t) => {
  const obs: Observation = { ...live('a2'), overdue: 'a1' };
  const d = decide(obs, status('up', 'a2'), now, 'watch');
  t.deepEqual(d.events, []);
});
