// The cgroup v2 reader against a real cgroup2 hierarchy of this kernel. This machine is a hybrid host: the
// cpu, cpuacct and memory controllers are bound to cgroup v1 hierarchies (/sys/fs/cgroup/<controller>),
// and an empty cgroup2 tree is mounted beside them (/sys/fs/cgroup/unified). A controller can be bound to
// one hierarchy only, so v2 groups here have no memory.current (or cpu.max...) however they are made; but
// cpu.stat's usage_usec is core cgroup2 accounting, kept for every group with or without the cpu
// controller. So: a real process in a real v2 group, its CPU time read by the v2 reader and compared with
// the kernel's other two accounts of the same process (its v1 cpuacct group and /proc/PID/stat), and the
// missing memory controller reported as such. On a host whose v2 tree has the memory controller (Fedora
// CoreOS, Flatcar), the same test reads memory.current for real instead.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { cgroupVersion, readCgroup, readCgroupCpu } from '../../src/usage/cgroup.js';
import { UsageSourceError } from '../../src/usage/types.js';
import { waitFor } from '../helpers/etcd.js';

const V1_ROOT = '/sys/fs/cgroup';
const TAG = `/beacon-test-v2-${randomBytes(4).toString('hex')}`;
const made: string[] = [];
let burner: ChildProcess | undefined;

/** Where this kernel has a cgroup2 hierarchy mounted (the root itself on a pure v2 host). */
function cgroup2Mount(): string | undefined {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[2] === 'cgroup2')?.[1];
}

/** USER_HZ ticks of user + system time from /proc/PID/stat, in ns (fields 14 and 15, after the `(comm)`). */
function procCpuNs(pid: number): number {
  const after = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ');
  return (Number(after[11]) + Number(after[12])) * 10_000_000;
}

const state = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ')[0];

test.after.always(async () => {
  if (burner && burner.exitCode === null) {
    burner.kill('SIGKILL');
    await waitFor(() => burner!.exitCode !== null || burner!.signalCode !== null, { timeoutMs: 10_000, what: 'burner exit' }).catch(() => undefined);
  }
  for (const dir of made.reverse()) {
    await waitFor(() => {
      if (existsSync(dir)) rmdirSync(dir);
      return true;
    }, { timeoutMs: 10_000, what: `rmdir ${dir}` }).catch(() => undefined);
  }
});

test('cgroup v2 for real: a process in a v2 group, its CPU time as the kernel counts it; memory.current only with the memory controller', async (t) => {
  const v2 = cgroup2Mount();
  if (!v2) return t.fail('no cgroup2 hierarchy mounted on this machine (/proc/mounts has no cgroup2 line)');
  t.is(await cgroupVersion(v2), 'v2', `${v2} is a cgroup2 root`);
  const controllers = readFileSync(join(v2, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
  const memoryInV2 = controllers.includes('memory');
  const v1Cpu = ['cpuacct', 'cpu,cpuacct'].map((m) => join(V1_ROOT, m)).find((d) => existsSync(join(d, 'cpuacct.usage')));
  t.log(`cgroup2 at ${v2}, controllers: ${controllers.join(' ') || '(none)'}; v1 cpuacct: ${v1Cpu ?? 'none'}`);

  const dirs = [join(v2, TAG), ...(v1Cpu ? [join(v1Cpu, TAG)] : [])];
  for (const d of dirs) {
    mkdirSync(d);
    made.push(d);
  }
  // The shell joins both groups itself before it burns anything worth counting; nice 19 on a shared machine.
  const join2 = dirs.map((d) => `echo $$ > ${d}/cgroup.procs`).join(' && ');
  burner = spawn('nice', ['-n', '19', 'sh', '-c', `${join2} && while :; do :; done`], { stdio: 'ignore' });
  const pid = burner.pid!;
  await waitFor(() => readFileSync(join(v2, TAG, 'cgroup.procs'), 'utf8').trim() === String(pid), { timeoutMs: 10_000, what: 'the burner in its v2 group' });
  await waitFor(async () => (await readCgroupCpu(TAG, { cgroupRoot: v2 })) >= 300e6, { timeoutMs: 60_000, intervalMs: 200, what: '300 ms of CPU in the v2 group' });

  // Stopped, every counter holds still and the three accounts can be compared exactly.
  burner.kill('SIGSTOP');
  await waitFor(() => state(pid) === 'T', { timeoutMs: 10_000, what: 'the burner stopped' });
  const v2Ns = await readCgroupCpu(TAG, { cgroupRoot: v2 });
  const procNs = procCpuNs(pid);
  t.log(`v2 cpu.stat usage_usec: ${v2Ns / 1e6} ms; /proc/${pid}/stat: ${procNs / 1e6} ms`);
  t.true(v2Ns >= 300e6);
  // /proc/PID/stat counts in 10 ms ticks (user and system each rounded) and includes the shell's start.
  t.true(Math.abs(v2Ns - procNs) <= 30e6 + 0.02 * procNs, `v2 ${v2Ns} ns vs /proc ${procNs} ns`);
  if (v1Cpu) {
    const v1Ns = await readCgroupCpu(TAG, { cgroupRoot: V1_ROOT });
    t.log(`v1 cpuacct.usage of the same process: ${v1Ns / 1e6} ms`);
    // The same task's runtime since it joined both (one echo apart).
    t.true(Math.abs(v2Ns - v1Ns) <= 5e6, `v2 ${v2Ns} ns vs v1 ${v1Ns} ns`);
  }

  if (memoryInV2) {
    const r = await readCgroup(TAG, { cgroupRoot: v2 });
    t.is(r.cpuNs, v2Ns);
    t.true(r.memoryBytes > 0, 'memory.current of the group');
  } else {
    // The group is real; the memory controller is elsewhere: the reason says so, not "not a cgroup".
    const err = await t.throwsAsync(readCgroup(TAG, { cgroupRoot: v2 }), { instanceOf: UsageSourceError });
    t.is(err!.message, `cgroup ${TAG}: the memory controller is not enabled for it (${join(v2, TAG)} has no memory.current)`);
  }
  burner.kill('SIGKILL');
});
