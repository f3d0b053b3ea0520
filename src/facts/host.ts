// Plain facts about the host, gathered once at agent start.
//
// Start to registered must stay under 1 s and the agent's RSS under 64 MiB, so only cheap sources
// are used (measured on a 2-core Debian 12 VM: gatherFacts takes ~2-5 ms). systeminformation is
// not loaded here: importing it costs ~20 ms and ~9 MiB of RSS for one number that the kernel's
// sysinfo() gives as well; resource-pressure sampling (src/facts/resources.ts) loads it lazily.
//   - memory: os.totalmem() (sysinfo(2) totalram, the same MemTotal /proc/meminfo shows);
//   - OS name/version: os-release(5) read directly. systeminformation's osInfo() reads the same
//     file but first runs `hostname -f` with execSync (a DNS lookup that blocks the event loop,
//     for many seconds when DNS is down at boot), then `dmesg | grep` on non-UEFI hosts and a
//     uuid() exec chain; ~30 ms at best and unbounded at worst, for two fields we can parse;
//   - kernel, architecture, CPU count: node:os (what systeminformation itself returns for these;
//     its cpu() would spawn lscpu/dmidecode to report the same count).
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { NodeFacts } from '../types.js';
import { readEnvFile } from './env-file.js';
import { diskBytes } from './utilization.js';

/** Options of gatherFacts; `root` prefixes /etc/os-release (tests point it at a fixture tree). */
export interface FactsOptions {
  root?: string;
  /** When given, the time taken is logged at debug. */
  log?: Logger;
}

/** Gather OS, kernel, architecture, CPU count and total memory; never throws for a missing file. */
export async function gatherFacts({ root = '/', log }: FactsOptions = {}): Promise<NodeFacts> {
  const started = performance.now();
  const [osRel, disk] = await Promise.all([readOsRelease(root), diskBytes(root)]);
  const facts: NodeFacts = {
    os: osRel.name,
    osRelease: osRel.version,
    kernel: os.release(),
    // uname -m spelling (x86_64, aarch64): what operators see in `uname -m` and `hostnamectl`.
    arch: os.machine(),
    // os.cpus() is empty when /proc is not mounted; the parallelism hint still counts CPUs.
    cpus: os.cpus().length || os.availableParallelism(),
    memoryBytes: os.totalmem(),
    // statfs(2) of the root: one syscall, constant while the agent runs (a resize shows after a restart).
    ...(disk !== undefined ? { diskBytes: disk } : {}),
  };
  log?.debug({ facts, durationMs: Math.round((performance.now() - started) * 10) / 10 }, 'facts gathered');
  return facts;
}

/** The host name, the default node name when the config gives none. */
export function hostname(): string {
  return os.hostname().trim();
}

// os-release(5): /etc/os-release, else /usr/lib/os-release; NAME defaults to "Linux". Rolling
// distributions have no VERSION_ID, only BUILD_ID. Off Linux (a developer's laptop) fall back to os.type().
async function readOsRelease(root: string): Promise<{ name: string; version: string }> {
  for (const rel of ['etc/os-release', 'usr/lib/os-release']) {
    let env: Map<string, string> | undefined;
    try {
      env = await readEnvFile(join(root, rel));
    } catch {
      continue; // unreadable (permissions): try the next one
    }
    if (env === undefined) continue;
    return {
      name: env.get('NAME') || 'Linux',
      version: env.get('VERSION_ID') || env.get('BUILD_ID') || 'unknown',
    };
  }
  return { name: os.type(), version: 'unknown' };
}
