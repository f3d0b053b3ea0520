// `beacon endpoints NAME [--passing]`: one service's endpoints, the view a load balancer or a script wants.
import { isValidName } from '../../etcd/keys.js';
import { endpointsOf } from '../../client/index.js';
import { ExitCode, type Command } from '../command.js';
import { writeSkipped, writeView } from '../output.js';
import { serviceColumns } from '../views.js';
import { withStore } from '../with-store.js';
import { endpointJson } from './services.js';

/** The `endpoints` subcommand. */
export const endpointsCommand: Command = {
  name: 'endpoints',
  summary: "one service's endpoints (--passing: healthy ones only)",
  usage: 'beacon endpoints NAME [--passing] [-o table|wide|json|yaml] [--etcd URLS] [--prefix P]',
  options: { passing: { type: 'boolean' } },
  maxArgs: 1,
  flags: [['--passing', 'only endpoints whose health is passing']],
  exits: { usage: 'missing or invalid NAME', notFound: 'the service has no endpoints at all', etcdUnavailable: 'etcd did not answer' },
  examples: ['beacon endpoints web --passing', 'beacon endpoints web -o json'],
  run: (ctx) =>
    withStore(ctx, async ({ store, keys, config, format }) => {
      const name = ctx.positionals[0];
      if (name === undefined || ctx.positionals.length > 1 || !isValidName(name)) {
        ctx.stderr.write(`beacon endpoints: expected one valid service NAME\nusage: ${endpointsCommand.usage}\n`);
        return ExitCode.usage;
      }
      const { kvs } = await store.list(keys.service(name));
      const all = endpointsOf(keys, kvs);
      writeSkipped(ctx.stderr, all.errors);
      // No endpoint at all means no such service; none passing is an answer (an empty list).
      if (all.endpoints.length === 0) {
        ctx.stderr.write(`beacon endpoints: service ${JSON.stringify(name)} not found under ${config.prefix || '/'}\n`);
        return ExitCode.notFound;
      }
      const shown = ctx.values.passing === true ? all.endpoints.filter((e) => e.health === 'passing') : all.endpoints;
      const message = `no passing endpoints of service "${name}" (${all.endpoints.length} endpoint${all.endpoints.length === 1 ? '' : 's'}, none passing)`;
      writeView(ctx.stdout, format, serviceColumns, shown, endpointJson, { stderr: ctx.stderr, message });
      return ExitCode.ok;
    }),
};
