// The shape of one `beacon` subcommand. Each lives in src/cli/commands/<name>.ts and is listed
// in src/cli/commands/index.ts; main.ts parses argv with node:util parseArgs and dispatches.
import type { ParseArgsConfig } from 'node:util';
import type { Writable } from 'node:stream';

/** Options every subcommand accepts (they win over the config file and the environment). */
export const COMMON_OPTIONS = {
  config: { type: 'string', short: 'c' },
  etcd: { type: 'string' },
  // etcdctl's spelling of --etcd: the same option, so an etcdctl user's habit works.
  endpoints: { type: 'string' },
  // etcdctl's TLS and user flags, with its meaning: they win over the environment and the file.
  cacert: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  user: { type: 'string' },
  prefix: { type: 'string' },
  'log-level': { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** What a subcommand gets: parsed flags, positionals, streams and a shutdown signal. */
export interface CommandContext {
  /** Parsed flags (common + the command's own). */
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
  env: NodeJS.ProcessEnv;
  stdout: Writable;
  stderr: Writable;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** Registers a SIGHUP handler (long-running commands reload on it). */
  onHangup(handler: () => void): void;
}

/** Exit codes that mean something to scripts. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  etcdUnavailable: 4,
} as const;

/** The name of an exit code (`usage`, `notFound`...). */
export type ExitCodeName = keyof typeof ExitCode;

/**
 * One subcommand. `run` resolves to the process exit code. Everything `beacon COMMAND --help` prints is
 * declared here, next to the options it describes (src/cli/help.ts renders it; a test checks each option
 * is described).
 */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /**
   * How many positional arguments it takes at most (Infinity for a list). main.ts refuses more with exit 2,
   * naming the first extra one: an argument is used or refused, never silently ignored.
   */
  maxArgs: number;
  /** Its own flags as `[spelling, meaning]`: `['-f, --follow', 'keep printing new events']`; every option appears. */
  flags: readonly (readonly [string, string])[];
  /** What each exit code other than 0 means for this command. */
  exits: Partial<Record<Exclude<ExitCodeName, 'ok'>, string>>;
  /** Runnable examples, one command line each. */
  examples: readonly string[];
  run(ctx: CommandContext): Promise<number>;
}
