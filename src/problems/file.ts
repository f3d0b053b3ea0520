// A plain log file source (`/var/log/kern.log`, or any text file): reads the tail at start (lookback),
// then follows appends by polling, and reopens the file when it is rotated or truncated.
// Lines in syslog form (`May  1 12:00:00 host kernel: [ 12.34] text`, or rsyslog's ISO 8601 stamps)
// yield their own time and the bare message; other lines are timed by the file's mtime (lines that were
// there at start) or by the moment they were read.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { sleep } from '../util/time.js';
import { LineSplitter } from './lines.js';
import type { LogLine, LogSource } from './types.js';

/** Options of FileSource. */
export interface FileSourceOptions {
  path: string;
  /** Bytes of the existing file read at start (default 1 MiB); older lines are not looked at. */
  lookbackBytes?: number;
  /** How often to look for appends (default 250 ms). */
  pollMs?: number;
  /** `auto` strips syslog and kernel timestamp prefixes (default); `raw` yields lines verbatim. */
  format?: 'auto' | 'raw';
  now?: () => number;
}

const READ_CHUNK = 64 * 1024;

/** Follows a plain text file. */
export class FileSource implements LogSource {
  readonly name: string;
  private readonly now: () => number;

  constructor(private readonly options: FileSourceOptions) {
    this.name = `file:${options.path}`;
    this.now = options.now ?? Date.now;
  }

  async *lines(signal: AbortSignal): AsyncIterable<LogLine> {
    const { path, pollMs = 250, lookbackBytes = 1024 * 1024 } = this.options;
    const raw = this.options.format === 'raw';
    const buf = Buffer.alloc(READ_CHUNK);
    const split = new LineSplitter();
    let fh: FileHandle | undefined;
    let first = true;
    try {
      while (!signal.aborted) {
        // (Re)open: at start seek to the lookback tail; after rotation read the new file from its start.
        fh = await open(path, 'r').catch(() => undefined);
        if (!fh) {
          await sleep(pollMs, signal);
          continue;
        }
        const st = await fh.stat();
        let pos = first ? Math.max(0, st.size - lookbackBytes) : 0;
        // Lines present before we started are at least as old as the last write.
        const existingEnd = first ? st.size : 0;
        const existingTime = st.mtimeMs;
        let skipPartial = pos > 0; // mid-line after a tail seek: drop up to the first newline
        first = false;
        split.reset();
        for (;;) {
          if (signal.aborted) return;
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          if (bytesRead > 0) {
            let chunk = buf.subarray(0, bytesRead);
            if (skipPartial) {
              const nl = chunk.indexOf(0x0a);
              if (nl < 0) {
                pos += bytesRead;
                continue;
              }
              chunk = chunk.subarray(nl + 1);
              pos += nl + 1;
              skipPartial = false;
            }
            const startPos = pos;
            pos += chunk.length;
            const readAt = startPos < existingEnd ? existingTime : this.now();
            for (const text of split.push(chunk)) {
              if (text === '') continue;
              yield raw ? { time: readAt, text } : parseLogLine(text, readAt, this.now());
            }
            continue;
          }
          // At the end: has the file been rotated (new inode) or truncated?
          const cur = await stat(path).catch(() => undefined);
          const fst = await fh.stat();
          if (!cur || cur.ino !== fst.ino || cur.dev !== fst.dev || fst.size < pos) {
            // Drain what the old file still has before switching (rotation), then reopen.
            if (fst.size > pos) continue;
            break;
          }
          await sleep(pollMs, signal);
        }
        await fh.close();
        fh = undefined;
      }
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }
}

const ISO_PREFIX = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})) +/;
const BSD_PREFIX = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) +/;
const HOST_TAG = /^\S+ [^\s:[]+(?:\[\d+\])?: /;
const KERNEL_STAMP = /^\[ *\d+\.\d+\] /;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Split a syslog-style line into its time and bare message. Lines without a recognised stamp keep
 * `fallbackTime`; a leading kernel `[ seconds.micros] ` stamp is removed in any case.
 */
export function parseLogLine(line: string, fallbackTime: number, now: number = Date.now()): LogLine {
  let time = fallbackTime;
  let rest = line;
  let m = ISO_PREFIX.exec(line);
  if (m) {
    const t = Date.parse(m[1]!);
    if (!Number.isNaN(t)) {
      time = t;
      rest = line.slice(m[0].length);
      rest = rest.replace(HOST_TAG, '');
    }
  } else if ((m = BSD_PREFIX.exec(line))) {
    const month = MONTHS.indexOf(m[1]!);
    if (month >= 0) {
      // BSD syslog has no year: take this year, or last year if that would be in the future.
      const year = new Date(now).getFullYear();
      let t = new Date(year, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])).getTime();
      if (t > now + 86_400_000) t = new Date(year - 1, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])).getTime();
      time = t;
      rest = line.slice(m[0].length).replace(HOST_TAG, '');
    }
  }
  return { time, text: rest.replace(KERNEL_STAMP, '') };
}
