// The utilization tracker keeps the agent's writes-on-change: values are coarse and sticky (a whole
// step away before they change, at most once per interval), so a steady or hovering node publishes nothing.
import test from 'ava';
import { UtilizationTracker, sampleUtilization, type UtilizationSample } from '../../src/facts/utilization.js';

const s = (load1: number, mem: number, disk: number | undefined): UtilizationSample => ({ load1, memoryUsedPercent: mem, diskUsedPercent: disk });

test('first sample is published, coarse: load to one decimal, percentages in steps of 10', (t) => {
  const tr = new UtilizationTracker({ cpus: 2, minIntervalMs: 1000 });
  t.like(tr.update(s(0.37, 44.9, 61), 0), { load1: 0.4, memoryUsedPercent: 40, diskUsedPercent: 60, at: new Date(0).toISOString() });
});

test('a value hovering at a step boundary, or small load changes, publish nothing', (t) => {
  const tr = new UtilizationTracker({ cpus: 2, minIntervalMs: 1000 });
  tr.update(s(0.4, 45.1, 55), 0);
  let published = 0;
  for (let i = 1; i <= 200; i++) {
    const wobble = i % 2 === 0 ? 1 : -1;
    if (tr.update(s(0.4 + 0.4 * wobble, 45 + 4.9 * wobble, 55 + 4.9 * wobble), i * 10_000)) published++;
  }
  t.is(published, 0);
});

test('a whole step moves it, but not more often than the interval', (t) => {
  const tr = new UtilizationTracker({ cpus: 2, minIntervalMs: 300_000 });
  tr.update(s(0.2, 40, 50), 0);
  t.is(tr.update(s(0.2, 75, 50), 30_000), undefined, 'moved, but within the interval');
  t.like(tr.update(s(0.2, 75, 50), 300_000), { memoryUsedPercent: 80, diskUsedPercent: 50 });
  t.is(tr.update(s(3.0, 80, 50), 330_000), undefined);
  t.like(tr.update(s(3.0, 80, 50), 600_000), { load1: 3 });
  t.like(tr.update(s(3.0, 80, undefined), 900_000), { diskUsedPercent: null }, 'disk becoming unknown is a change');
});

test('a real sample: finite numbers, percentages within 0..100', async (t) => {
  const x = await sampleUtilization();
  t.true(Number.isFinite(x.load1) && x.load1 >= 0);
  t.true(x.memoryUsedPercent > 0 && x.memoryUsedPercent <= 100);
  t.true(x.diskUsedPercent !== undefined && x.diskUsedPercent >= 0 && x.diskUsedPercent <= 100);
});
