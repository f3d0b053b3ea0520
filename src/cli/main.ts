// `beacon`: parse argv, dispatch to a subcommand, map the result to an exit code.
// The only module that touches process.argv, process.exit and the process signals.
import { parseArgs } from 'node:util';
import { COMMON_OPTIONS, ExitCode, type Command, type CommandContext } from './command.js';
import { commands } from './commands/index.js';
import { VERSION } from '../version.js';
import { ConfigError } from '../errors.js';
import { commandHelp, overview } from './help.js';
import { reportConfigError } from './report.js';
import { safeText } from './safe-text.js';

/** Run the CLI with `argv` (without node and script); resolves the exit code. */
export async function main(argv: string[], io: Pick<CommandContext, 'stdout' | 'stderr' | 'env'>): Promise<number> {
  const [name, ...rest] = argv;
  const usage = () => overview(commands);
  if (name === 'help' && rest.length > 0) {
    // `beacon help COMMAND`, as git and kubectl: that command's help.
    const [topic, ...extra] = rest;
    const cmd = commands[topic!];
    if (!cmd || extra.length > 0) {
      io.stderr.write(`beacon help: ${cmd ? `unexpected argument "${safeText(extra[0]!)}"` : `unknown command "${safeText(topic!)}"`}\n\n${usage()}\n`);
      return ExitCode.usage;
    }
    io.stdout.write(`${commandHelp(cmd)}\n`);
    return ExitCode.ok;
  }
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    io.stdout.write(`${usage()}\n`);
    return name ? ExitCode.ok : ExitCode.usage;
  }
  if (name === 'version' || name === '--version') {
    io.stdout.write(`${VERSION}\n`);
    return ExitCode.ok;
  }
  const cmd: Command | undefined = commands[name];
  if (!cmd) {
    io.stderr.write(`beacon: unknown command "${safeText(name)}"\n\n${usage()}\n`);
    return ExitCode.usage;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...COMMON_OPTIONS, ...cmd.options }, allowPositionals: true, strict: true });
  } catch (err) {
    io.stderr.write(`beacon ${cmd.name}: ${(err as Error).message}\n\nUsage: ${cmd.usage}\n`);
    return ExitCode.usage;
  }
  if (parsed.values.help) {
    io.stdout.write(`${commandHelp(cmd)}\n`);
    return ExitCode.ok;
  }
  if (parsed.positionals.length > cmd.maxArgs) {
    // Used or refused, never ignored: `beacon watch web` must not look like it watched `web`.
    const extra = parsed.positionals[cmd.maxArgs]!;
    const takes = cmd.maxArgs === 0 ? 'takes no arguments' : `takes at most ${cmd.maxArgs} argument${cmd.maxArgs === 1 ? '' : 's'}`;
    io.stderr.write(`beacon ${cmd.name}: unexpected argument "${safeText(extra)}" (${cmd.name} ${takes})\n\nUsage: ${cmd.usage}\n`);
    return ExitCode.usage;
  }
  const ac = new AbortController();
  const hangups: (() => void)[] = [];
  const onStop = () => ac.abort();
  const onHup = () => hangups.forEach((h) => h());
  process.on('SIGINT', onStop);
  process.on('SIGTERM', onStop);
  process.on('SIGHUP', onHup);
  try {
    return await cmd.run({
      values: parsed.values,
      positionals: parsed.positionals,
      env: io.env,
      stdout: io.stdout,
      stderr: io.stderr,
      signal: ac.signal,
      onHangup: (h) => hangups.push(h),
    });
  } catch (err) {
    // A config problem found late (TLS files are checked when the etcd client is built): exit 2, no stack.
    if (err instanceof ConfigError) return reportConfigError(io, err);
    throw err;
  } finally {
    process.off('SIGINT', onStop);
    process.off('SIGTERM', onStop);
    process.off('SIGHUP', onHup);
  }
}
