// Shared bits of the facts tests: fixture paths and a logger whose lines the test can read.
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';

// Compiled tests sit in dist/test/facts/, three levels below the repo root.
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/facts/', import.meta.url));

/** Absolute path of a file or directory under test/fixtures/facts/. */
export function fixture(...parts: string[]): string {
  return [FIXTURES.replace(/\/$/, ''), ...parts].join('/');
}

/** One parsed pino line. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

/** A debug-level logger that keeps every line it writes, parsed. */
export function captureLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}
