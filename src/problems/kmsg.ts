// The /dev/kmsg source: the kernel's ring buffer, one record per read, in the format
// "priority,sequence,microseconds,flags[,...];message" followed by optional " KEY=value" lines.
// Opened non-blocking so that waiting for new records is a poll we can stop, not a read that pins a
// libuv thread forever. Reading starts at the oldest record still buffered: that is the lookback.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { sleep } from '../util/time.js';
import { LineSplitter } from './lines.js';
import type { LogLine, LogSource } from './types.js';

/** Options of KmsgSource. */
export interface KmsgSourceOptions {
  /** Default /dev/kmsg (a regular file with records works too, for tests). */
  path?: string;
  /** Pause between polls when no record is waiting (default 250 ms). */
  pollMs?: number;
  /** Boot time in ms since epoch, to turn record timestamps into wall-clock times (default: computed). */
  bootTimeMs?: number;
}

/** One parsed kmsg record. */
export interface KmsgRecord {
  facility: number;
  level: number;
  seq: number;
  /** Microseconds since boot. */
  usec: number;
  message: string;
}

/** Parse one record line; undefined for continuation (" KEY=value") or malformed lines. */
export function parseKmsgRecord(line: string): KmsgRecord | undefined {
  const semi = line.indexOf(';');
  if (semi <= 0 || line.startsWith(' ')) return undefined;
  const [pri, seq, usec] = line.slice(0, semi).split(',');
  const p = Number(pri);
  const s = Number(seq);
  const u = Number(usec);
  if (!Number.isInteger(p) || !Number.isInteger(s) || !Number.isFinite(u)) return undefined;
  return { facility: p >> 3, level: p & 7, seq: s, usec: u, message: line.slice(semi + 1) };
}

/** Wall-clock boot time from the monotonic clock (the clock kmsg timestamps count from, give or take). */
export function bootTimeMs(): number {
  return Date.now() - Number(process.hrtime.bigint() / 1_000_000n);
}

const READ_SIZE = 64 * 1024;

/** Reads kernel messages from /dev/kmsg. */
export class KmsgSource implements LogSource {
  readonly name: string;
  private readonly path: string;

  constructor(private readonly options: KmsgSourceOptions = {}) {
    this.path = options.path ?? '/dev/kmsg';
    this.name = this.path === '/dev/kmsg' ? 'kmsg' : `kmsg:${this.path}`;
  }

  async *lines(signal: AbortSignal): AsyncIterable<LogLine> {
    const boot = this.options.bootTimeMs ?? bootTimeMs();
    const pollMs = this.options.pollMs ?? 250;
    const buf = Buffer.alloc(READ_SIZE);
    const split = new LineSplitter();
    let fh: FileHandle | undefined;
    try {
      fh = await open(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
      let pos = 0; // only meaningful for a regular file; the device ignores positions
      while (!signal.aborted) {
        let n: number;
        try {
          ({ bytesRead: n } = await fh.read(buf, 0, buf.length, this.path === '/dev/kmsg' ? null : pos));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN') {
            await sleep(pollMs, signal);
            continue;
          }
          // EPIPE: records were overwritten before we read them; the next read resumes at the oldest left.
          if (code === 'EPIPE') continue;
          throw err;
        }
        if (n === 0) {
          await sleep(pollMs, signal);
          continue;
        }
        pos += n;
        for (const line of split.push(buf.subarray(0, n))) {
          const rec = parseKmsgRecord(line);
          if (rec) yield { time: boot + Math.floor(rec.usec / 1000), text: rec.message };
        }
      }
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }
}
