// `beacon watcher`: watch the registry, tell failures from leaves, record events and run hooks (leader only).
import { hostname } from 'node:os';
import { loadWatcherConfig, type WatcherFileConfig } from '../../config/watcher.js';
import { Store } from '../../etcd/store.js';
import { createLogger } from '../../log.js';
import { Watcher } from '../../watcher/watcher.js';
import { ExitCode, type Command } from '../command.js';
import { overridesOf } from '../load-config.js';
import { reportConfigError } from '../report.js';

/** The watcher subcommand. */
export const watcherCommand: Command = {
  name: 'watcher',
  summary: 'watch the registry: report NodeFailed/NodeLeft/... events and run hooks (one leader among watchers)',
  usage: 'beacon watcher [--config FILE] [--etcd URLS] [--prefix P] [--log-level L]',
  options: {},
  async run(ctx) {
    let cfg: WatcherFileConfig;
    try {
      const path = typeof ctx.values.config === 'string' ? ctx.values.config : undefined;
      cfg = await loadWatcherConfig(path, { env: ctx.env, overrides: overridesOf(ctx), hostname: hostname() });
    } catch (err) {
      return reportConfigError(ctx, err);
    }
    const log = createLogger(cfg.log.level);
    const store = Store.connect(cfg.etcd);
    try {
      await new Watcher(store, cfg, log).run(ctx.signal);
    } finally {
      store.close();
    }
    return ExitCode.ok;
  },
};
