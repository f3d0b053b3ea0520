// Reading the files a config names (the config itself, rule files, TLS files) with bounds: a FIFO or a
// device must not hang the agent or `beacon validate` (a blocked read sits in libuv's thread pool where
// no signal reaches it), and a huge file must not be read whole. So: open without blocking, fstat the
// open descriptor (no race with a rename between stat and open), refuse anything but a regular file,
// and never read more than the limit plus one byte.
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { ConfigError } from '../errors.js';

/** Largest config file read (YAML or JSON). A full config with 60 services is about 30 KiB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Largest rule file or TLS file (a CA bundle such as Debian's ca-certificates.crt is about 220 KiB). */
export const MAX_AUX_FILE_BYTES = 1024 * 1024;

/** What the file is, for messages: `field` names the config field or the file itself when it is the config. */
export interface BoundedRead {
  /** Field or path named in errors (`etcd.caFile`, or the path for the config file itself). */
  field: string;
  /** Shown as the value in errors; undefined when `field` is the path already. */
  shown?: string;
  maxBytes: number;
  /** Wording when open fails, before the errno code; default `cannot be read`. */
  unreadable?: string;
}

const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

function fail(what: BoundedRead, problem: string, cause?: unknown): never {
  throw new ConfigError(what.field, what.shown, problem, cause === undefined ? undefined : { cause });
}

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

// A unix socket cannot be opened at all (ENXIO): say what it is rather than the errno.
function openFailed(path: string, what: BoundedRead, err: unknown): never {
  let st;
  try {
    st = statSync(path);
  } catch {
    st = undefined;
  }
  if (st && !st.isFile()) fail(what, `is ${kindOf(st)}, not a regular file`);
  return fail(what, `${what.unreadable ?? 'cannot be read'} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
}

function tooBig(what: BoundedRead, size: number): never {
  return fail(what, `is larger than ${formatBytes(what.maxBytes)} (${formatBytes(size)}): not a file beacon reads`);
}

/** `1048576` → `1 MiB`, `262144` → `256 KiB`, else bytes. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

// What an open descriptor must be, and the buffer to read it into: the size fstat gave, capped at the
// limit. The size may change while reading (a file being written): one byte past the limit tells.
function bufferFor(what: BoundedRead, st: Stats): Buffer {
  if (!st.isFile()) fail(what, `is ${kindOf(st)}, not a regular file`);
  if (st.size > what.maxBytes) tooBig(what, st.size);
  return Buffer.alloc(Math.min(st.size, what.maxBytes) + 1);
}

// The bytes read, or the ConfigError for a file that grew past the limit while it was read.
function filled(what: BoundedRead, buf: Buffer, got: number): Buffer {
  if (got > what.maxBytes) tooBig(what, got);
  return buf.subarray(0, got);
}

// A ConfigError raised above passes through; any other error of a read is one the file's field is named in.
function readFailed(what: BoundedRead, err: unknown): never {
  if (err instanceof ConfigError) throw err;
  return fail(what, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
}

/** Read a regular file of at most `maxBytes`; ConfigError naming `field` otherwise. */
export async function readBoundedFile(path: string, what: BoundedRead): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, FLAGS);
  } catch (err) {
    return openFailed(path, what, err);
  }
  try {
    const buf = bufferFor(what, await fh.stat());
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return filled(what, buf, got);
  } catch (err) {
    return readFailed(what, err);
  } finally {
    await fh.close();
  }
}

/** The synchronous twin of readBoundedFile, for the TLS files read while building the etcd client. */
export function readBoundedFileSync(path: string, what: BoundedRead): Buffer {
  let fd: number;
  try {
    fd = openSync(path, FLAGS);
  } catch (err) {
    return openFailed(path, what, err);
  }
  try {
    const buf = bufferFor(what, fstatSync(fd));
    let got = 0;
    while (got < buf.length) {
      const bytesRead = readSync(fd, buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return filled(what, buf, got);
  } catch (err) {
    return readFailed(what, err);
  } finally {
    closeSync(fd);
  }
}
