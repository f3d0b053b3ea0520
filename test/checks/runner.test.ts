import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execProbe } from '../../src/checks/exec.js';
import { CheckRunner, Thresholds, type CheckChange } from '../../src/checks/runner.js';
import { TtlBoard, ttlProbe } from '../../src/checks/ttl.js';
import { timedOut, type CheckResult, type CheckSpec, type Probe } from '../../src/checks/types.js';
import type { HealthStatus } from '../../src/types.js';
import { waitFor } from '../helpers/etcd.js';
import { fixture, processGone, silent, spec, tempDir } from './util.js';

const P: CheckResult = { status: 'passing', output: 'ok' };
const W: CheckResult = { status: 'warning', output: 'meh' };
const C: CheckResult = { status: 'critical', output: 'bad' };

function statuses(th: Thresholds, results: CheckResult[]): (HealthStatus | '-')[] {
  return results.map((r) => th.feed(r)?.status ?? '-');
}

test('thresholds: defaults apply every result at once', (t) => {
  const th = new Thresholds({ successBeforePassing: 0, failuresBeforeWarning: 0, failuresBeforeCritical: 0 });
  t.deepEqual(statuses(th, [P, C, W, P]), ['passing', 'critical', 'warning', 'passing']);
});

test('thresholds: successBeforePassing needs a streak (warning counts as success, as in Consul)', (t) => {
  const th = new Thresholds({ successBeforePassing: 3, failuresBeforeWarning: 0, failuresBeforeCritical: 0 });
  t.deepEqual(statuses(th, [P, P, C, P, W, P, P]), ['-', '-', 'critical', '-', '-', 'passing', 'passing']);
});

test('thresholds: failuresBeforeWarning then failuresBeforeCritical', (t) => {
  const th = new Thresholds({ successBeforePassing: 0, failuresBeforeWarning: 2, failuresBeforeCritical: 4 });
  const r = [C, C, C, C, C, P, C].map((x) => th.feed(x));
  t.deepEqual(r.map((x) => x?.status ?? '-'), ['-', 'warning', 'warning', 'critical', 'critical', 'passing', '-']);
  // The downgraded warning carries the failing output.
  t.is(r[1]!.output, 'bad');
});

// A runner on a fast schedule (the 1 s minimum is a config rule, not the runner's).
function fast(overrides: Partial<CheckSpec> = {}): CheckSpec {
  return { ...spec('tcp', { tcp: '127.0.0.1:1' }), intervalMs: 60, timeoutMs: 40, ...overrides } as CheckSpec;
}

function scripted(results: CheckResult[]): { probe: Probe; calls: () => number } {
  let i = 0;
  return { probe: async () => results[Math.min(i++, results.length - 1)]!, calls: () => i };
}

test('only changes of the effective status are reported', async (t) => {
  const { probe, calls } = scripted([P, P, P, C, { status: 'critical', output: 'worse' }, P, P, P]);
  const changes: CheckChange[] = [];
  const runner = new CheckRunner(fast(), { probe, log: silent, onChange: (c) => changes.push(c), random: () => 0 });
  const ac = new AbortController();
  const done = runner.run(ac.signal);
  await waitFor(() => calls() >= 8, { what: '8 attempts' });
  ac.abort();
  await done;
  t.deepEqual(
    changes.map((c) => [c.previous, c.state.status, c.state.output]),
    [
      ['critical', 'passing', 'ok'],
      ['passing', 'critical', 'bad'],
      ['critical', 'passing', 'ok'],
    ],
  );
  t.true(runner.attemptCount >= 8);
});

test('thresholds hold back a flapping result', async (t) => {
  const { probe, calls } = scripted([P, P, C, P, P, P, C, C, C]);
  const changes: string[] = [];
  const runner = new CheckRunner(fast({ successBeforePassing: 3, failuresBeforeWarning: 2, failuresBeforeCritical: 3 }), {
    probe,
    log: silent,
    onChange: (c) => changes.push(c.state.status),
    random: () => 0,
  });
  const ac = new AbortController();
  const done = runner.run(ac.signal);
  await waitFor(() => calls() >= 10, { what: '10 attempts' });
  ac.abort();
  await done;
  // P P C: no streak yet (initial critical stays); P P P: passing; C: held; C C: warning at 2, critical at 3.
  t.deepEqual(changes, ['passing', 'warning', 'critical']);
});

