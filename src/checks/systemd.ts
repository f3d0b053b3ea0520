// The systemd probe: ask systemctl for the unit's LoadState/ActiveState/SubState and map ActiveState:
// active → passing; activating/reloading (and refreshing, systemd ≥ 256's reload-like state) → warning;
// anything else (inactive, failed, deactivating, maintenance, not-found) → critical.
import { formatDuration } from '../util/duration.js';
import { capOutput } from '../util/output.js';
import { timedOut, type CheckResult, type Probe, type SystemdCheckSpec } from './types.js';

/** The properties asked for, in the order systemctl is told. */
export const SYSTEMD_PROPERTIES = ['LoadState', 'ActiveState', 'SubState'] as const;

/** Parse `systemctl show` output (`Key=Value` lines) into a map; values may contain `=`. */
export function parseSystemctlShow(text: string): Record<string, string> {
  const props: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    props[line.slice(0, eq)] = line.slice(eq + 1).replace(/\r$/, '');
  }
  return props;
}

/** Decide a unit's health from its properties (as parsed by parseSystemctlShow). */
export function unitHealth(unit: string, props: Readonly<Record<string, string>>): CheckResult {
  const load = props.LoadState ?? '';
  const active = props.ActiveState ?? '';
  const sub = props.SubState ?? '';
  if (active === '') return { status: 'critical', output: `${unit}: systemctl show gave no ActiveState` };
  if (load === 'not-found') return { status: 'critical', output: `${unit}: unit not found (LoadState=not-found)` };
  const output = `${unit}: ${active} (${sub || 'unknown'})${load && load !== 'loaded' ? `, LoadState=${load}` : ''}`;
  if (active === 'active') return { status: 'passing', output };
  if (active === 'activating' || active === 'reloading' || active === 'refreshing') return { status: 'warning', output };
  return { status: 'critical', output };
}

/** Probe a systemd unit through `systemctl show`. */
export const systemdProbe: Probe<SystemdCheckSpec> = async (spec, signal) => {
  // execa costs ~15 MiB of RSS: loaded on first use, so an agent without such checks never pays it.
  const { execa } = await import('execa');
  const args = ['show', spec.unit, `--property=${SYSTEMD_PROPERTIES.join(',')}`, '--no-pager'];
  const r = await execa('systemctl', args, {
    cancelSignal: signal,
    forceKillAfterDelay: 1_000,
    reject: false,
    stdin: 'ignore',
    maxBuffer: 64 * 1024,
    env: { SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0' },
  });
  if (timedOut(signal)) return { status: 'critical', output: `${spec.unit}: systemctl timed out after ${formatDuration(spec.timeoutMs)}` };
  if (signal.aborted) return { status: 'critical', output: `${spec.unit}: cancelled` };
  if (r.exitCode === undefined && !r.signal) {
    const code = (r.cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT') {
      return { status: 'critical', output: `${spec.unit}: systemctl not found: systemd checks need systemd (is this host running systemd?)` };
    }
    return { status: 'critical', output: capOutput(`${spec.unit}: cannot run systemctl: ${r.shortMessage}`) };
  }
  const props = parseSystemctlShow(String(r.stdout));
  if (r.exitCode !== 0 || props.ActiveState === undefined) {
    // e.g. "System has not been booted with systemd as init system (PID 1). Can't operate."
    const err = String(r.stderr).trim() || String(r.stdout).trim() || `exit status ${r.exitCode ?? r.signal}`;
    return { status: 'critical', output: capOutput(`${spec.unit}: systemctl show failed: ${err}`) };
  }
  return unitHealth(spec.unit, props);
};
