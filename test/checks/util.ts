// Shared bits of the checks tests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseChecks } from '../../src/checks/spec.js';
import type { CheckKind, SpecOf } from '../../src/checks/types.js';
import { REPO_ROOT } from '../helpers/process.js';
export { processGone } from '../helpers/process.js';

/** A logger that prints nothing. */
export const silent = pino({ level: 'silent' });

/** Absolute path of a file under test/fixtures/checks. */
export function fixture(name: string): string {
  return join(REPO_ROOT, 'test/fixtures/checks', name);
}

/** A fresh temp dir. */
export function tempDir(prefix = 'beacon-checks-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Parse one check entry through the real config parser. */
export function spec<K extends CheckKind>(kind: K, entry: Record<string, unknown>, service = 'web'): SpecOf<K> {
  const [s] = parseChecks([entry], 'services[0].checks', service);
  if (!s || s.kind !== kind) throw new Error(`expected a ${kind} check, got ${s?.kind}`);
  return s as SpecOf<K>;
}

/** An AbortSignal aborted after `ms` with the runner's timeout reason. */
export function deadline(ms: number): AbortSignal {
  return AbortSignal.timeout(ms);
}

