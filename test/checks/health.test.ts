import test from 'ava';
import { ServiceHealth, worse, worstStatus, type EndpointHealthState } from '../../src/checks/health.js';

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

test('endpoint health is the worst check, reported only on change', (t) => {
  const { h, changes } = tracker();
  t.deepEqual(h.get('web'), { health: 'critical', output: 'http: no result yet (initial status)', since: '2030-01-01T00:00:00.000Z' });
  t.like(h.get('db'), { health: 'passing', output: 'no checks' });
  h.update('web', 'a', { status: 'passing', output: 'ok' });
  // Still critical, but now explained by the other check: the stored output would be wrong, so it is a change.
  t.deepEqual(changes, [['web', { health: 'critical', output: 'tcp: no result yet (initial status)', since: '2030-01-01T00:00:00.000Z' }]]);
  h.update('web', 'b', { status: 'passing', output: 'ok' });
  t.deepEqual(changes[1], ['web', { health: 'passing', output: '2 checks passing', since: '2030-01-01T00:00:01.000Z' }]);
  // Steady: new output of a passing check is not a change.
  h.update('web', 'a', { status: 'passing', output: 'still ok' });
  t.is(changes.length, 2);
  h.update('web', 'a', { status: 'warning', output: 'slow' });
  t.like(changes[2]![1], { health: 'warning', output: 'http: slow' });
  h.update('web', 'b', { status: 'critical', output: 'refused' });
  t.like(changes[3]![1], { health: 'critical', output: 'tcp: refused' });
  const since = changes[3]![1].since;
  // Another check turning critical while the deciding one stays critical: nothing to rewrite.
  h.update('web', 'a', { status: 'critical', output: 'down' });
  t.is(changes.length, 4);
  h.update('web', 'b', { status: 'passing', output: 'ok' });
  t.deepEqual(changes[4], ['web', { health: 'critical', output: 'http: down', since }]);
  h.update('nope', 'a', { status: 'passing', output: '' });
  h.update('web', 'nope', { status: 'passing', output: '' });
  t.is(changes.length, 5);
});

test('maintenance overrides health, per service or node-wide, and is restored at start', (t) => {
  const { h, changes } = tracker({ services: { db: 'disk swap' } });
  t.deepEqual(h.get('db'), { health: 'maintenance', output: 'service in maintenance: disk swap', since: '2030-01-01T00:00:00.000Z' });
  h.setMaintenance(undefined, 'kernel upgrade');
  t.deepEqual(
    changes.map(([s, st]) => [s, st.health, st.output]),
    [['web', 'maintenance', 'node in maintenance: kernel upgrade']],
  );
  h.update('web', 'a', { status: 'passing', output: 'ok' });
  h.update('web', 'b', { status: 'passing', output: 'ok' });
  t.is(changes.length, 1);
  h.setMaintenance(undefined, null);
  t.like(changes[1], ['web', { health: 'passing' }]);
  t.like(h.get('db'), { health: 'maintenance' });
  h.setMaintenance('db', null);
  t.like(changes[2], ['db', { health: 'passing', output: 'no checks' }]);
  h.setMaintenance('db', 'again');
  t.like(changes[3], ['db', { health: 'maintenance', output: 'service in maintenance: again' }]);
  h.setMaintenance('db', 'other reason');
  t.like(changes[4], ['db', { health: 'maintenance', output: 'service in maintenance: other reason' }]);
  t.is(changes.length, 5);
});
