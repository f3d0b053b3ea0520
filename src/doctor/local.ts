// This host: the address the agent would register, the agent's unit and local API, the problem sources
// it reads and the state directory it writes.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, open, unlink } from 'node:fs/promises';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { createLogger } from '../log.js';
import { readApiToken } from '../config/api.js';
import { selectAddress } from '../facts/address.js';
import { failed, ok, warning, type ConfiguredContext, type DoctorCheck, type Finding } from './types.js';

/** The unit the shipped files install (units/). */
const UNIT = 'beacon-agent.service';

/** The address the agent would register, and which source gave it. */
export const address: DoctorCheck<ConfiguredContext> = async (ctx, signal) => {
  try {
    const a = await selectAddress(ctx.config.node.address, { etcdEndpoints: ctx.config.etcd.endpoints, log: createLogger('silent'), signal });
    return [ok('address', `${a.address} (from ${a.source})`)];
  } catch (err) {
    return [failed('address', (err as Error).message, 'set node.address.address, interface or cidr, or list a source in node.address.order that finds one')];
  }
};

/** systemd's view of the agent unit, where there is systemd (PID 1 systemd makes /run/systemd/system). */
export const unit: DoctorCheck = async () => {
  const systemd = await access('/run/systemd/system').then(() => true, () => false);
  if (!systemd) return [ok('agent unit', 'no systemd on this host: not checked')];
  const shown = await new Promise<string | Error>((resolve) => {
    execFile('systemctl', ['show', UNIT, '-p', 'LoadState,ActiveState,SubState,Result,NRestarts'], { timeout: 5000 }, (err, stdout) =>
      resolve(err && !stdout ? err : String(stdout)),
    );
  });
  if (shown instanceof Error) return [warning('agent unit', `systemctl show ${UNIT} failed: ${shown.message}`, 'run beacon doctor where systemctl works (as root, or with a session bus)')];
  return [unitFinding(parseUnitShow(shown))];
};

/** `systemctl show -p ...` output (`Key=value` lines) as a map. */
export function parseUnitShow(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return out;
}

/** The finding for a unit's properties: active and running is ok; restarting again and again, or not active, is not. */
export function unitFinding(p: Record<string, string>): Finding {
  const restarts = Number(p.NRestarts ?? 0);
  if (p.LoadState === 'not-found') return failed('agent unit', `${UNIT} is not installed`, 'install units/beacon-agent.service (docs/install.md), then systemctl enable --now beacon-agent');
  if (p.ActiveState === 'active' && p.SubState === 'running') {
    return restarts > 0
      ? warning('agent unit', `${UNIT} is running, restarted ${restarts} times`, `journalctl -u ${UNIT} says why it restarted`)
      : ok('agent unit', `${UNIT} is active (running)`);
  }
  const state = `${p.ActiveState ?? 'unknown'}${p.SubState ? ` (${p.SubState})` : ''}${p.Result && p.Result !== 'success' ? `, result ${p.Result}` : ''}`;
  return failed('agent unit', `${UNIT} is ${state}${restarts > 0 ? `, restarted ${restarts} times` : ''}`, `systemctl enable --now ${UNIT}; journalctl -u ${UNIT} says why it stopped`);
}

/** The agent's local API answers (what `beacon check` and `beacon maint` talk to). */
export const api: DoctorCheck<ConfiguredContext> = async (ctx, signal) => {
  const cfg = ctx.config.api;
  if (!cfg) return [ok('agent API', 'api.enabled is false: not checked')];
  const where = 'socketPath' in cfg ? { socketPath: cfg.socketPath } : { host: cfg.host, port: cfg.port };
  const shown = 'socketPath' in cfg ? cfg.socketPath : `${cfg.host}:${cfg.port}`;
  let token: string | undefined;
  try {
    token = await readApiToken(cfg);
  } catch (err) {
    return [failed('agent API', (err as Error).message, 'fix api.tokenFile')];
  }
  const status = await new Promise<number | string>((resolve) => {
    const req = request(
      { ...where, path: '/v1/maintenance', method: 'GET', signal: AbortSignal.any([signal, AbortSignal.timeout(3000)]), headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.name));
    req.end();
  });
  if (status === 200) return [ok('agent API', `answers on ${shown}`)];
  if (typeof status === 'number') return [warning('agent API', `${shown} answered HTTP ${status}`, status === 401 ? 'api.token/api.tokenFile differ from the running agent\'s: restart it after a change' : 'another program listens there?')];
  return [failed('agent API', `${shown}: ${status}`, status === 'EACCES' ? 'run as a member of the socket\'s group (api.socketMode)' : 'the agent is not running here, or api in this file differs from the running agent\'s')];
};

/** The problem sources the agent will read, and the state directory it writes. */
export const local: DoctorCheck<ConfiguredContext> = async (ctx) => {
  const out: Finding[] = [];
  const problems = ctx.config.problems;
  const kernel = problems?.kernel;
  const source = kernel ? (kernel.source ?? 'kmsg') : undefined;
  if (kernel && (source === 'kmsg' || source === 'file')) {
    const path = kernel.path ?? ctx.paths.kmsg;
    try {
      await (await open(path, constants.O_RDONLY | constants.O_NONBLOCK)).close();
      out.push(ok('problem source', `${path} readable`));
    } catch (err) {
      out.push(
        failed(
          'problem source',
          `${path}: ${(err as NodeJS.ErrnoException).code}`,
          source === 'kmsg' ? 'run the agent as root or with CAP_SYSLOG, or set problems.kernel.source: journal' : 'fix problems.kernel.path, or give the agent\'s user read access to it',
        ),
      );
    }
  } else if (source === 'journal') {
    const ok_ = await new Promise<boolean>((resolve) => execFile('journalctl', ['-k', '-n', '0', '-q'], { timeout: 5000 }, (err) => resolve(!err)));
    out.push(ok_ ? ok('problem source', 'journalctl -k readable') : failed('problem source', 'journalctl -k fails', 'add the agent\'s user to the systemd-journal group'));
  }
  const stateDir = problems?.stateFile ? dirname(problems.stateFile) : ctx.paths.stateDir;
  try {
    // Written for real: root passes access(W_OK) on a read-only (chattr +i, ro mount) directory, and on a file.
    const probe = join(stateDir, `.beacon-doctor-${process.pid}`);
    await (await open(probe, 'wx', 0o600)).close();
    await unlink(probe);
    out.push(ok('state directory', `${stateDir} writable`));
  } catch (err) {
    out.push(
      (problems?.stateFile ? failed : warning)('state directory', `${stateDir}: ${(err as NodeJS.ErrnoException).code}`, `create it for the agent's user (the unit's StateDirectory=beacon does)`),
    );
  }
  return out;
};
