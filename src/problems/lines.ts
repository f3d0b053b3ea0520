// Byte-stream → line splitting shared by the file and kmsg sources: bounded (a line longer than the
// cap is cut, the rest of it skipped) so a newline-free flood cannot grow memory.
import { MAX_LINE_CHARS } from './rules.js';

/** Most bytes kept of one line (UTF-8 of MAX_LINE_CHARS characters fits in 4×; kernel lines are ASCII). */
export const MAX_LINE_BYTES = MAX_LINE_CHARS;

/** Splits chunks into complete lines, keeping at most MAX_LINE_BYTES of a partial line. */
export class LineSplitter {
  private carry: Buffer[] = [];
  private carryLen = 0;
  private overflow = false;

  constructor(private readonly maxBytes: number = MAX_LINE_BYTES) {}

  /** Feed a chunk; returns the lines it completed (without the newline). */
  push(chunk: Buffer): string[] {
    const out: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) {
        this.keep(chunk.subarray(start));
        return out;
      }
      this.keep(chunk.subarray(start, nl));
      out.push(this.take());
      start = nl + 1;
    }
  }

  /** Bytes currently held for an unfinished line. */
  get pending(): number {
    return this.carryLen;
  }

  /** Drop any partial line (the file was replaced). */
  reset(): void {
    this.carry = [];
    this.carryLen = 0;
    this.overflow = false;
  }

  private keep(part: Buffer): void {
    if (part.length === 0 || this.overflow) return;
    const room = this.maxBytes - this.carryLen;
    if (part.length > room) {
      this.overflow = true;
      part = part.subarray(0, room);
    }
    // Copy: the caller reuses its read buffer.
    this.carry.push(Buffer.from(part));
    this.carryLen += part.length;
  }

  private take(): string {
    const s = Buffer.concat(this.carry, this.carryLen).toString('utf8').replace(/\r$/, '');
    this.reset();
    return s;
  }
}
