// `beacon agent`: register this node and its services, keep them registered until stopped.
import { Agent } from '../../agent/agent.js';
import { ConfigError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { SdNotify } from '../../agent/sd-notify.js';
import { ExitCode, type Command } from '../command.js';
import { commandConfig, reloadConfig } from '../load-config.js';
import { reportConfigError } from '../report.js';

/** The node agent subcommand. */
export const agentCommand: Command = {
  name: 'agent',
  summary: 'register this node and its services in etcd and keep them registered',
  usage: 'beacon agent --config FILE [--etcd URLS] [--prefix P] [--log-level L]',
  options: {},
  maxArgs: 0,
  flags: [],
  exits: { usage: 'invalid config (every problem is printed) or --config missing', failure: 'could not start' },
  examples: ['beacon agent --config /etc/beacon/agent.yaml'],
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
    let running = cfg;
    ctx.onHangup(() => {
      reloadConfig(ctx, running).then(
        (next) => {
          agent.reload(next);
          running = { ...next, problems: running.problems };
        },
        (err) => log.error({ err, field: err instanceof ConfigError ? err.field : undefined }, 'reload refused: config invalid'),
      );
    });
    // READY once local setup is done, not after etcd answers: an etcd outage must not stall boot.
    const notify = new SdNotify(ctx.env, log);
    void agent.ready.then((l) => notify.ready(`node ${cfg.node.name} address ${l.address.address}`));
    ctx.signal.addEventListener('abort', () => void notify.stopping(), { once: true });
    try {
      await agent.run(ctx.signal);
    } catch (err) {
      // The kernel rule file is read again at start: it may have changed since the config was checked.
      if (err instanceof ConfigError) return reportConfigError(ctx, err, ctx.values.config);
      throw err;
    }
    return ExitCode.ok;
  },
};
