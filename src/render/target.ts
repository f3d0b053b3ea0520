// The write path of `beacon render`: stage next to the target, fsync, check the staged file, rename it over
// the target, reload. The target is only ever the old file or the whole new one, never a half-written one:
// rename(2) within one directory (hence one filesystem) is atomic.
import { randomBytes } from 'node:crypto';
import { chown, open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { runShell, shellQuote, type ShellResult } from './shell.js';

/** The placeholder in `checkCmd` replaced by the staged file's path (already quoted for sh). */
export const STAGED_PLACEHOLDER = '{{staged}}';

/** Where and how rendered text is installed. */
export interface TargetOptions {
  /** The file to keep up to date. */
  path: string;
  /** Run against the staged file (`{{staged}}` in it, and $BEACON_STAGED); non-zero keeps the old target. */
  checkCmd?: string;
  /** Run after the target was replaced (failure is reported; the new file stays). */
  reloadCmd?: string;
  /** Deadline of each command (default 30 s). */
  commandTimeoutMs?: number;
  /** Mode of a target that does not exist yet (default 0o644); an existing target keeps its own. */
  defaultMode?: number;
}

/** What one apply did. */
export type ApplyResult =
  | { result: 'unchanged' }
  | { result: 'written'; check?: ShellResult; reload?: ShellResult }
  | { result: 'check-failed'; check: ShellResult };

/** One rendered file and its commands. */
export class Target {
  private readonly timeoutMs: number;

  constructor(readonly opts: TargetOptions) {
    this.timeoutMs = opts.commandTimeoutMs ?? 30_000;
  }

  /** The target path. */
  get path(): string {
    return this.opts.path;
  }

  /**
   * Install `text`: nothing when the target already holds it; else stage, check, replace, reload. Throws only
   * when the file system refuses (the target is then untouched); a failing command is a result.
   */
  async apply(text: string, signal: AbortSignal): Promise<ApplyResult> {
    // A symlinked target (sites-enabled → sites-available) stays a symlink: the file it points to is replaced.
    const path = await realpath(this.opts.path).catch(() => this.opts.path);
    const current = await stat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (current && (await readFile(path, 'utf8')) === text) return { result: 'unchanged' };
    const staged = join(dirname(path), `.${basename(path)}.beacon-${randomBytes(6).toString('hex')}`);
    let renamed = false;
    try {
      await writeSynced(staged, text, current ? current.mode & 0o7777 : (this.opts.defaultMode ?? 0o644));
      if (current && process.getuid?.() === 0) await chown(staged, current.uid, current.gid);
      let check: ShellResult | undefined;
      if (this.opts.checkCmd) {
        const cmd = this.opts.checkCmd.replaceAll(STAGED_PLACEHOLDER, shellQuote(staged));
        check = await runShell(cmd, { BEACON_STAGED: staged, BEACON_TARGET: this.opts.path }, this.timeoutMs, signal);
        if (!check.ok) return { result: 'check-failed', check };
      }
      await rename(staged, path);
      renamed = true;
      await syncDir(dirname(path));
      const reload = await this.reload(signal);
      return { result: 'written', ...(check ? { check } : {}), ...(reload ? { reload } : {}) };
    } finally {
      if (!renamed) await unlink(staged).catch(() => undefined);
    }
  }

  /** Run the reload command against the file in place (undefined without one): apply's last step, and its retries. */
  async reload(signal: AbortSignal): Promise<ShellResult | undefined> {
    if (!this.opts.reloadCmd) return undefined;
    return runShell(this.opts.reloadCmd, { BEACON_TARGET: this.opts.path }, this.timeoutMs, signal);
  }
}

// Write a new file with its final mode and make its bytes durable before anyone can rename it into place.
async function writeSynced(path: string, text: string, mode: number): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.chmod(mode); // explicitly: open's mode is filtered by the umask
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// The rename is durable only once the directory entry is: fsync the directory (best effort).
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => undefined);
  if (!fh) return;
  try {
    await fh.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself already happened.
  } finally {
    await fh.close();
  }
}

/** Write `text` to `path` atomically (stage, fsync, rename) without commands: used for the health file. */
export async function writeAtomic(path: string, text: string, mode = 0o644): Promise<void> {
  const staged = join(dirname(path), `.${basename(path)}.beacon-${randomBytes(6).toString('hex')}`);
  try {
    await writeSynced(staged, text, mode);
    await rename(staged, path);
  } catch (err) {
    await unlink(staged).catch(() => undefined);
    throw err;
  }
}
