// The maintenance marker over the real health tracker (no checks run: maintenance needs none).
import test from 'ava';
import { pino } from 'pino';
import { HealthChecks } from '../../src/checks/health-checks.js';
import { MaintenanceMarker } from '../../src/agent/maintenance.js';
import { SCHEMA_VERSION, type MaintenanceRecord } from '../../src/types.js';

const STARTED = '2020-01-01T00:00:00.000Z';

function marker() {
  const checks = new HealthChecks({
    services: [{ name: 'web', checks: [] }, { name: 'db', checks: [] }],
    log: pino({ level: 'silent' }),
    onChange: () => undefined,
  });
  return { checks, m: new MaintenanceMarker(checks, STARTED) };
}

const stored: MaintenanceRecord = { schema: SCHEMA_VERSION, node: 'n1', reason: null, services: { db: 'disk swap' }, updatedAt: '2019-12-31T00:00:00.000Z' };

test('the stored marker is restored as it was, time included; the endpoints show it', (t) => {
  const { checks, m } = marker();
  t.is(m.record('n1'), undefined, 'no marker while nothing is in maintenance');
  m.restore(stored);
  t.deepEqual(m.record('n1'), stored);
  t.like(checks.health.get('db'), { health: 'maintenance', output: 'service in maintenance: disk swap' });
  t.like(checks.health.get('web'), { health: 'passing' });
});

test('changes made before the marker is read go on top of it, and are newer', (t) => {
  const { checks, m } = marker();
  t.deepEqual(m.set(undefined, 'kernel upgrade'), { node: 'kernel upgrade', services: {} });
  t.is(m.set(undefined, 'kernel upgrade'), undefined, 'the same again is no change');
  t.deepEqual(m.set('web', 'deploy'), { node: 'kernel upgrade', services: { web: 'deploy' } });
  m.restore(stored);
  t.deepEqual(m.state(), { node: 'kernel upgrade', services: { web: 'deploy', db: 'disk swap' } });
  const rec = m.record('n1')!;
  t.not(rec.updatedAt, stored.updatedAt);
  t.true(rec.updatedAt > STARTED);
  t.like(checks.health.get('db'), { health: 'maintenance', output: 'service in maintenance: disk swap' });
  t.like(checks.health.get('web'), { health: 'maintenance', output: 'service in maintenance: deploy' });

  // Ending the last maintenance removes the marker.
  m.set(undefined, null);
  m.set('web', null);
  m.set('db', null);
  t.is(m.record('n1'), undefined);
  t.like(checks.health.get('db'), { health: 'passing' });
});

test('an early end of maintenance wins over the stored marker', (t) => {
  const { checks, m } = marker();
  t.is(m.set('db', null), undefined, 'nothing to end yet');
  m.restore(stored);
  t.deepEqual(m.state(), { node: null, services: {} });
  t.is(m.record('n1'), undefined);
  t.like(checks.health.get('db'), { health: 'passing' });
});
