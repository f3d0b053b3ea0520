// Shared bits of the problems tests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { REPO_ROOT } from '../helpers/process.js';

/** A logger that prints nothing. */
export const silent = pino({ level: 'silent' });

/** The shipped kernel rule file. */
export const KERNEL_MONITOR = join(REPO_ROOT, 'config/kernel-monitor.json');

/** Absolute path of a file under test/fixtures/problems. */
export function fixture(name: string): string {
  return join(REPO_ROOT, 'test/fixtures/problems', name);
}

/** A fresh temp dir. */
export function tempDir(prefix = 'beacon-problems-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
