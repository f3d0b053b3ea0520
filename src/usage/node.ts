// The node's own use, from the kernel: busy CPU time from the first line of /proc/stat (every state but
// idle and iowait, in USER_HZ ticks, 100 per second on every Linux build beacon runs on) and memory in
// use as MemTotal − MemAvailable from /proc/meminfo (what `free` shows as used, caches excluded).
import { readFile } from 'node:fs/promises';
import { UsageSourceError, type UsageReading } from './types.js';

/** USER_HZ: /proc/stat counts in 1/100 s on Linux (sysconf(_SC_CLK_TCK)). */
const NS_PER_TICK = 10_000_000;

/** Busy CPU nanoseconds from /proc/stat's aggregate `cpu` line. */
export function parseProcStat(text: string): number | undefined {
  const m = /^cpu\s+(.+)$/m.exec(text);
  if (!m) return undefined;
  const f = m[1]!.trim().split(/\s+/).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return undefined;
  // user nice system idle iowait irq softirq steal (guest and guest_nice are already in user and nice).
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return (user + nice + system + irq + softirq + steal) * NS_PER_TICK;
}

/** Memory in use (MemTotal − MemAvailable) in bytes from /proc/meminfo. */
export function parseMeminfo(text: string): number | undefined {
  const kib = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kib('MemTotal');
  const avail = kib('MemAvailable');
  return total === undefined || avail === undefined ? undefined : Math.max(0, total - avail);
}

/** Read the node's busy CPU time and memory in use. */
export async function readNode(proc = '/proc'): Promise<UsageReading> {
  const [stat, meminfo] = await Promise.all([readFile(`${proc}/stat`, 'utf8'), readFile(`${proc}/meminfo`, 'utf8')]);
  const cpuNs = parseProcStat(stat);
  const memoryBytes = parseMeminfo(meminfo);
  if (cpuNs === undefined || memoryBytes === undefined) throw new UsageSourceError(`${proc}/stat or ${proc}/meminfo not readable as expected`);
  return { cpuNs, memoryBytes };
}
