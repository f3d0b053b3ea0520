// A systemd unit's use, as systemd accounts it: `systemctl show` gives CPUUsageNSec and MemoryCurrent
// when accounting is on; when it says `[not set]` (accounting off, as in many containers), the unit's
// ControlGroup is read directly (src/usage/cgroup.ts). A unit that does not exist or is not running has
// nothing to measure: that is an error value for the operator, not a crash.
import { parseSystemctlShow } from '../checks/systemd.js';
import { readCgroup } from './cgroup.js';
import { UsageSourceError, type ReaderOptions, type UsageReading } from './types.js';

/** The properties asked for. */
export const UNIT_PROPERTIES = ['LoadState', 'ActiveState', 'ControlGroup', 'CPUUsageNSec', 'MemoryCurrent'] as const;

/** What `systemctl show` said about a unit: counters when systemd has them, else the cgroup to read. */
export type UnitAccounting = { reading: Partial<UsageReading>; controlGroup: string | undefined };

// systemd prints an unset counter as `[not set]` and, in older versions, as 2^64-1.
function counter(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,20}$/.test(v)) return undefined;
  const n = Number(v);
  return n >= 2 ** 64 - 1 ? undefined : n;
}

/** Interpret `systemctl show` output for `unit`; throws UsageSourceError for a unit that has nothing to measure. */
export function unitAccounting(unit: string, text: string): UnitAccounting {
  const p = parseSystemctlShow(text);
  if (p.LoadState === 'not-found') throw new UsageSourceError(`unit ${unit}: not found (LoadState=not-found)`);
  if (p.LoadState === undefined) throw new UsageSourceError(`unit ${unit}: systemctl show gave no LoadState`);
  const controlGroup = p.ControlGroup ? p.ControlGroup : undefined;
  const cpuNs = counter(p.CPUUsageNSec);
  const memoryBytes = counter(p.MemoryCurrent);
  if (!controlGroup && (cpuNs === undefined || memoryBytes === undefined)) {
    throw new UsageSourceError(`unit ${unit}: no processes to measure (ActiveState=${p.ActiveState ?? 'unknown'}, no ControlGroup)`);
  }
  return { reading: { ...(cpuNs !== undefined ? { cpuNs } : {}), ...(memoryBytes !== undefined ? { memoryBytes } : {}) }, controlGroup };
}

/** Read a unit's use: systemd's counters, or its cgroup's where systemd does not count. */
export async function readUnit(unit: string, opts: ReaderOptions): Promise<UsageReading> {
  // execa costs ~15 MiB of RSS: loaded on first use, so an agent without units never pays it.
  const { execa } = await import('execa');
  const r = await execa('systemctl', ['show', unit, `--property=${UNIT_PROPERTIES.join(',')}`, '--no-pager'], {
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
    timeout: 5_000,
    reject: false,
    stdin: 'ignore',
    maxBuffer: 64 * 1024,
    env: { SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0' },
  });
  if (r.exitCode === undefined && (r.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new UsageSourceError(`unit ${unit}: systemctl not found (is this host running systemd?)`);
  }
  if (r.exitCode !== 0) {
    const err = String(r.stderr).trim().split('\n')[0] || `exit status ${r.exitCode ?? r.signal}`;
    throw new UsageSourceError(`unit ${unit}: systemctl show failed: ${err.slice(0, 300)}`);
  }
  const acct = unitAccounting(unit, String(r.stdout));
  const { cpuNs, memoryBytes } = acct.reading;
  if (cpuNs !== undefined && memoryBytes !== undefined) return { cpuNs, memoryBytes };
  try {
    const cg = await readCgroup(acct.controlGroup!, opts);
    return { cpuNs: cpuNs ?? cg.cpuNs, memoryBytes: memoryBytes ?? cg.memoryBytes };
  } catch (err) {
    // The reason names the unit (the configured field) and what systemd left unset, then the cgroup's.
    const unset = [...(cpuNs === undefined ? ['CPUUsageNSec'] : []), ...(memoryBytes === undefined ? ['MemoryCurrent'] : [])].join(' and ');
    throw new UsageSourceError(`unit ${unit}: systemd does not account ${unset} for it, and its ControlGroup cannot be read: ${(err as Error).message}`, { cause: err });
  }
}
