// `beacon maint enable|disable [--service NAME] --reason TEXT`: take the node (or one service) out of
// service through the local agent, which stores the marker in etcd and shows `maintenance` health.
// `beacon maint` alone lists what is in maintenance across the fleet, read from those markers in etcd.
import { isValidName } from '../../etcd/keys.js';
import { MAX_REASON_CHARS, type MaintenanceState } from '../../agent/api.js';
import { AgentApiError, requestMaintenance } from '../../client/agent-api.js';
import { inMaintenance, nodeViews, readRegistry, type NodeStatus } from '../../registry/reader.js';
import { ExitCode, type Command, type CommandContext } from '../command.js';
import { writeSkipped, writeView, type Column } from '../output.js';
import { SOCKET_OPTION, agentAddress } from './check.js';
import { safeText } from '../safe-text.js';
import { age, toneOf } from '../views.js';
import { withStore } from '../with-store.js';

/** One row of the listing: the whole node, or one service of it, in maintenance. */
interface MaintRow {
  node: string;
  status: NodeStatus;
  /** null: the whole node. */
  service: string | null;
  reason: string;
  since: string;
}

const maintColumns: Column<MaintRow>[] = [
  { header: 'NODE', get: (r) => r.node },
  { header: 'STATUS', get: (r) => r.status, tone: (r) => toneOf(r.status) },
  { header: 'SCOPE', get: (r) => (r.service === null ? 'node' : `service ${r.service}`) },
  { header: 'REASON', get: (r) => r.reason },
  { header: 'AGE', get: (r) => age(r.since) },
];

// Every marker in etcd (one read of the nodes prefix), a row per node or service in maintenance.
function list(ctx: CommandContext): Promise<number> {
  return withStore(ctx, async ({ store, keys, config, format }) => {
    const snap = await readRegistry(store, keys);
    writeSkipped(ctx.stderr, snap.errors);
    const rows = inMaintenance(nodeViews(snap)).flatMap(({ name, status, maintenance: m }) => [
      ...(m.reason !== null ? [{ node: name, status, service: null, reason: m.reason, since: m.updatedAt }] : []),
      ...Object.entries(m.services).map(([service, reason]) => ({ node: name, status, service, reason, since: m.updatedAt })),
    ]);
    writeView(ctx.stdout, format, maintColumns, rows, (r) => ({ ...r }), { stderr: ctx.stderr, message: `nothing in maintenance under ${config.prefix || '/'}` });
    return ExitCode.ok;
  });
}

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
  summary: 'list what is in maintenance; put this node (or one service) into maintenance or take it out',
  usage: 'beacon maint [enable|disable [--service NAME] --reason TEXT [--socket PATH] [--token-file FILE]] [-o table|wide|json|yaml] [-c FILE]',
  options: { service: { type: 'string' }, reason: { type: 'string' }, ...SOCKET_OPTION },
  maxArgs: 1,
  flags: [
    ['--service NAME', 'only this service, not the whole node'],
    ['--reason TEXT', "why (required to enable; shown in the endpoints' output)"],
    ['--socket PATH', "the agent's local API socket (as for beacon check)"],
    ['--token-file FILE', 'the API token (as for beacon check)'],
  ],
  exits: {
    failure: 'the agent cannot be reached or refuses',
    usage: 'bad arguments',
    notFound: 'the agent does not offer that service',
    etcdUnavailable: 'etcd did not answer (the listing, without arguments)',
  },
  examples: ['beacon maint', 'beacon maint enable --reason "kernel upgrade"', 'beacon maint disable --service web'],
  async run(ctx) {
    const [action] = ctx.positionals;
    const fail = (msg: string) => {
      ctx.stderr.write(`beacon maint: ${msg}\n\nUsage: ${maintCommand.usage}\n`);
      return ExitCode.usage;
    };
    const changing = ['service', 'reason', 'socket', 'token-file'].filter((f) => ctx.values[f] !== undefined);
    if (action === undefined && changing.length === 0) return list(ctx);
    if (action !== 'enable' && action !== 'disable') return fail(`expected enable or disable${action === undefined ? ` with --${changing[0]}` : ''}`);
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
