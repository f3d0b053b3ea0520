// Who this machine is (machine id) and which boot of it is running (boot id).
//
// Decision: a missing or unusable id does NOT stop the agent. It becomes `'unknown'` and the
// reason is returned (and logged at warn) instead. Why:
//   - containers and freshly built images often have no /etc/machine-id, an empty one, or the
//     literal `uninitialized` (systemd's marker for "first boot, id not committed yet"); beacon's
//     demo and tests must still run there;
//   - the node is keyed by its name, not by these ids: they only let a watcher tell a reboot
//     (new boot id) from an agent restart and spot cloned machines (same machine id), so a node
//     without them loses that insight but stays correct.
// Before giving up on the machine id we try /var/lib/dbus/machine-id, which dbus keeps on hosts
// without systemd and which systemd itself links to /etc/machine-id.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isNotFound } from './env-file.js';

/** The value stored when an id cannot be read. */
export const UNKNOWN_ID = 'unknown';

/** One id that fell back to `UNKNOWN_ID`, and why. */
export interface IdentityWarning {
  field: 'machineId' | 'bootId';
  reason: string;
}

/** The ids of this machine and boot, plus the reasons for any fallback. */
export interface Identity {
  /** 32 lowercase hex digits (machine-id(5)), or `'unknown'`. */
  machineId: string;
  /** The kernel's random boot UUID, or `'unknown'`. */
  bootId: string;
  warnings: IdentityWarning[];
}

/** Where to read from; `root` prefixes the standard paths (tests point it at a fixture tree). */
export interface IdentityOptions {
  root?: string;
  /** When given, each fallback is logged at warn. */
  log?: Logger;
}

const MACHINE_ID_PATHS = ['etc/machine-id', 'var/lib/dbus/machine-id'];
const BOOT_ID_PATH = 'proc/sys/kernel/random/boot_id';
const MACHINE_ID_RE = /^[0-9a-f]{32}$/;
const BOOT_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Read the machine id and boot id; never throws for a missing or malformed file. */
export async function readIdentity({ root = '/', log }: IdentityOptions = {}): Promise<Identity> {
  const warnings: IdentityWarning[] = [];

  const machineProblems: string[] = [];
  let machineId: string | undefined;
  for (const rel of MACHINE_ID_PATHS) {
    const path = join(root, rel);
    const r = await readId(path, MACHINE_ID_RE, '32 hex digits');
    if ('id' in r) {
      machineId = r.id;
      break;
    }
    machineProblems.push(`${path}: ${r.problem}`);
  }
  if (machineId === undefined) {
    machineId = UNKNOWN_ID;
    warnings.push({ field: 'machineId', reason: machineProblems.join('; ') });
  }

  const bootPath = join(root, BOOT_ID_PATH);
  const b = await readId(bootPath, BOOT_ID_RE, 'a UUID');
  let bootId: string;
  if ('id' in b) {
    bootId = b.id;
  } else {
    bootId = UNKNOWN_ID;
    warnings.push({ field: 'bootId', reason: `${bootPath}: ${b.problem}` });
  }

  for (const w of warnings) log?.warn({ field: w.field, reason: w.reason }, 'identity unavailable, using unknown');
  return { machineId, bootId, warnings };
}

// One id file: its trimmed, lowercased content when it matches `re`, else what is wrong with it.
async function readId(path: string, re: RegExp, expected: string): Promise<{ id: string } | { problem: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return { problem: 'missing' };
    return { problem: `unreadable (${(err as Error).message})` };
  }
  const id = text.trim().toLowerCase();
  if (id === '') return { problem: 'empty' };
  if (id === 'uninitialized') return { problem: 'uninitialized (first boot, systemd has not committed an id)' };
  if (!re.test(id)) return { problem: `not ${expected}` };
  return { id };
}
