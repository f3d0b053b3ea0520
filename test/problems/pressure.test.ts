import test from 'ava';
import type { ResourceSample } from '../../src/facts/resources.js';
import { DEFAULT_THRESHOLDS, PressureMonitor, assessPressure } from '../../src/problems/pressure.js';
import type { Condition } from '../../src/problems/types.js';
import { waitFor } from '../helpers/etcd.js';
import { silent } from './util.js';

const GiB = 1024 ** 3;
function sample(over: { availPct?: number; disk?: Record<string, number>; pids?: number } = {}): ResourceSample {
  const disk = over.disk ?? { '/': 40 };
  return {
    memory: { totalBytes: 16 * GiB, availableBytes: (16 * GiB * (over.availPct ?? 50)) / 100 },
    filesystems: [
      ...Object.entries(disk).map(([mount, pct]) => ({
        mount,
        device: '/dev/vda',
        type: 'ext4',
        sizeBytes: 100 * GiB,
        usedBytes: pct * GiB,
        availableBytes: (100 - pct) * GiB,
        usedPercent: pct,
        readOnly: false,
      })),
      // Never watched: a full tmpfs, and a read-only image (CoreOS's composefs / shows 100%).
      { mount: '/run', device: 'tmpfs', type: 'tmpfs', sizeBytes: GiB, usedBytes: GiB, availableBytes: 0, usedPercent: 100, readOnly: false },
      { mount: '/usr', device: '/dev/vda3', type: 'xfs', sizeBytes: GiB, usedBytes: GiB, availableBytes: 0, usedPercent: 100, readOnly: true },
    ],
    pids: { current: over.pids ?? 300, max: 1000 },
  };
}

test('assessment against thresholds', (t) => {
  const ok = assessPressure(sample(), DEFAULT_THRESHOLDS);
  t.deepEqual(ok, { MemoryPressure: undefined, DiskPressure: undefined, PIDPressure: undefined });
  const bad = assessPressure(sample({ availPct: 3, disk: { '/': 95, '/var/lib/etcd': 85 }, pids: 950 }), {
    ...DEFAULT_THRESHOLDS,
    diskMounts: { '/var/lib/etcd': 80 },
  });
  t.is(bad.MemoryPressure, 'available memory 3.0% (492 MiB of 16384 MiB) is below 5%');
  t.is(bad.DiskPressure, '/ 95.0% used (threshold 90%); /var/lib/etcd 85.0% used (threshold 80%)');
  t.is(bad.PIDPressure, '950 of 1000 PIDs in use (95.0% > 90%)');
});

test('conditions go True at once and back to False only after the transition period', (t) => {
  let now = 0;
  const changes: Condition[][] = [];
  const m = new PressureMonitor({ log: silent, onConditions: (c) => changes.push(c), transitionPeriodMs: 60_000, now: () => now });
  t.deepEqual(m.conditions().map((c) => [c.type, c.status, c.reason]), [
    ['MemoryPressure', 'False', 'NodeHasSufficientMemory'],
    ['DiskPressure', 'False', 'NodeHasNoDiskPressure'],
    ['PIDPressure', 'False', 'NodeHasSufficientPID'],
  ]);
  m.evaluate(sample());
  t.is(changes.length, 0);
  now = 1000;
  m.evaluate(sample({ disk: { '/': 97 } }));
  t.like(changes[0]![1], { type: 'DiskPressure', status: 'True', reason: 'NodeHasDiskPressure', lastTransitionTime: new Date(1000).toISOString() });
  now = 2000;
  m.evaluate(sample({ disk: { '/': 98 } })); // still True: no change, no call
  now = 30_000;
  m.evaluate(sample()); // below again, but within the transition period
  t.is(changes.length, 1);
  now = 62_001;
  m.evaluate(sample());
  t.like(changes[1]![1], { type: 'DiskPressure', status: 'False', reason: 'NodeHasNoDiskPressure' });
  m.evaluate(new Error('df hung'));
  t.deepEqual(changes[2]!.map((c) => [c.status, c.reason]), [
    ['Unknown', 'ResourceSampleFailed'],
    ['Unknown', 'ResourceSampleFailed'],
    ['Unknown', 'ResourceSampleFailed'],
  ]);
  m.evaluate(sample());
  t.true(changes[3]!.every((c) => c.status === 'False'));
});

test('run() with the real sampler: forced thresholds turn pressure on; abort releases it', async (t) => {
  const changes: Condition[][] = [];
  const m = new PressureMonitor({
    log: silent,
    onConditions: (c) => changes.push(c),
    // Every writable disk is "full" at 0%; memory is short below 100%.
    thresholds: { diskUsedPercent: 0, memoryAvailablePercent: 100 },
    intervalMs: 200,
  });
  const ac = new AbortController();
  const done = m.run(ac.signal);
  await waitFor(() => changes.length > 0, { what: 'a sample', timeoutMs: 15_000 });
  ac.abort();
  await done;
  const byType = Object.fromEntries(changes[0]!.map((c) => [c.type, c]));
  t.like(byType.DiskPressure, { status: 'True' });
  t.regex(byType.DiskPressure!.message, /^\/ \d+\.\d% used \(threshold 0%\)/);
  t.like(byType.MemoryPressure, { status: 'True' });
  t.like(byType.PIDPressure, { status: 'False' });
});

test('a sampler that hangs is timed out as Unknown and never started twice', async (t) => {
  let calls = 0;
  const changes: Condition[][] = [];
  const m = new PressureMonitor({
    log: silent,
    onConditions: (c) => changes.push(c),
    intervalMs: 50,
    sampleTimeoutMs: 100,
    sample: () => {
      calls++;
      return new Promise(() => undefined);
    },
  });
  const ac = new AbortController();
  const done = m.run(ac.signal);
  await waitFor(() => changes.length > 0, { what: 'Unknown' });
  await new Promise((r) => setTimeout(r, 300));
  ac.abort();
  await done;
  t.is(changes[0]![0]!.status, 'Unknown');
  t.is(calls, 1);
});
