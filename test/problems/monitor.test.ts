import test from 'ava';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileSource } from '../../src/problems/file.js';
import { LogMonitor, type LogMonitorOptions } from '../../src/problems/monitor.js';
import { loadRules, parseRules, type RuleSet } from '../../src/problems/rules.js';
import type { Condition, LogLine, LogSource, ProblemEvent } from '../../src/problems/types.js';
import { waitFor } from '../helpers/etcd.js';
import { KERNEL_MONITOR, silent, tempDir } from './util.js';

const T0 = Date.UTC(2030, 0, 1);
const OOM = 'Out of memory: Killed process 4242 (stress-ng) total-vm:2105396kB, anon-rss:1960940kB, file-rss:4kB, shmem-rss:0kB';
const RO = 'EXT4-fs (sda1): Remounting filesystem read-only';
const RW = 'EXT4-fs (sda1): re-mounted 5c2b1d0e-8f7a-4e2b-9c3d-1a2b3c4d5e6f r/w. Quota mode: none.';

// A source that yields nothing: these tests drive ingest() and flush() by hand with a fake clock.
const idle: LogSource = { name: 'idle', lines: async function* () {} };

function harness(rules: RuleSet, extra: Partial<LogMonitorOptions> = {}) {
  let clock = T0;
  const conditions: Condition[][] = [];
  const events: ProblemEvent[][] = [];
  const m = new LogMonitor({
    rules,
    source: idle,
    log: silent,
    onConditions: (c) => conditions.push(c),
    onEvents: (e) => events.push(e),
    now: () => clock,
    ...extra,
  });
  return {
    m,
    conditions,
    events,
    at: (ms: number) => (clock = T0 + ms),
    line: (text: string, ms = clock - T0): LogLine => ({ time: T0 + ms, text }),
  };
}

test('conditions start False with their declared reason', async (t) => {
  const { m } = harness(await loadRules(KERNEL_MONITOR));
  t.deepEqual(
    m.conditions().map((c) => [c.type, c.status, c.reason, c.message]),
    [
      ['KernelDeadlock', 'False', 'KernelHasNoDeadlock', 'kernel has no deadlock'],
      ['ReadonlyFilesystem', 'False', 'FilesystemIsNotReadOnly', 'Filesystem is not read-only'],
      ['XfsShutdown', 'False', 'XfsHasNotShutDown', 'XFS has not shutdown'],
    ],
  );
});

test('a permanent rule sets its condition; a recovery line clears it; changes leave at flush only', async (t) => {
  const h = harness(await loadRules(KERNEL_MONITOR));
  h.at(1000);
  h.m.ingest(h.line(RO));
  h.m.ingest(h.line(RO)); // same status and reason: not a change
  t.is(h.conditions.length, 0);
  h.m.flush(false);
  t.is(h.conditions.length, 1);
  t.like(h.conditions[0]!.find((c) => c.type === 'ReadonlyFilesystem'), {
    status: 'True',
    reason: 'FilesystemIsReadOnly',
    message: RO,
    lastTransitionTime: new Date(T0 + 1000).toISOString(),
  });
  h.m.flush(false);
  t.is(h.conditions.length, 1);
  h.at(5000);
  h.m.ingest(h.line(RW));
  h.m.flush(false);
  t.like(h.conditions[1]!.find((c) => c.type === 'ReadonlyFilesystem'), { status: 'False', reason: 'FilesystemIsNotReadOnly', message: RW });
  // Each transition is also an info event (node-problem-detector does the same).
  const infos = h.events.flat().filter((e) => e.severity === 'info');
  t.deepEqual(infos.map((e) => e.reason), ['FilesystemIsReadOnly', 'FilesystemIsNotReadOnly']);
  t.deepEqual(h.m.stats().matched, 3);
});

test('a condition with expireAfter returns to False after a quiet window', (t) => {
  const rules = parseRules({
    conditions: [{ type: 'FrequentHang', reason: 'NoHang', message: 'no hang', expireAfter: '10s' }],
    rules: [{ type: 'permanent', condition: 'FrequentHang', reason: 'Hang', pattern: 'hang \\d+' }],
  });
  const h = harness(rules);
  h.m.ingest(h.line('hang 1', 0));
  h.at(8000);
  h.m.ingest(h.line('hang 2', 8000)); // refreshes the window
  h.at(15_000);
  h.m.flush(false);
  t.like(h.m.conditions()[0], { status: 'True', reason: 'Hang' });
  h.at(18_001);
  h.m.flush(false);
  t.like(h.m.conditions()[0], { status: 'False', reason: 'NoHang', message: 'no hang (no matching line for 10s)' });
  t.deepEqual(h.conditions.map((c) => c[0]!.status), ['True', 'False']);
});

