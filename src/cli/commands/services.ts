// `beacon services [NAME]`: endpoints of one service (one prefix read) or of all services.
import { isValidName } from '../../etcd/keys.js';
import { listEndpoints } from '../../registry/reader.js';
import type { EndpointRecord } from '../../types.js';
import { ExitCode, type Command } from '../command.js';
import { writeSkipped, writeView } from '../output.js';
import { serviceColumns } from '../views.js';
import { withStore } from '../with-store.js';


/** The stable JSON shape of one endpoint (scripts rely on these names). */
export function endpointJson(e: EndpointRecord): Record<string, unknown> {
  return {
    id: e.id,
    service: e.service,
    node: e.node,
    address: e.address,
    port: e.port,
    protocol: e.protocol,
    health: e.health,
    output: e.output,
    since: e.since,
    tags: e.tags,
    meta: e.meta,
    checks: e.checks ?? [],
  };
}

/** The `services` subcommand. */
export const servicesCommand: Command = {
  name: 'services',
  summary: 'list service endpoints (all, or one service with NAME)',
  usage: 'beacon services [NAME] [-o table|wide|json|yaml] [--etcd URLS] [--prefix P]',
  options: {},
  maxArgs: 1,
  flags: [],
  exits: { usage: 'an invalid NAME', etcdUnavailable: 'etcd did not answer' },
  examples: ['beacon services', 'beacon services web -o wide'],
  run: (ctx) =>
    withStore(ctx, async ({ store, keys, config, format }) => {
      const name = ctx.positionals[0];
      if (name !== undefined && !isValidName(name)) {
        ctx.stderr.write(`beacon services: invalid service name ${JSON.stringify(name)}\n`);
        return ExitCode.usage;
      }
      const { endpoints, errors } = await listEndpoints(store, keys, name);
      writeSkipped(ctx.stderr, errors);
      const under = config.prefix || '/';
      const message = name === undefined ? `no services found under ${under}` : `no endpoints of service "${name}" found under ${under}`;
      writeView(ctx.stdout, format, serviceColumns, endpoints, endpointJson, { stderr: ctx.stderr, message });
      return ExitCode.ok;
    }),
};
