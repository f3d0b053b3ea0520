// `beacon check pass|warn|fail ID [--note TEXT]`: report a ttl (push) check to the local agent.
import { DEFAULT_API_SOCKET, parseApi, type ApiConfig } from '../../config/api.js';
import { readConfigFile } from '../../config/load.js';
import { parseSections } from '../../config/sections.js';
import { CheckReportError, parseStatusWord, reportCheck } from '../../checks/ttl-server.js';
import { ExitCode, type Command, type CommandContext } from '../command.js';
import { reportConfigError } from '../report.js';
import { safeText } from '../safe-text.js';

/** The socket flag both local-API commands take. */
export const SOCKET_OPTION = { socket: { type: 'string' } } as const;

/**
 * Where the local agent listens: `--socket PATH`, else the `api` section of `--config FILE`, else
 * /run/beacon/agent.sock. Returns an exit code when that cannot be settled.
 */
export async function agentAddress(ctx: CommandContext, cmd: string): Promise<ApiConfig | number> {
  const socket = ctx.values.socket;
  if (typeof socket === 'string') {
    if (socket === '') {
      ctx.stderr.write(`beacon ${cmd}: --socket needs a path\n`);
      return ExitCode.usage;
    }
    return { socketPath: socket, mode: 0 };
  }
  const path = ctx.values.config;
  if (typeof path !== 'string') return { socketPath: DEFAULT_API_SOCKET, mode: 0 };
  try {
    const { api } = parseSections<{ api: ApiConfig | null }>(await readConfigFile(path), { api: parseApi }, {}, { ignoreOthers: true });
    if (api) return api;
    ctx.stderr.write(`beacon ${cmd}: the agent's local API is disabled in ${path} (api.enabled: false)\n`);
    return ExitCode.usage;
  } catch (err) {
    return reportConfigError(ctx, err, path);
  }
}

const VERBS = 'pass|warn|fail';

/** The `check` subcommand. */
export const checkCommand: Command = {
  name: 'check',
  summary: 'report the status of a ttl health check to the local agent',
  usage: `beacon check ${VERBS} ID [--note TEXT] [--socket PATH] [-c FILE]`,
  options: { note: { type: 'string' }, ...SOCKET_OPTION },
  async run(ctx) {
    const [verb, id, ...extra] = ctx.positionals;
    const status = verb === undefined ? undefined : parseStatusWord(verb);
    if (!status || id === undefined || id === '' || extra.length > 0) {
      ctx.stderr.write(`beacon check: expected ${VERBS} and a check id\n\nUsage: ${checkCommand.usage}\n`);
      return ExitCode.usage;
    }
    const address = await agentAddress(ctx, 'check');
    if (typeof address === 'number') return address;
    const note = typeof ctx.values.note === 'string' ? ctx.values.note : undefined;
    try {
      await reportCheck(address, id, status, note, { signal: ctx.signal });
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
