// `beacon agent`: register this node and its services, keep them registered until stopped.
import { Agent } from '../../agent/agent.js';
import { ConfigError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { ExitCode, type Command } from '../command.js';
import { commandConfig } from '../load-config.js';
import { reportConfigError } from '../report.js';

/** The node agent subcommand. */
export const agentCommand: Command = {
  name: 'agent',
  summary: 'register this node and its services in etcd and keep them registered',
  usage: 'beacon agent --config FILE [--etcd URLS] [--prefix P] [--log-level L]',
  options: {},
  async run(ctx) {
    if (typeof ctx.values.config !== 'string') {
      ctx.stderr.write('beacon agent: --config FILE is required\n');
      return ExitCode.usage;
    }
    let cfg;
    try {
      cfg = await commandConfig(ctx);
    } catch (err) {
      return reportConfigError(ctx, err, ctx.values.config);
    }
    const log = createLogger(cfg.log.level);
    const agent = new Agent(cfg, log);
    ctx.onHangup(() => {
      commandConfig(ctx).then(
        (next) => agent.reload(next),
        (err) => log.error({ err, field: err instanceof ConfigError ? err.field : undefined }, 'reload refused: config invalid'),
      );
    });
    await agent.run(ctx.signal);
    return ExitCode.ok;
  },
};
