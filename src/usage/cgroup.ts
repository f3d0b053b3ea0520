// A cgroup's own accounting, cgroup v2 or v1 (whichever the host mounts at the root):
//   v2 (Fedora CoreOS, Flatcar): <root><path>/cpu.stat `usage_usec`, <root><path>/memory.current;
//   v1 (this test machine): <root>/cpuacct<path>/cpuacct.usage (ns), <root>/memory<path>/memory.usage_in_bytes.
// The version is decided by the root: a unified mount has cgroup.controllers at its top. On a hybrid
// host (v1 controllers plus an empty v2 tree at <root>/unified) the controllers are v1's.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageSourceError, type ReaderOptions, type UsageReading } from './types.js';

/** Which cgroup layout a root holds. */
export type CgroupVersion = 'v1' | 'v2';

/** v2 when `<root>/cgroup.controllers` exists, else v1. */
export async function cgroupVersion(root: string): Promise<CgroupVersion> {
  try {
    await access(join(root, 'cgroup.controllers'));
    return 'v2';
  } catch {
    return 'v1';
  }
}

// v1 mounts cpuacct alone or co-mounted with cpu (`cpu,cpuacct`, with `cpuacct` a symlink on most hosts).
const V1_CPU_MOUNTS = ['cpuacct', 'cpu,cpuacct'];

/** `usage_usec` from a cgroup v2 cpu.stat, in nanoseconds. */
export function parseCpuStat(text: string): number | undefined {
  const m = /^usage_usec (\d+)$/m.exec(text);
  return m ? Number(m[1]) * 1000 : undefined;
}

/** One whole number from a single-value cgroup file (`memory.current`, `cpuacct.usage`). */
export function parseCounter(text: string): number | undefined {
  const t = text.trim();
  return /^\d{1,20}$/.test(t) ? Number(t) : undefined;
}

/** Read one cgroup's CPU and memory counters. */
export async function readCgroup(path: string, opts: ReaderOptions): Promise<UsageReading> {
  const version = await cgroupVersion(opts.cgroupRoot);
  const [cpu, memory] = await Promise.allSettled([readCgroupCpu(path, opts, version), readCgroupMemory(path, opts, version)]);
  // When both fail, always the CPU side's reason: the reason is published and logged when it changes, so
  // whichever read lost a race must not make it flap.
  if (cpu.status === 'rejected') throw cpu.reason;
  if (memory.status === 'rejected') throw memory.reason;
  return { cpuNs: cpu.value, memoryBytes: memory.value };
}

/** CPU time a cgroup has consumed, in nanoseconds (its own accounting: v2 cpu.stat, v1 cpuacct.usage). */
export async function readCgroupCpu(path: string, opts: ReaderOptions, version?: CgroupVersion): Promise<number> {
  if ((version ?? (await cgroupVersion(opts.cgroupRoot))) === 'v2') {
    const cpuNs = parseCpuStat(await readFileOf(join(opts.cgroupRoot, path), 'cpu.stat', path, 'cpu'));
    if (cpuNs === undefined) throw new UsageSourceError(`cgroup ${path}: cpu.stat has no usage_usec line`);
    return cpuNs;
  }
  const cpuNs = parseCounter(await readV1Cpu(path, opts.cgroupRoot));
  if (cpuNs === undefined) throw new UsageSourceError(`cgroup ${path}: cpuacct.usage is not a number`);
  return cpuNs;
}

/** Memory charged to a cgroup now, in bytes (v2 memory.current, v1 memory.usage_in_bytes). */
export async function readCgroupMemory(path: string, opts: ReaderOptions, version?: CgroupVersion): Promise<number> {
  const v2 = (version ?? (await cgroupVersion(opts.cgroupRoot))) === 'v2';
  const [dir, file] = v2 ? [join(opts.cgroupRoot, path), 'memory.current'] : [join(opts.cgroupRoot, 'memory', path), 'memory.usage_in_bytes'];
  const memoryBytes = parseCounter(await readFileOf(dir, file, path, 'memory'));
  if (memoryBytes === undefined) throw new UsageSourceError(`cgroup ${path}: ${file} is not a number`);
  return memoryBytes;
}

async function readV1Cpu(path: string, root: string): Promise<string> {
  for (const mount of V1_CPU_MOUNTS) {
    const exists = await access(join(root, mount)).then(() => true, () => false);
    if (exists) return readFileOf(join(root, mount, path), 'cpuacct.usage', path, 'cpuacct');
  }
  throw new UsageSourceError(`cgroup ${path}: no cgroup v1 cpuacct controller mounted under ${root}`);
}

// A cgroup file, with errors saying which way the path is wrong (absent, not a directory, not a cgroup, or
// a cgroup without the controller that writes the file).
async function readFileOf(dir: string, file: string, path: string, controller: string): Promise<string> {
  try {
    return await readFile(join(dir, file), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new UsageSourceError(`cgroup ${path}: not a cgroup (${dir} is not a directory)`, { cause: err });
    if (code === 'ENOENT') {
      const exists = (f: string) => access(f).then(() => true, () => false);
      if (!(await exists(dir))) throw new UsageSourceError(`cgroup ${path}: no such cgroup (${dir} does not exist)`, { cause: err });
      // Every cgroup has cgroup.procs. On cgroup v2 a controller's files appear in a group only when its
      // parent's cgroup.subtree_control lists it, and never for a controller bound to a v1 hierarchy.
      if (await exists(join(dir, 'cgroup.procs'))) {
        throw new UsageSourceError(`cgroup ${path}: the ${controller} controller is not enabled for it (${dir} has no ${file})`, { cause: err });
      }
      throw new UsageSourceError(`cgroup ${path}: not a cgroup (${dir} has no ${file})`, { cause: err });
    }
    throw new UsageSourceError(`cgroup ${path}: cannot read ${file}: ${code ?? String(err)}`, { cause: err });
  }
}