test('the initial stagger is random within the interval', async (t) => {
  let first = 0;
  const started = Date.now();
  const probe: Probe = async () => {
    first ||= Date.now();
    return P;
  };
  const ac = new AbortController();
  const done = new CheckRunner(fast({ intervalMs: 400, timeoutMs: 100 }), { probe, log: silent, onChange: () => undefined, random: () => 0.5 }).run(ac.signal);
  await waitFor(() => first > 0, { what: 'first attempt' });
  ac.abort();
  await done;
  t.true(first - started >= 190, `first attempt after ${first - started} ms`);
});

test('attempts never overlap, and the deadline turns a slow attempt critical', async (t) => {
  let active = 0;
  let maxActive = 0;
  let calls = 0;
  const probe: Probe = async (_spec, signal) => {
    calls++;
    active++;
    maxActive = Math.max(maxActive, active);
    // Ignore the deadline on purpose and answer passing late: the runner must still call it a timeout.
    await new Promise((r) => setTimeout(r, 55));
    active--;
    return { status: 'passing', output: timedOut(signal) ? 'late' : 'on time' };
  };
  const changes: CheckResult[] = [];
  const ac = new AbortController();
  const done = new CheckRunner(fast({ intervalMs: 60, timeoutMs: 20, initialStatus: 'passing' }), {
    probe,
    log: silent,
    onChange: (c) => changes.push(c.state),
    random: () => 0,
  }).run(ac.signal);
  await waitFor(() => calls >= 5, { what: '5 attempts' });
  ac.abort();
  await done;
  t.is(maxActive, 1);
  t.is(changes.length, 1);
  t.like(changes[0], { status: 'critical', output: 'timed out after 20ms' });
});

test('a probe that throws is critical, not a crash', async (t) => {
  const probe: Probe = async () => {
    throw new Error('boom');
  };
  const changes: CheckResult[] = [];
  const ac = new AbortController();
  const done = new CheckRunner(fast({ initialStatus: 'passing' }), { probe, log: silent, onChange: (c) => changes.push(c.state), random: () => 0 }).run(ac.signal);
  await waitFor(() => changes.length > 0, { what: 'a change' });
  ac.abort();
  await done;
  t.like(changes[0], { status: 'critical', output: 'check failed: boom' });
});

test('run resolves after abort with the exec child tree released', async (t) => {
  const dir = tempDir();
  const s = { ...spec('exec', { exec: [fixture('ignore-term-fork.sh'), dir], interval: '10s', timeout: '9s' }) };
  const ac = new AbortController();
  const done = new CheckRunner(s, { probe: execProbe as Probe, log: silent, onChange: () => undefined, random: () => 0 }).run(ac.signal);
  await waitFor(() => existsSync(join(dir, 'child.pid')), { what: 'child started' });
  const child = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
  ac.abort();
  await done;
  await waitFor(() => processGone(child), { what: 'child gone', timeoutMs: 3000 });
  t.pass();
});

test('ttl: reports drive the status at once; silence past the TTL is critical "TTL expired"', async (t) => {
  const board = new TtlBoard();
  const s = { ...spec('ttl', { ttl: '1s', id: 'batch' }), ttlMs: 300 };
  board.register(s);
  const changes: CheckResult[] = [];
  const ac = new AbortController();
  const done = new CheckRunner(s, { probe: ttlProbe(board) as Probe, log: silent, onChange: (c) => changes.push(c.state) }).run(ac.signal);
  board.report('batch', 'passing', 'batch ran');
  await waitFor(() => changes.length >= 1, { what: 'passing' });
  t.like(changes[0], { status: 'passing', output: 'batch ran' });
  await waitFor(() => changes.length >= 2, { what: 'expiry' });
  t.like(changes[1], { status: 'critical', output: 'TTL expired (no report for 300ms)' });
  board.report('batch', 'warning', 'slow');
  await waitFor(() => changes.length >= 3, { what: 'warning' });
  t.like(changes[2], { status: 'warning', output: 'slow' });
  ac.abort();
  await done;
  t.throws(() => board.report('nope', 'passing'), { message: /no ttl check with id "nope"/ });
});
