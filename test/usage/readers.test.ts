// The readers' parsers on the real files' formats. The v2 reader runs here on a temp dir laid out as a
// v2 root (cgroup.controllers, cpu.stat, memory.current with the kernel's own text), and on this
// machine's real cgroup2 tree in test/usage/cgroup-v2.test.ts (CPU only: its memory controller is bound
// to v1); cgroup v1 is read for real in test/capacity/cgroup-fleet.test.ts and here from the live
// /sys/fs/cgroup root. systemd: real `systemctl show` output captured under systemd 252, and a live
// systemd in test/e2e/capacity.test.ts.
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupVersion, parseCpuStat, readCgroup } from '../../src/usage/cgroup.js';
import { parseMeminfo, parseProcStat, readNode } from '../../src/usage/node.js';
import { UsageSourceError } from '../../src/usage/types.js';
import { unitAccounting } from '../../src/usage/unit.js';
import { REPO_ROOT } from '../helpers/process.js';

// /sys/fs/cgroup/system.slice/web.service/cpu.stat as a 6.x kernel writes it.
const CPU_STAT_V2 = 'usage_usec 2511389\nuser_usec 1622334\nsystem_usec 889055\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n';

function v2Root(): string {
  const root = mkdtempSync(join(tmpdir(), 'beacon-cg2-'));
  writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
  mkdirSync(join(root, 'system.slice/web.service'), { recursive: true });
  writeFileSync(join(root, 'system.slice/web.service/cpu.stat'), CPU_STAT_V2);
  writeFileSync(join(root, 'system.slice/web.service/memory.current'), '48812032\n');
  writeFileSync(join(root, 'system.slice/cgroup.procs'), '');
  return root;
}

test('cgroup v2: usage_usec and memory.current', async (t) => {
  t.is(parseCpuStat(CPU_STAT_V2), 2_511_389_000);
  t.is(parseCpuStat('user_usec 5\n'), undefined);
  const root = v2Root();
  t.is(await cgroupVersion(root), 'v2');
  t.deepEqual(await readCgroup('/system.slice/web.service', { cgroupRoot: root }), { cpuNs: 2_511_389_000, memoryBytes: 48_812_032 });
});

test('cgroup v2: a missing group, a file, and a directory that is not a group are named', async (t) => {
  const root = v2Root();
  const e1 = await t.throwsAsync(readCgroup('/system.slice/nope.service', { cgroupRoot: root }), { instanceOf: UsageSourceError });
  t.regex(e1!.message, /^cgroup \/system\.slice\/nope\.service: no such cgroup/);
  const e2 = await t.throwsAsync(readCgroup('/system.slice/cgroup.procs', { cgroupRoot: root }), { instanceOf: UsageSourceError });
  t.regex(e2!.message, /not a cgroup \(.* is not a directory\)/);
  mkdirSync(join(root, 'plain-dir'));
  const e3 = await t.throwsAsync(readCgroup('/plain-dir', { cgroupRoot: root }), { instanceOf: UsageSourceError });
  t.regex(e3!.message, /not a cgroup \(.* has no (cpu\.stat|memory\.current)\)/);
});

test('a group missing from every hierarchy is named by one reason, the same every time (the agent logs each new reason)', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'beacon-cg1-'));
  for (const d of ['cpuacct', 'memory']) mkdirSync(join(root, d));
  const reasons = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const err = await t.throwsAsync(readCgroup('/system.slice/gone.service', { cgroupRoot: root }), { instanceOf: UsageSourceError });
    reasons.add(err!.message);
  }
  t.deepEqual([...reasons], [`cgroup /system.slice/gone.service: no such cgroup (${root}/cpuacct/system.slice/gone.service does not exist)`]);
});

test('cgroup v1: the live root of this machine', async (t) => {
  t.is(await cgroupVersion('/sys/fs/cgroup'), 'v1');
  const r = await readCgroup('/', { cgroupRoot: '/sys/fs/cgroup' });
  t.true(r.cpuNs > 0 && Number.isInteger(r.cpuNs));
  t.true(r.memoryBytes > 0);
});

test('systemd: counters when accounting is on, the ControlGroup when not, errors for missing units', (t) => {
  const full = readFileSync(join(REPO_ROOT, 'test/fixtures/checks/systemctl-show-journald-full.txt'), 'utf8');
  // systemd 252 in a container: CPUUsageNSec=[not set], MemoryCurrent set.
  t.deepEqual(unitAccounting('systemd-journald.service', full), {
    reading: { memoryBytes: 10072064 },
    controlGroup: '/system.slice/systemd-journald.service',
  });
  const on = 'LoadState=loaded\nActiveState=active\nControlGroup=/system.slice/web.service\nCPUUsageNSec=123456789\nMemoryCurrent=4096\n';
  t.deepEqual(unitAccounting('web.service', on).reading, { cpuNs: 123456789, memoryBytes: 4096 });
  // Older systemd prints an unset counter as 2^64-1.
  t.deepEqual(unitAccounting('web.service', on.replace('MemoryCurrent=4096', 'MemoryCurrent=18446744073709551615')).reading, { cpuNs: 123456789 });
  const notFound = readFileSync(join(REPO_ROOT, 'test/fixtures/checks/systemctl-show-not-found.txt'), 'utf8');
  t.throws(() => unitAccounting('nonexistent-xyz.service', notFound), { instanceOf: UsageSourceError, message: /^unit nonexistent-xyz\.service: not found/ });
  t.throws(() => unitAccounting('db.service', 'LoadState=loaded\nActiveState=inactive\nControlGroup=\nCPUUsageNSec=[not set]\nMemoryCurrent=[not set]\n'), {
    instanceOf: UsageSourceError,
    message: /no processes to measure \(ActiveState=inactive/,
  });
});

test('node: /proc/stat and /proc/meminfo, real and as the kernel writes them', async (t) => {
  t.is(parseProcStat('cpu  100 5 50 9000 20 1 2 3 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n'), (100 + 5 + 50 + 1 + 2 + 3) * 10_000_000);
  t.is(parseMeminfo('MemTotal:       24683872 kB\nMemFree:        23018516 kB\nMemAvailable:   23954188 kB\n'), (24683872 - 23954188) * 1024);
  t.is(parseMeminfo('MemTotal: 1 kB\n'), undefined);
  const r = await readNode();
  t.true(r.cpuNs > 0);
  t.true(r.memoryBytes > 0);
});
