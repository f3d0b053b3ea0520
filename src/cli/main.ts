// `beacon`: parse argv, dispatch to a subcommand, map the result to an exit code.
// The only module that touches process.argv, process.exit and the process signals.
import { parseArgs } from 'node:util';
import { COMMON_OPTIONS, ExitCode, type Command, type CommandContext } from './command.js';
import { commands } from './commands/index.js';
import { VERSION } from '../version.js';
import { ConfigError } from '../errors.js';
import { reportConfigError } from './report.js';

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.values(commands).map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    `beacon ${VERSION}: an etcd-backed node registry`,
    '',
    'Usage: beacon COMMAND [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Options every command takes:',
    '  -c, --config FILE     config file (YAML or JSON)',
    '      --etcd URLS       etcd endpoints, comma-separated (wins over config and environment);',
    '                        --endpoints is the same option (etcdctl\'s spelling)',
    '      --cacert FILE     CA bundle for etcd\'s TLS (as etcdctl; wins over config and environment)',
    '      --cert FILE       client certificate, with --key (as etcdctl)',
    '      --key FILE        client key, with --cert (as etcdctl)',
    '      --user U[:PASS]   etcd user; without :PASS, $BEACON_ETCD_PASSWORD or $ETCDCTL_PASSWORD',
    '      --prefix P        key prefix (default /beacon)',
    '      --log-level L     trace|debug|info|warn|error|silent',
    '  -o, --output FORMAT   output format (table|json|...)',
    '',
    'Run `beacon COMMAND --help` for a command\'s own options.',
  ].join('\n');
}

/** Run the CLI with `argv` (without node and script); resolves the exit code. */
export async function main(argv: string[], io: Pick<CommandContext, 'stdout' | 'stderr' | 'env'>): Promise<number> {
  const [name, ...rest] = argv;
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
    io.stderr.write(`beacon: unknown command ${JSON.stringify(name)}\n\n${usage()}\n`);
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
    io.stdout.write(`Usage: ${cmd.usage}\n\n${cmd.summary}\n`);
    return ExitCode.ok;
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