test('identical events coalesce into one with a count; distinct ones past the table size fold per reason', async (t) => {
  const h = harness(await loadRules(KERNEL_MONITOR), { limits: { maxEvents: 4, eventBurst: 100 } });
  for (let i = 0; i < 50; i++) h.m.ingest(h.line(OOM, i));
  for (let i = 0; i < 10; i++) h.m.ingest(h.line(`INFO: task worker:${i} blocked for more than 120 seconds.`, 100 + i));
  h.at(1000);
  h.m.flush(false);
  const out = h.events.flat();
  const oom = out.filter((e) => e.reason === 'OOMKilling');
  t.is(oom.length, 1);
  t.like(oom[0], { count: 50, message: OOM, severity: 'warn', source: 'kernel-monitor', firstTime: new Date(T0).toISOString(), lastTime: new Date(T0 + 49).toISOString() });
  const hung = out.filter((e) => e.reason === 'TaskHung');
  // 3 distinct entries fit next to the OOM one; the other 7 fold into one TaskHung entry.
  t.deepEqual(hung.map((e) => e.count), [1, 1, 1, 7]);
  t.regex(hung[3]!.message, /and other TaskHung messages/);
  t.is(hung.reduce((n, e) => n + e.count, 0), 10);
  t.true(h.m.stats().tableHighWater <= 5);
  // More of the same later: the same id comes back with a higher count.
  h.m.ingest(h.line(OOM, 2000));
  h.at(3000);
  h.m.flush(false);
  const again = h.events.at(-1)!;
  t.is(again.length, 1);
  t.is(again[0]!.id, oom[0]!.id);
  t.is(again[0]!.count, 51);
  t.regex(again[0]!.id, /^[0-9]+-OOMKilling-[0-9a-z]+$/);
});

test('events leave through a token bucket; what waits keeps counting', async (t) => {
  const h = harness(await loadRules(KERNEL_MONITOR), { limits: { eventBurst: 2, eventsPerMinute: 60 } });
  const lines = ['Buffer I/O error on dev sda1, logical block 1', 'Buffer I/O error on dev sda1, logical block 2', 'Buffer I/O error on dev sda1, logical block 3'];
  for (const l of lines) h.m.ingest(h.line(l));
  h.m.flush(false);
  t.is(h.events.flat().length, 2);
  h.m.ingest(h.line(lines[2]!));
  h.at(500);
  h.m.flush(false); // half a token: nothing
  t.is(h.events.flat().length, 2);
  h.at(1000);
  h.m.flush(false);
  t.is(h.events.flat().length, 3);
  t.like(h.events.flat()[2], { message: lines[2], count: 2 });
  t.true(h.m.stats().rateLimited >= 2);
});

test('restore: lines up to the watermark are not replayed; conditions come back on the same boot only', async (t) => {
  const rules = await loadRules(KERNEL_MONITOR);
  const restored: Condition[] = [{ type: 'KernelDeadlock', status: 'True', reason: 'DockerHung', message: 'm', lastTransitionTime: new Date(T0 - 60_000).toISOString() }];
  const h = harness(rules, { restore: { since: T0 - 10_000, conditions: restored, bootId: 'boot-a' }, bootId: 'boot-a' });
  t.like(h.m.conditions()[0], { status: 'True', reason: 'DockerHung' });
  h.m.ingest(h.line(OOM, -20_000)); // handled by the previous run
  h.m.ingest(h.line(OOM, -10_000)); // exactly the watermark: handled too
  h.m.ingest(h.line(OOM, -400_000)); // older than the 5 min lookback anyway
  h.m.ingest(h.line(OOM, -5_000)); // after the watermark: new to us
  h.m.flush(false);
  t.deepEqual(h.events.flat().map((e) => [e.count, e.firstTime]), [[1, new Date(T0 - 5_000).toISOString()]]);
  t.is(h.m.stats().skipped, 3);
  t.is(h.m.watermark(), T0 - 5_000);
  t.is(h.conditions.length, 0); // restored state is the starting point, not a change

  const other = harness(rules, { restore: { since: T0 - 10_000, conditions: restored, bootId: 'boot-a' }, bootId: 'boot-b' });
  t.like(other.m.conditions()[0], { status: 'False', reason: 'KernelHasNoDeadlock' });
});

