// Window averages and the publishing rule (pure): a steady source republishes nothing, a figure out of
// its band is republished at most once per window, declared changes and errors at once.
import test from 'ava';
import { shouldPublish, type NodeUsageRecord } from '../../src/usage/record.js';
import { UsageWindow } from '../../src/usage/window.js';

const GiB = 2 ** 30;

test('cpu is the counter growth over the window, memory the mean of the readings', (t) => {
  const w = new UsageWindow(10_000);
  w.add(0, { cpuNs: 0, memoryBytes: 100 });
  t.is(w.figures(), undefined, 'one reading is no average');
  w.add(5_000, { cpuNs: 2.5e9, memoryBytes: 200 });
  t.is(w.figures(), undefined, 'half a window is not enough');
  w.add(10_000, { cpuNs: 5e9, memoryBytes: 300 });
  t.deepEqual(w.figures(), { cpu: 0.5, memoryBytes: 200 });
  // Older readings leave; the window keeps one at its start.
  w.add(15_000, { cpuNs: 15e9, memoryBytes: 300 });
  t.deepEqual(w.figures(), { cpu: 1.25, memoryBytes: 800 / 3 });
  w.add(20_000, { cpuNs: 25e9, memoryBytes: 300 });
  t.deepEqual(w.figures(), { cpu: 2, memoryBytes: 300 });
});

test('a counter that goes back (the group was made again) starts a new window', (t) => {
  const w = new UsageWindow(10_000);
  w.add(0, { cpuNs: 50e9, memoryBytes: 1 });
  w.add(10_000, { cpuNs: 60e9, memoryBytes: 1 });
  t.is(w.figures()?.cpu, 1);
  w.add(11_000, { cpuNs: 1e9, memoryBytes: 1 });
  t.is(w.figures(), undefined);
});

function record(over: Partial<Omit<NodeUsageRecord, 'at'>> = {}, svcUsed: { cpu: number; memoryBytes: number } | null = { cpu: 0.5, memoryBytes: GiB }): NodeUsageRecord {
  return {
    schema: 1,
    node: 'n1',
    at: '2026-01-01T00:00:00Z',
    windowSeconds: 300,
    capacity: { cpu: 4, memoryBytes: 16 * GiB },
    used: { cpu: 1, memoryBytes: 4 * GiB },
    services: { web: { reserved: { cpu: 1, memoryBytes: 2 * GiB }, source: 'cgroup:/web', used: svcUsed, error: null } },
    ...over,
  };
}

test('a figure inside its band is not republished; outside, once per window', (t) => {
  const prev = record();
  // 10 % of the reservation (1 core) is the band.
  t.false(shouldPublish(prev, record({}, { cpu: 0.59, memoryBytes: GiB }), 600_000, 300_000));
  t.true(shouldPublish(prev, record({}, { cpu: 0.61, memoryBytes: GiB }), 600_000, 300_000));
  t.false(shouldPublish(prev, record({}, { cpu: 0.61, memoryBytes: GiB }), 200_000, 300_000), 'not twice in one window');
  t.true(shouldPublish(prev, record({}, { cpu: 0.5, memoryBytes: GiB * 1.21 }), 600_000, 300_000));
  // The node's own figures: 10 % of capacity (0.4 core).
  t.false(shouldPublish(prev, record({ used: { cpu: 1.39, memoryBytes: 4 * GiB } }), 600_000, 300_000));
  t.true(shouldPublish(prev, record({ used: { cpu: 1.41, memoryBytes: 4 * GiB } }), 600_000, 300_000));
});

test('declared changes, errors and a filled window are published at once', (t) => {
  const prev = record();
  t.true(shouldPublish(undefined, record(), 0, 300_000));
  t.false(shouldPublish(prev, record(), 0, 300_000));
  const errored = record({ services: { web: { reserved: { cpu: 1, memoryBytes: 2 * GiB }, source: 'cgroup:/web', used: null, error: 'gone' } } });
  t.true(shouldPublish(prev, errored, 0, 300_000));
  const reserved = record({ services: { web: { reserved: { cpu: 2, memoryBytes: 2 * GiB }, source: 'cgroup:/web', used: { cpu: 0.5, memoryBytes: GiB }, error: null } } });
  t.true(shouldPublish(prev, reserved, 0, 300_000));
  t.true(shouldPublish(record({}, null), record(), 0, 300_000), 'the window filled');
  t.true(shouldPublish(prev, record({ services: {} }), 0, 300_000), 'a service removed');
});
