import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execProbe, exitCodeToHealth } from '../../src/checks/exec.js';
import { waitFor } from '../helpers/etcd.js';
import { deadline, fixture, processGone, spec, tempDir } from './util.js';

const NEVER = new AbortController().signal;

test('exit codes map 0 passing, 1 warning, else critical', async (t) => {
  t.is(exitCodeToHealth(0), 'passing');
  t.is(exitCodeToHealth(1), 'warning');
  t.is(exitCodeToHealth(2), 'critical');
  t.is(exitCodeToHealth(127), 'critical');
  for (const [code, status] of [[0, 'passing'], [1, 'warning'], [2, 'critical']] as const) {
    const r = await execProbe(spec('exec', { exec: [fixture('exit-with.sh'), String(code)] }), NEVER);
    t.deepEqual(r, { status, output: `exiting with ${code}` });
  }
});

test('output is stdout and stderr, capped at 4 KiB with a note', async (t) => {
  const r = await execProbe(spec('exec', { exec: [fixture('exit-with.sh'), '0', '10000'] }), NEVER);
  t.is(r.status, 'passing');
  // 10,000 x's then "to stderr\n" (10 bytes).
  t.true(r.output.startsWith('x'.repeat(4096)));
  t.regex(r.output, /\n\.\.\. \(captured 4096 of 10010 bytes\)$/);
});

test('a shell string runs through /bin/sh; empty output says the exit status', async (t) => {
  t.deepEqual(await execProbe(spec('exec', { exec: 'exit 3' }), NEVER), { status: 'critical', output: 'exit status 3' });
  t.deepEqual(await execProbe(spec('exec', { exec: 'echo "$BEACON_CHECK_ID"' }), NEVER), { status: 'passing', output: 'web:exec:0' });
});

test('a missing program is critical, not an exception', async (t) => {
  const r = await execProbe(spec('exec', { exec: ['/nonexistent/check-web'] }), NEVER);
  t.is(r.status, 'critical');
  t.regex(r.output, /failed to run \/nonexistent\/check-web: .*ENOENT/);
});

test('on timeout the whole tree is killed, even a script that ignores SIGTERM and forks', async (t) => {
  const dir = tempDir();
  const s = spec('exec', { exec: [fixture('ignore-term-fork.sh'), dir], interval: '5s', timeout: '1500ms' });
  const pending = execProbe(s, deadline(1500));
  // Both processes must really be running before the deadline, or the test proves nothing.
  await waitFor(() => existsSync(join(dir, 'child.pid')) && existsSync(join(dir, 'parent.pid')), { what: 'pid files', timeoutMs: 5000 });
  const parent = Number(readFileSync(join(dir, 'parent.pid'), 'utf8'));
  const child = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
  t.false(processGone(parent));
  t.false(processGone(child));
  const r = await pending;
  t.is(r.status, 'critical');
  t.regex(r.output, /^Timed out after 1s500ms; process group killed\nstarted$/);
  await waitFor(() => processGone(parent) && processGone(child), { what: 'the script and its child to be gone', timeoutMs: 5000 });
  t.pass();
});

test('a finished check leaves no process behind (its group is killed at exit)', async (t) => {
  const dir = tempDir();
  const r = await execProbe(spec('exec', { exec: [fixture('leave-child.sh'), dir] }), deadline(8000));
  t.deepEqual(r, { status: 'passing', output: 'left a child behind' });
  const child = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
  await waitFor(() => processGone(child), { what: 'the leftover child to be killed', timeoutMs: 5000 });
  t.pass();
});

test('shutdown (a plain abort) also kills the tree and says cancelled', async (t) => {
  const dir = tempDir();
  const ac = new AbortController();
  const pending = execProbe(spec('exec', { exec: [fixture('ignore-term-fork.sh'), dir] }), ac.signal);
  await waitFor(() => existsSync(join(dir, 'child.pid')), { what: 'child pid file' });
  const child = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
  ac.abort();
  const r = await pending;
  t.is(r.status, 'critical');
  t.regex(r.output, /^cancelled; process group killed/);
  await waitFor(() => processGone(child), { what: 'child gone' });
});
