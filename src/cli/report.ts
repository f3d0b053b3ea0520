// Human-facing error reports for the CLI: one line naming the problem, and a meaningful exit code.
import { BeaconError, ConfigError, EtcdUnavailableError } from '../errors.js';
import { ExitCode, type CommandContext } from './command.js';
import { formatConfigError } from '../config/load.js';
import { safeLines, safeText } from './safe-text.js';

/** Print a config error (or aggregate) and return exit code 2; rethrow anything else. */
export function reportConfigError(ctx: Pick<CommandContext, 'stderr'>, err: unknown, file?: string): number {
  if (err instanceof ConfigError || (err instanceof BeaconError && err.name.startsWith('Config'))) {
    ctx.stderr.write(`${safeLines(formatConfigError(err, file))}\n`);
    return ExitCode.usage;
  }
  if (isFileError(err)) {
    ctx.stderr.write(`config error: ${safeText((err as Error).message)}\n`);
    return ExitCode.usage;
  }
  throw err;
}

/** Print an etcd/runtime error and return the exit code that says what kind it was. */
export function reportRuntimeError(ctx: Pick<CommandContext, 'stderr'>, err: unknown): number {
  if (err instanceof EtcdUnavailableError) {
    ctx.stderr.write(`etcd unavailable: ${safeText(err.message)}\n`);
    return ExitCode.etcdUnavailable;
  }
  // A runtime error may quote a key or a value read from etcd.
  ctx.stderr.write(`error: ${safeText(err instanceof Error ? err.message : String(err))}\n`);
  return ExitCode.failure;
}

function isFileError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && typeof (err as NodeJS.ErrnoException).code === 'string' && 'path' in err;
}
