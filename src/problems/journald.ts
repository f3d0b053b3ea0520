// The systemd-journald source (kind `journal` in a rule file's `plugin`): `journalctl -k -f -o json
// --since=@<lookback>`; each JSON line gives the message and its realtime timestamp. The child is killed
// when the signal aborts.
import { BeaconError } from '../errors.js';
import type { LogLine, LogSource } from './types.js';

/** Options of JournalSource. */
export interface JournalSourceOptions {
  /** How far back to start (ms). */
  lookbackMs: number;
  /** journalctl selection arguments (default `-k`, the kernel's messages). */
  match?: readonly string[];
  now?: () => number;
}

/** One `journalctl -o json` entry's message and time, or undefined if it has none. */
export function parseJournalEntry(json: string): LogLine | undefined {
  let e: { MESSAGE?: unknown; __REALTIME_TIMESTAMP?: unknown };
  try {
    e = JSON.parse(json) as typeof e;
  } catch {
    return undefined;
  }
  let text: string;
  if (typeof e.MESSAGE === 'string') text = e.MESSAGE;
  // Non-UTF-8 messages come as arrays of byte values.
  else if (Array.isArray(e.MESSAGE) && e.MESSAGE.every((b) => Number.isInteger(b))) text = Buffer.from(e.MESSAGE as number[]).toString('utf8');
  else return undefined;
  const usec = Number(e.__REALTIME_TIMESTAMP);
  if (!Number.isFinite(usec)) return undefined;
  return { time: Math.floor(usec / 1000), text: text.replace(/\n+$/, '') };
}

/** Follows the journal through journalctl. */
export class JournalSource implements LogSource {
  readonly name = 'journal';

  constructor(private readonly options: JournalSourceOptions) {}

  async *lines(signal: AbortSignal): AsyncIterable<LogLine> {
    // execa costs ~15 MiB of RSS: loaded on first use, so an agent without a journal source never pays it.
    const { execa } = await import('execa');
    const now = this.options.now ?? Date.now;
    const since = Math.floor((now() - this.options.lookbackMs) / 1000);
    const args = [...(this.options.match ?? ['-k']), '-f', '-o', 'json', '--no-pager', `--since=@${since}`];
    const sub = execa('journalctl', args, {
      buffer: false,
      stdin: 'ignore',
      stderr: 'pipe',
      reject: false,
      cancelSignal: signal,
      forceKillAfterDelay: 2_000,
    });
    let stderr = '';
    sub.stderr?.on('data', (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString('utf8');
    });
    try {
      for await (const json of sub.iterable({ from: 'stdout' })) {
        const line = parseJournalEntry(String(json));
        if (line) yield line;
      }
    } catch (err) {
      if (!signal.aborted) throw new BeaconError(`journalctl failed: ${(err as Error).message}`, { cause: err });
    } finally {
      if (!signal.aborted) sub.kill('SIGKILL');
      // Wait for the child so nothing outlives the source.
      await sub;
    }
    if (signal.aborted) return;
    const r = await sub;
    const code = (r.cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT') throw new BeaconError('journalctl not found: the journal source needs systemd-journald');
    throw new BeaconError(`journalctl exited (${r.exitCode ?? r.signal}): ${stderr.trim() || 'no message'}`);
  }
}
