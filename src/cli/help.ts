// The help texts: `beacon --help` (every command) and `beacon COMMAND --help` / `beacon help COMMAND`
// (one command: usage, its own flags, the common ones, its exit codes and an example), both built from the
// Command declarations, so the help cannot leave out a flag the parser accepts.
import { ExitCode, type Command, type ExitCodeName } from './command.js';
import { VERSION } from '../version.js';

/** The options every command takes, as `beacon COMMAND --help` lists them. */
export const COMMON_FLAGS: readonly (readonly [string, string])[] = [
  ['-c, --config FILE', 'config file (YAML or JSON); read commands use its etcd and prefix settings'],
  ['--etcd URLS', 'etcd endpoints, comma-separated (wins over config and environment)'],
  ['--endpoints URLS', 'the same as --etcd (etcdctl\'s spelling)'],
  ['--cacert FILE', 'CA bundle for etcd\'s TLS (as etcdctl; wins over config and environment)'],
  ['--cert FILE', 'client certificate, with --key (as etcdctl)'],
  ['--key FILE', 'client key, with --cert (as etcdctl)'],
  ['--user U[:PASS]', 'etcd user; without :PASS, $BEACON_ETCD_PASSWORD or $ETCDCTL_PASSWORD'],
  ['--prefix P', 'key prefix (default /beacon)'],
  ['--log-level L', 'trace|debug|info|warn|error|silent'],
  ['-o, --output FORMAT', 'output format (table|wide|json|yaml for views)'],
  ['-h, --help', 'show this help'],
];

// `  spelling   meaning` lines, aligned.
// A long-only flag is indented under the long names of the `-x, --long` ones.
function flagLines(flags: readonly (readonly [string, string])[]): string[] {
  const shown = flags.map(([f, text]) => [f.startsWith('--') ? `    ${f}` : f, text] as const);
  const width = Math.max(...shown.map(([f]) => f.length));
  return shown.map(([f, text]) => `  ${f.padEnd(width)}  ${text}`);
}

/** `beacon --help`: the commands and the common options. */
export function overview(commands: Record<string, Command>): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  return [
    `beacon ${VERSION}: an etcd-backed node registry`,
    '',
    'Usage: beacon COMMAND [options] [arguments]',
    '',
    'Commands:',
    ...Object.values(commands).map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options every command takes:',
    ...flagLines(COMMON_FLAGS),
    '',
    "Run `beacon help COMMAND` or `beacon COMMAND --help` for a command's own options, exit codes and examples.",
  ].join('\n');
}

/** `beacon COMMAND --help`. */
export function commandHelp(cmd: Command): string {
  // Every command exits 2 on a flag or an argument it does not take (main.ts): said even when it has no other case.
  const exits = (Object.entries({ ...cmd.exits, usage: ['bad usage: an unknown flag or an extra argument', cmd.exits.usage].filter(Boolean).join('; ') }) as [
    ExitCodeName,
    string,
  ][]).sort(([a], [b]) => ExitCode[a] - ExitCode[b]);
  return [
    `Usage: ${cmd.usage}`,
    '',
    `${cmd.summary}.`,
    '',
    ...(cmd.flags.length > 0 ? ['Options:', ...flagLines(cmd.flags), ''] : []),
    'Options every command takes:',
    ...flagLines(COMMON_FLAGS),
    '',
    'Exit codes:',
    `  0  success`,
    ...exits.map(([name, text]) => `  ${ExitCode[name]}  ${text}`),
    '',
    cmd.examples.length === 1 ? 'Example:' : 'Examples:',
    ...cmd.examples.map((e) => `  ${e}`),
  ].join('\n');
}
