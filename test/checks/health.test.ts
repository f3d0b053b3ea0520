import test from 'ava';
import { CHECK_OUTPUT_CAP_BYTES, ServiceHealth, worse, worstStatus, type EndpointHealthState } from '../../src/checks/health.js';

test('worst of: critical > warning > passing; none is passing', (t) => {
  t.is(worstStatus([]), 'passing');
  t.is(worstStatus(['passing', 'warning']), 'warning');
  t.is(worstStatus(['warning', 'critical', 'passing']), 'critical');
  t.is(worse('passing', 'passing'), 'passing');
});

function tracker(maintenance?: { node?: string | null; services?: Record<string, string> }) {
  const changes: [string, EndpointHealthState][] = [];
  let clock = 0;
  const h = new ServiceHealth({
    services: [
      { name: 'web', checks: [{ id: 'a', name: 'http', initialStatus: 'critical' }, { id: 'b', name: 'tcp', initialStatus: 'critical' }] },
      { name: 'db', checks: [] },
    ],
    onChange: (s, st) => changes.push([s, st]),
    now: () => new Date(Date.UTC(2030, 0, 1, 0, 0, clock++)),
    ...(maintenance ? { maintenance } : {}),
  });
  return { h, changes };
}

test('endpoint health is the worst check, reported only on change (of the health, its explanation, or a check\'s own status)', (t) => {
  const { h, changes } = tracker();
  const T0 = '2030-01-01T00:00:00.000Z';
  t.deepEqual(h.get('web'), {
    health: 'critical',
    output: 'http: no result yet (initial status)',
    since: T0,
    checks: [
      { id: 'a', name: 'http', status: 'critical', output: 'no result yet (initial status)', since: T0 },
      { id: 'b', name: 'tcp', status: 'critical', output: 'no result yet (initial status)', since: T0 },
    ],
  });
  t.deepEqual(h.get('db'), { health: 'passing', output: 'no checks', since: T0 }, 'no checks: no `checks`');
  h.update('web', 'a', { status: 'passing', output: 'ok' });
  // Still critical, but now explained by the other check: the stored output would be wrong, so it is a change.
  t.is(changes.length, 1);
  t.like(changes[0]![1], { health: 'critical', output: 'tcp: no result yet (initial status)', since: T0 });
  t.like(changes[0]![1].checks![0], { id: 'a', status: 'passing', output: 'ok' });
  t.not(changes[0]![1].checks![0]!.since, T0, 'the check\'s own since moved');
  h.update('web', 'b', { status: 'passing', output: 'ok' });
  t.like(changes[1]![1], { health: 'passing', output: '2 checks passing' });
  t.not(changes[1]![1].since, T0);
  // Steady: new output of a passing check is not a change.
  h.update('web', 'a', { status: 'passing', output: 'still ok' });
  t.is(changes.length, 2);
  h.update('web', 'a', { status: 'warning', output: 'slow' });
  t.like(changes[2]![1], { health: 'warning', output: 'http: slow' });
  h.update('web', 'b', { status: 'critical', output: 'refused' });
  t.like(changes[3]![1], { health: 'critical', output: 'tcp: refused' });
  const since = changes[3]![1].since;
  // Another check turning critical while the deciding one stays critical: the endpoint is the same, but that
  // check's own status is stored with it, so it is written (a status change of a check is rare: thresholds).
  h.update('web', 'a', { status: 'critical', output: 'down' });
  t.is(changes.length, 5);
  t.like(changes[4]![1], { health: 'critical', output: 'tcp: refused', since });
  t.deepEqual(changes[4]![1].checks!.map((c) => [c.id, c.status, c.output]), [['a', 'critical', 'down'], ['b', 'critical', 'refused']]);
  h.update('web', 'b', { status: 'passing', output: 'ok' });
  t.like(changes[5]![1], { health: 'critical', output: 'http: down', since });
  h.update('nope', 'a', { status: 'passing', output: '' });
  h.update('web', 'nope', { status: 'passing', output: '' });
  t.is(changes.length, 6);
});

test('a check\'s own output is capped in the record, with a note; its status changes are what gets written', (t) => {
  const { h, changes } = tracker();
  h.update('web', 'a', { status: 'passing', output: 'x'.repeat(CHECK_OUTPUT_CAP_BYTES * 4) });
  const a = changes[0]![1].checks![0]!;
  t.true(a.output.startsWith('x'.repeat(CHECK_OUTPUT_CAP_BYTES)));
  t.true(a.output.endsWith(`... (captured ${CHECK_OUTPUT_CAP_BYTES} of ${CHECK_OUTPUT_CAP_BYTES * 4} bytes)`));
});

test('maintenance overrides health, per service or node-wide, and is restored at start', (t) => {
  const { h, changes } = tracker({ services: { db: 'disk swap' } });
  t.deepEqual(h.get('db'), { health: 'maintenance', output: 'service in maintenance: disk swap', since: '2030-01-01T00:00:00.000Z' });
  h.setMaintenance(undefined, 'kernel upgrade');
  t.deepEqual(
    changes.map(([s, st]) => [s, st.health, st.output]),
    [['web', 'maintenance', 'node in maintenance: kernel upgrade']],
  );
  // In maintenance the checks still run: their own statuses are kept current, the health stays maintenance.
  h.update('web', 'a', { status: 'passing', output: 'ok' });
  h.update('web', 'b', { status: 'passing', output: 'ok' });
  t.deepEqual(
    changes.slice(1).map(([s, st]) => [s, st.health, st.checks!.map((c) => c.status).join(',')]),
    [['web', 'maintenance', 'passing,critical'], ['web', 'maintenance', 'passing,passing']],
  );
  h.setMaintenance(undefined, null);
  t.like(changes[3], ['web', { health: 'passing' }]);
  t.like(h.get('db'), { health: 'maintenance' });
  h.setMaintenance('db', null);
  t.like(changes[4], ['db', { health: 'passing', output: 'no checks' }]);
  h.setMaintenance('db', 'again');
  t.like(changes[5], ['db', { health: 'maintenance', output: 'service in maintenance: again' }]);
  h.setMaintenance('db', 'other reason');
  t.like(changes[6], ['db', { health: 'maintenance', output: 'service in maintenance: other reason' }]);
  t.is(changes.length, 7);
});
