// The mass-failure guard over the leader's status records: a trip leaves one PartitionSuspected pending
// until it is settled, a release is told but raises nothing, and a takeover catches up without a new trip.
import test from 'ava';
import pino from 'pino';
import { MassFailureAlarm } from '../../src/watcher/mass-failure-alarm.js';
import type { Versioned } from '../../src/watcher/record-keeper.js';
import type { StatusRecord } from '../../src/watcher/records.js';

const CFG = { share: 0.5, windowMs: 60_000, minNodes: 3, holdMs: 0 };
const log = pino({ level: 'silent' });

function statuses(states: Record<string, StatusRecord['state']>): Map<string, Versioned<StatusRecord>> {
  const since = new Date().toISOString();
  return new Map(
    Object.entries(states).map(([node, state]) => [
      node,
      { record: { schema: 1, node, state, since, lastSeen: since, reason: 'x', lease: 'a1', bootId: 'b', address: '10.0.0.1' }, modRevision: '1' },
    ]),
  );
}

function alarm() {
  const told = { tripped: 0, changed: 0 };
  const a = new MassFailureAlarm(CFG, { tripped: () => told.tripped++, changed: () => told.changed++ }, log);
  return { a, told };
}

test('a trip is pending once until settled; the release raises nothing', (t) => {
  const { a, told } = alarm();
  t.false(a.check(statuses({ n1: 'up', n2: 'up', n3: 'failed', n4: 'up' })).tripped);
  t.is(a.pendingTrip, undefined);
  const g = a.check(statuses({ n1: 'failed', n2: 'up', n3: 'failed', n4: 'up' }));
  t.true(g.tripped);
  t.true(a.isTripped);
  t.deepEqual(a.pendingTrip?.nodes, ['n1', 'n3']);
  t.deepEqual(told, { tripped: 1, changed: 1 });
  a.check(statuses({ n1: 'failed', n2: 'failed', n3: 'failed', n4: 'up' }));
  t.deepEqual(told, { tripped: 1, changed: 1 }, 'still tripped: not raised again');
  a.settle();
  t.is(a.pendingTrip, undefined);
  t.false(a.check(statuses({ n1: 'up', n2: 'up', n3: 'up', n4: 'up' })).tripped);
  t.deepEqual(told, { tripped: 1, changed: 2 });
  t.is(a.pendingTrip, undefined);
});

test('a takeover during a mass failure catches up without raising it again', (t) => {
  const { a, told } = alarm();
  const failing = statuses({ n1: 'failed', n2: 'failed', n3: 'up' });
  a.resume(failing);
  t.true(a.isTripped);
  t.is(a.check(failing).tripped, true);
  t.is(a.pendingTrip, undefined);
  t.deepEqual(told, { tripped: 0, changed: 0 });
});
