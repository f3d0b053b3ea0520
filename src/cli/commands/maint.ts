// `beacon maint enable|disable [--service NAME] --reason TEXT`: take the node (or one service) out of
// service through the local agent, which stores the marker in etcd and shows `maintenance` health.
import { isValidName } from '../../etcd/keys.js';
import { MAX_REASON_CHARS, type MaintenanceState } from '../../agent/api.js';
import { AgentApiError, requestMaintenance } from '../../client/agent-api.js';
import { ExitCode, type Command } from '../command.js';
import { SOCKET_OPTION, agentAddress } from './check.js';
import { safeText } from '../safe-text.js';

function describe(m: MaintenanceState): string {
  const parts = [
    // The reasons are free text (stored in etcd, echoed by the agent): escaped.
    ...(m.node !== null ? [`node: ${safeText(m.node)}`] : []),
    ...Object.entries(m.services).map(([s, r]) => `service ${safeText(s)}: ${safeText(r)}`),
  ];
  return parts.length === 0 ? 'nothing is in maintenance' : `in maintenance: ${parts.join('; ')}`;
}

/** The `maint` subcommand. */
export const maintCommand: Command = {
  name: 'maint',
  summary: 'put this node (or one service) into maintenance, or take it out, through the local agent',
  usage: 'beacon maint enable|disable [--service NAME] --reason TEXT [--socket PATH] [--token-file FILE] [-c FILE]',
  options: { service: { type: 'string' }, reason: { type: 'string' }, ...SOCKET_OPTION },
  async run(ctx) {
    const [action, ...extra] = ctx.positionals;
    const fail = (msg: string) => {
      ctx.stderr.write(`beacon maint: ${msg}\n\nUsage: ${maintCommand.usage}\n`);
      return ExitCode.usage;
    };
    if ((action !== 'enable' && action !== 'disable') || extra.length > 0) return fail('expected enable or disable');
    const service = ctx.values.service;
    if (service !== undefined && (typeof service !== 'string' || !isValidName(service))) return fail(`invalid service name ${JSON.stringify(service)}`);
    const reason = typeof ctx.values.reason === 'string' ? ctx.values.reason.trim() : undefined;
    if (action === 'enable' && !reason) return fail('--reason TEXT is required to enable maintenance (it is shown in the endpoints\' output)');
    if (reason !== undefined && reason.length > MAX_REASON_CHARS) return fail(`--reason must be at most ${MAX_REASON_CHARS} characters`);
    const target = await agentAddress(ctx, 'maint');
    if (typeof target === 'number') return target;
    const { address } = target;
    const token = target.token !== undefined ? { token: target.token } : {};
    try {
      const state =
        action === 'enable'
          ? await requestMaintenance(address, service, reason!, token)
          : await requestMaintenance(address, service, null, { ...token, ...(reason !== undefined ? { note: reason } : {}) });
      ctx.stdout.write(`${describe(state)}\n`);
      return ExitCode.ok;
    } catch (err) {
      if (!(err instanceof AgentApiError)) throw err;
      ctx.stderr.write(`beacon maint: ${safeText(err.message)}\n`);
      if (err.statusCode === 404) return ExitCode.notFound;
      if (err.statusCode === 400) return ExitCode.usage;
      return ExitCode.failure;
    }
  },
};
