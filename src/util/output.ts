// Output caps: a check's output ends up in etcd and in `beacon services`, so it is bounded
// (Consul's 4 KiB) and says how much was dropped.

/** Most bytes of output kept per check result. */
export const OUTPUT_CAP_BYTES = 4096;

/** Keeps the first `cap` bytes of a stream and counts the rest, without ever holding more. */
export class OutputCapture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  /** Every byte seen, kept or not. */
  total = 0;

  constructor(private readonly cap: number = OUTPUT_CAP_BYTES) {}

  /** Account for one chunk. */
  write(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.total += buf.length;
    const room = this.cap - this.kept;
    if (room <= 0) return;
    const part = buf.length > room ? buf.subarray(0, room) : buf;
    this.chunks.push(Buffer.from(part));
    this.kept += part.length;
  }

  /** The kept text, with a "captured N of M bytes" note when something was dropped. */
  text(): string {
    const buf = Buffer.concat(this.chunks, this.kept);
    const body = utf8Prefix(buf, buf.length);
    if (this.total <= this.kept) return body;
    return `${body}\n... (captured ${this.kept} of ${this.total} bytes)`;
  }
}

/** Cap a string to `cap` UTF-8 bytes with the same note as OutputCapture. */
export function capOutput(text: string, cap: number = OUTPUT_CAP_BYTES): string {
  const c = new OutputCapture(cap);
  c.write(text);
  return c.text();
}

// Decode `buf` without leaving half a multi-byte character at the end (the cap may cut one).
function utf8Prefix(buf: Buffer, n: number): string {
  let end = Math.min(n, buf.length);
  // Step back over continuation bytes (10xxxxxx) to the lead byte of the last character,
  // and drop that character when it is incomplete.
  let i = end - 1;
  while (i >= 0 && i > end - 4 && (buf[i]! & 0xc0) === 0x80) i--;
  if (i >= 0) {
    const lead = buf[i]!;
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (end - i < need) end = i;
  }
  return buf.toString('utf8', 0, end);
}
