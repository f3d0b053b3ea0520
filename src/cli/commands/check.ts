// `beacon check pass|warn|fail ID [--note TEXT]`: report a ttl (push) check to the local agent.
import { resolve } from 'node:path';
import { DEFAULT_API_SOCKET, parseApi, readApiToken, type ApiAddress, type ApiConfig } from '../../config/api.js';
import { readConfigFile } from '../../config/load.js';
import { parseSections } from '../../config/sections.js';
import { parseStatusWord } from '../../agent/api.js';
import { CheckReportError, reportCheck } from '../../client/agent-api.js';
import { ExitCode, type Command, type CommandContext } from '../command.js';
import { reportConfigError } from '../report.js';
import { safeText } from '../safe-text.js';

/** The flags both local-API commands take. */
export const SOCKET_OPTION = { socket: { type: 'string' }, 'token-file': { type: 'string' } } as const;

/** How to reach the local agent: its address and the token to send, if any. */
export interface AgentTarget {
  address: ApiAddress;
  token?: string;
}

/**
 * Where the local agent listens: `--socket PATH`, else the `api` section of `--config FILE`, else
 * /run/beacon/agent.sock; and the token: `--token-file FILE`, else that section's `api.token` or
 * `api.tokenFile`. Returns an exit code when that cannot be settled.
 */
export async function agentAddress(ctx: CommandContext, cmd: string): Promise<AgentTarget | number> {
  const socket = ctx.values.socket;
  const tokenFile = ctx.values['token-file'];
  if (tokenFile === '' || socket === '') {
    ctx.stderr.write(`beacon ${cmd}: --${socket === '' ? 'socket' : 'token-file'} needs a path\n`);
    return ExitCode.usage;
  }
  const path = ctx.values.config;
  let api: ApiConfig = { socketPath: DEFAULT_API_SOCKET, mode: 0 };
  try {
    if (typeof path === 'string') {
      const parsed = parseSections<{ api: ApiConfig | null }>(await readConfigFile(path), { api: parseApi }, { baseDir: resolve(path, '..') }, { ignoreOthers: true });
      if (!parsed.api) {
        ctx.stderr.write(`beacon ${cmd}: the agent's local API is disabled in ${path} (api.enabled: false)\n`);
        return ExitCode.usage;
      }
      api = parsed.api;
    }
    const address: ApiAddress = typeof socket === 'string' ? { socketPath: socket, mode: 0 } : api;
    // The flag wins over the file's token, as flags do over files everywhere else.
    const token = await readApiToken(typeof tokenFile === 'string' ? { ...address, tokenFile: resolve(tokenFile) } : api);
    return { address, ...(token !== undefined ? { token } : {}) };
  } catch (err) {
    return reportConfigError(ctx, err, typeof path === 'string' ? path : undefined);
  }
}

const VERBS = 'pass|warn|fail';

/** The `check` subcommand. */
export const checkCommand: Command = {
  name: 'check',
  summary: 'report the status of a ttl health check to the local agent',
  usage: `beacon check ${VERBS} ID [--note TEXT] [--socket PATH] [--token-file FILE] [-c FILE]`,
  options: { note: { type: 'string' }, ...SOCKET_OPTION },
  maxArgs: 2,
  flags: [
    ['--note TEXT', "the check's output (shown by describe node and services -o wide)"],
    ['--socket PATH', "the agent's local API socket (default: the config's api section, else /run/beacon/agent.sock)"],
    ['--token-file FILE', 'the API token (first line; default: the config\'s api.token or api.tokenFile)'],
  ],
  exits: { failure: 'the agent cannot be reached or refuses the token', usage: 'bad arguments or an unusable token file', notFound: 'the agent has no ttl check ID' },
  examples: ['beacon check pass backup-fresh --note "last backup 02:00, 1.2 GiB"', 'beacon check fail backup-fresh --note "disk full"'],
  async run(ctx) {
    const [verb, id, ...extra] = ctx.positionals;
    const status = verb === undefined ? undefined : parseStatusWord(verb);
    if (!status || id === undefined || id === '' || extra.length > 0) {
      ctx.stderr.write(`beacon check: expected ${VERBS} and a check id\n\nUsage: ${checkCommand.usage}\n`);
      return ExitCode.usage;
    }
    const target = await agentAddress(ctx, 'check');
    if (typeof target === 'number') return target;
    const note = typeof ctx.values.note === 'string' ? ctx.values.note : undefined;
    try {
      await reportCheck(target.address, id, status, note, { signal: ctx.signal, ...(target.token !== undefined ? { token: target.token } : {}) });
      return ExitCode.ok;
    } catch (err) {
      if (!(err instanceof CheckReportError)) throw err;
      // The agent's answer quotes the check id: escaped.
      ctx.stderr.write(`beacon check: ${safeText(err.message)}\n`);
      if (err.statusCode === 404) return ExitCode.notFound;
      if (err.statusCode === 400 || err.statusCode === 413) return ExitCode.usage;
      return ExitCode.failure;
    }
  },
};
