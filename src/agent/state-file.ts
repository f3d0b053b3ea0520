// The optional local state file (`problems.stateFile`, e.g. /var/lib/beacon/state.json): the kernel
// monitor's conditions and watermark, kept on disk so they survive an agent restart that outlasts the
// node lease (the etcd copy is leased and gone by then). Written atomically (temp file + rename),
// only when the conditions change or the watermark moved, never more often than every few seconds.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Condition } from '../problems/types.js';

/** What the state file holds. */
export interface LocalState {
  schema: 1;
  node: string;
  bootId: string;
  /** Time of the newest kernel log line handled (ISO 8601), null when none yet. */
  watermark: string | null;
  /** The kernel monitor's conditions (pressure conditions are sampled again, not restored). */
  conditions: Condition[];
  savedAt: string;
}

/** Read the state file; undefined when it is missing or unusable (logged, never fatal). */
export async function readLocalState(path: string, node: string, log: Logger): Promise<LocalState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err, path }, 'state file not readable; starting without it');
    return undefined;
  }
  try {
    const s = JSON.parse(text) as Partial<LocalState>;
    if (s.schema !== 1 || !Array.isArray(s.conditions) || typeof s.bootId !== 'string') throw new Error('not a beacon state file');
    // Another node name's state (the file copied between machines, a renamed node) is not ours.
    if (s.node !== node) return undefined;
    return s as LocalState;
  } catch (err) {
    log.warn({ err, path }, 'state file not readable; starting without it');
    return undefined;
  }
}

/** Write the state file atomically. */
export async function writeLocalState(path: string, state: LocalState): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state)}\n`, { mode: 0o644 });
  await rename(tmp, path);
}