test('a failing source is restarted without replaying what was handled', async (t) => {
  let calls = 0;
  const now = Date.now();
  const flaky: LogSource = {
    name: 'flaky',
    async *lines(signal) {
      calls++;
      yield { time: now - 1000, text: OOM };
      if (calls === 1) throw new Error('source broke');
      yield { time: now - 500, text: OOM };
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    },
  };
  const events: ProblemEvent[] = [];
  const m = new LogMonitor({ rules: await loadRules(KERNEL_MONITOR), source: flaky, log: silent, onConditions: () => undefined, onEvents: (e) => events.push(...e), limits: { flushIntervalMs: 50 } });
  const ac = new AbortController();
  const done = m.run(ac.signal);
  await waitFor(() => calls === 2 && m.stats().lines === 3, { what: 'the source to be restarted', timeoutMs: 5000 });
  ac.abort();
  await done;
  t.is(m.stats().skipped, 1);
  t.is(m.stats().matched, 2);
});

test('a flood of 100,000 lines through the file source: right counts, bounded memory and output', async (t) => {
  const dir = tempDir();
  const path = join(dir, 'kern.log');
  writeFileSync(path, '');
  const rules = await loadRules(KERNEL_MONITOR);
  const emitted: ProblemEvent[] = [];
  let batches = 0;
  const conditionWrites: Condition[][] = [];
  const m = new LogMonitor({
    rules,
    source: new FileSource({ path, pollMs: 20 }),
    log: silent,
    onConditions: (c) => conditionWrites.push(c),
    onEvents: (e) => {
      batches++;
      emitted.push(...e);
    },
    limits: { flushIntervalMs: 100 },
  });
  const ac = new AbortController();
  const done = m.run(ac.signal);
  // The source reads only a 1 MiB tail of what is there at start: let it open the file before the flood.
  appendFileSync(path, 'kernel: ready\n');
  await waitFor(() => m.stats().lines === 1, { what: 'the source to follow the file' });

  // 100,000 lines: every 10th an identical OOM kill, every 100th a hung task with its own pid (1,000
  // distinct messages, more than the coalescing table holds), one read-only remount, the rest noise.
  const N = 100_000;
  const parts: string[] = [];
  for (let i = 0; i < N; i++) {
    if (i === 50_005) parts.push(RO);
    else if (i % 100 === 1) parts.push(`INFO: task kworker/${i}:${i} blocked for more than 120 seconds.`);
    else if (i % 10 === 0) parts.push(OOM);
    else parts.push(`usb 1-1: device descriptor read/64, error -71 (noise ${i})`);
  }
  const heapBefore = process.memoryUsage().heapUsed;
  let heapPeak = heapBefore;
  const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 10);
  appendFileSync(path, parts.join('\n') + '\n');
  parts.length = 0;
  await waitFor(() => m.stats().lines === N + 1, { what: `${N} lines`, timeoutMs: 30_000 });
  clearInterval(sampler);
  ac.abort();
  await done; // the final flush delivers what the rate cap held back

  const stats = m.stats();
  t.log(`emitted ${emitted.length} events in ${batches} batches; table high water ${stats.tableHighWater}; heap +${Math.round((heapPeak - heapBefore) / 1048576)} MiB`);
  t.is(stats.lines, N + 1);
  // The last emitted state of each event id carries its full count.
  const latest = new Map<string, ProblemEvent>();
  for (const e of emitted) latest.set(e.id, e);
  const sum = (reason: string) => [...latest.values()].filter((e) => e.reason === reason).reduce((n, e) => n + e.count, 0);
  t.is(sum('OOMKilling'), 10_000);
  t.is(sum('TaskHung'), 1_000);
  t.is([...latest.values()].filter((e) => e.reason === 'OOMKilling').length, 1);
  // Memory: the coalescing table never exceeds its size plus one overflow entry per reason.
  t.true(stats.tableHighWater <= 256 + rules.rules.length, `table high water ${stats.tableHighWater}`);
  t.true(heapPeak - heapBefore < 48 * 1024 * 1024, `heap grew by ${Math.round((heapPeak - heapBefore) / 1048576)} MiB`);
  // Output: a burst, a trickle, and one final flush of at most the table — never per line.
  t.true(emitted.length <= 20 + 30 + stats.tableHighWater, `${emitted.length} events emitted`);
  t.true(batches < 100, `${batches} batches`);
  t.is(conditionWrites.length, 1);
  t.like(conditionWrites[0]!.find((c) => c.type === 'ReadonlyFilesystem'), { status: 'True' });
});
