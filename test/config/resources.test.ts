// A service's `resources`, `unit` and `cgroup`, and the `capacity` section: parsed values, and errors
// that name the field and the value (issue #17: -1, 1e400, 12Xi), also through `beacon validate` (exit 2).
import test, { type ExecutionContext } from 'ava';
import { ConfigError, ConfigErrors } from '../../src/errors.js';
import { parseAgentConfig } from '../../src/config/load.js';
import { beacon, writeConfig } from '../helpers/process.js';

const parse = (raw: unknown) => parseAgentConfig(raw, { hostname: 'host1' });

function problems(t: ExecutionContext, raw: unknown): string[] {
  const err = t.throws(() => parse(raw), { instanceOf: ConfigError });
  return err instanceof ConfigErrors ? err.errors.map((e) => e.message) : [err!.message];
}

const svc = (extra: Record<string, unknown>) => ({ services: [{ name: 'web', port: 80, ...extra }] });

test('resources in Kubernetes quantities, unit or cgroup', (t) => {
  const c = parse({
    services: [
      { name: 'a', port: 1, resources: { cpu: '500m', memory: '256Mi' }, unit: 'a.service' },
      { name: 'b', port: 2, resources: { cpu: 2 }, cgroup: '/system.slice/b.service' },
      { name: 'c', port: 3, resources: { memory: 1073741824 } },
      { name: 'd', port: 4 },
    ],
  });
  t.deepEqual(c.services[0]!.resources, { cpu: 0.5, memoryBytes: 256 * 2 ** 20 });
  t.deepEqual(c.services[0]!.usage, { kind: 'unit', unit: 'a.service' });
  t.deepEqual(c.services[1]!.resources, { cpu: 2, memoryBytes: null });
  t.deepEqual(c.services[1]!.usage, { kind: 'cgroup', path: '/system.slice/b.service' });
  t.deepEqual(c.services[2]!.resources, { cpu: null, memoryBytes: 2 ** 30 });
  t.is(c.services[2]!.usage, undefined);
  t.is(c.services[3]!.resources, undefined);
  t.deepEqual(c.capacity, { intervalMs: 10_000, windowMs: 300_000 });
});

test('bad quantities name the field and the value', (t) => {
  t.deepEqual(problems(t, svc({ resources: { cpu: -1 } })), ['services[0].resources.cpu: must not be negative (got -1)']);
  t.deepEqual(problems(t, svc({ resources: { memory: '-1' } })), ['services[0].resources.memory: must not be negative (got "-1")']);
  t.deepEqual(problems(t, svc({ resources: { memory: Infinity } })), ['services[0].resources.memory: is too large (got "Infinity")']);
  t.deepEqual(problems(t, svc({ resources: { memory: '1e400' } })), ['services[0].resources.memory: is too large (got "1e400")']);
  t.deepEqual(problems(t, svc({ resources: { memory: '12Xi' } })), [
    'services[0].resources.memory: must be a quantity such as 500m, 0.5, 2, 256Mi or 1G (Kubernetes quantity syntax) (got "12Xi")',
  ]);
  t.deepEqual(problems(t, svc({ resources: { cpus: 1 } })), [
    'services[0].resources.cpus: unknown field (did you mean "cpu"?) (got 1)',
    'services[0].resources: must declare cpu, memory or both (got {"cpus":1})',
  ]);
  t.deepEqual(problems(t, svc({ resources: 'lots' })), ['services[0].resources: must be a mapping (got "lots")']);
});

test('unit and cgroup are checked, and exclusive', (t) => {
  t.deepEqual(problems(t, svc({ unit: 'web' })), [
    'services[0].unit: must be a systemd unit name ending in .service, .scope or .slice (e.g. web.service) (got "web")',
  ]);
  t.deepEqual(problems(t, svc({ cgroup: 'system.slice' })), [
    'services[0].cgroup: must be an absolute cgroup path such as /system.slice/web.service (got "system.slice")',
  ]);
  t.deepEqual(problems(t, svc({ cgroup: '/a/../../etc' })), ['services[0].cgroup: must not contain "." or ".." segments (got "/a/../../etc")']);
  t.deepEqual(problems(t, svc({ unit: 'web.service', cgroup: '/x' })), [
    'services[0].cgroup: must not be set together with services[0].unit (a unit names its own cgroup): unit=web.service cgroup=/x (got "/x")',
  ]);
});

test('the capacity section: the window holds at least two samples', (t) => {
  t.deepEqual(parse({ capacity: { interval: '2s', window: '20s' } }).capacity, { intervalMs: 2000, windowMs: 20_000 });
  t.deepEqual(problems(t, { capacity: { interval: '10s', window: '15s' } }), [
    'capacity.window: must be at least twice capacity.interval (an average needs two samples): window=15000ms interval=10000ms (got "15s")',
  ]);
  t.regex(problems(t, { capacity: { interval: '10ms' } })[0]!, /^capacity\.interval: must be from 1s/);
});

test('beacon validate exits 2 naming each bad field of a YAML file', (t) => {
  const path = writeConfig(
    [
      'node: { name: n1 }',
      'services:',
      '  - { name: a, port: 80, resources: { cpu: -1, memory: 1e400 } }',
      '  - { name: b, port: 81, resources: { memory: 12Xi }, cgroup: /ok }',
      '',
    ].join('\n'),
  );
  const r = beacon(['validate', '--config', path]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /services\[0\]\.resources\.cpu: must not be negative \(got -1\)/);
  t.regex(r.stderr, /services\[0\]\.resources\.memory: is too large \(got "Infinity"\)/);
  t.regex(r.stderr, /services\[1\]\.resources\.memory: must be a quantity .* \(got "12Xi"\)/);
});
