import test from 'ava';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { parseSystemctlShow, systemdProbe, unitHealth } from '../../src/checks/systemd.js';
import { fixture, spec, tempDir } from './util.js';

const NEVER = new AbortController().signal;
const read = (name: string) => readFileSync(fixture(name), 'utf8');

test('parses real `systemctl show` output, full and --property', (t) => {
  const full = parseSystemctlShow(read('systemctl-show-journald-full.txt'));
  t.is(full.Id, 'systemd-journald.service');
  t.is(full.ActiveState, 'active');
  t.is(full.SubState, 'running');
  t.is(full.LoadState, 'loaded');
  // Values may contain "=" (e.g. Environment=, ExecStart={ path=... }): only the first "=" splits.
  t.true(Object.values(full).some((v) => v.includes('=')));
  t.true(Object.keys(full).length > 200);

  t.deepEqual(parseSystemctlShow(read('systemctl-show-active-running.txt')), { LoadState: 'loaded', ActiveState: 'active', SubState: 'running' });
});

test('real samples map to the right status', (t) => {
  const cases: [string, 'passing' | 'warning' | 'critical', RegExp][] = [
    ['systemctl-show-active-running.txt', 'passing', /^u\.service: active \(running\)$/],
    ['systemctl-show-active-exited.txt', 'passing', /active \(exited\)/],
    ['systemctl-show-activating-tentative.txt', 'warning', /activating \(tentative\)/],
    ['systemctl-show-inactive-dead.txt', 'critical', /inactive \(dead\)/],
    ['systemctl-show-not-found.txt', 'critical', /unit not found \(LoadState=not-found\)/],
    ['systemctl-show-journald-full.txt', 'passing', /active \(running\)/],
  ];
  for (const [file, status, output] of cases) {
    const r = unitHealth('u.service', parseSystemctlShow(read(file)));
    t.is(r.status, status, file);
    t.regex(r.output, output, file);
  }
});

test('every ActiveState value maps as documented', (t) => {
  const s = (ActiveState: string) => unitHealth('u.service', { LoadState: 'loaded', ActiveState, SubState: 'x' }).status;
  t.is(s('active'), 'passing');
  t.is(s('activating'), 'warning');
  t.is(s('reloading'), 'warning');
  t.is(s('refreshing'), 'warning');
  for (const st of ['inactive', 'failed', 'deactivating', 'maintenance', 'bogus']) t.is(s(st), 'critical', st);
  t.is(unitHealth('u.service', {}).status, 'critical');
});

// A stand-in `systemctl` on PATH that prints a captured sample, so the probe's process handling is real.
function fakeSystemctl(script: string): string {
  const dir = tempDir('beacon-fake-systemctl-');
  const path = join(dir, 'systemctl');
  writeFileSync(path, `#!/bin/sh\n${script}\n`);
  chmodSync(path, 0o755);
  return dir;
}

test.serial('the probe runs `systemctl show UNIT --property=...` and maps its answer', async (t) => {
  const dir = fakeSystemctl(`echo "$@" > "$(dirname "$0")/args"; cat "${fixture('systemctl-show-activating-tentative.txt')}"`);
  const saved = process.env.PATH;
  process.env.PATH = `${dir}:${saved}`;
  t.teardown(() => (process.env.PATH = saved));
  const r = await systemdProbe(spec('systemd', { systemd: 'web' }), NEVER);
  t.deepEqual(r, { status: 'warning', output: 'web.service: activating (tentative)' });
  t.is(readFileSync(join(dir, 'args'), 'utf8').trim(), 'show web.service --property=LoadState,ActiveState,SubState --no-pager');
});

test.serial('systemctl failing (no systemd as PID 1) is critical with its message', async (t) => {
  const dir = fakeSystemctl(`echo "System has not been booted with systemd as init system (PID 1). Can't operate." >&2; exit 1`);
  const saved = process.env.PATH;
  process.env.PATH = `${dir}:${saved}`;
  t.teardown(() => (process.env.PATH = saved));
  const r = await systemdProbe(spec('systemd', { systemd: 'web.service' }), NEVER);
  t.is(r.status, 'critical');
  t.regex(r.output, /^web\.service: systemctl show failed: System has not been booted with systemd/);
});

test.serial('systemctl missing is critical with a clear output', async (t) => {
  const saved = process.env.PATH;
  process.env.PATH = tempDir('beacon-empty-path-');
  t.teardown(() => (process.env.PATH = saved));
  const r = await systemdProbe(spec('systemd', { systemd: 'web.service' }), NEVER);
  t.is(r.status, 'critical');
  t.regex(r.output, /systemctl not found/);
});

test.serial('a hanging systemctl is cut off at the deadline', async (t) => {
  const dir = fakeSystemctl('exec sleep 30');
  const saved = process.env.PATH;
  process.env.PATH = `${dir}:${saved}`;
  t.teardown(() => (process.env.PATH = saved));
  const r = await systemdProbe(spec('systemd', { systemd: 'web.service', interval: '2s', timeout: '300ms' }), AbortSignal.timeout(300));
  t.deepEqual(r, { status: 'critical', output: 'web.service: systemctl timed out after 300ms' });
});
