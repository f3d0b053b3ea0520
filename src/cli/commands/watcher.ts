// `beacon watcher`: watch the registry, tell failures from leaves, record events and run hooks (leader only).
// With `--listen HOST:PORT` (or `http.listen`) it also serves /healthz, /metrics and /http_sd.
import { hostname } from 'node:os';
import { parseListen } from '../../config/listen.js';
import { formatListen } from '../../util/listen.js';
import { loadWatcherConfig, type WatcherFileConfig } from '../../config/watcher.js';
import { Keys } from '../../etcd/keys.js';
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
  usage: 'beacon watcher [--config FILE] [--etcd URLS] [--prefix P] [--log-level L] [--listen HOST:PORT]',
  options: { listen: { type: 'string' } },
  maxArgs: 0,
  flags: [['--listen HOST:PORT', 'serve /healthz, /metrics and /http_sd here (wins over the config\'s http.listen)']],
  exits: { failure: 'the listen address cannot be bound', usage: 'invalid config or --listen' },
  examples: ['beacon watcher --config /etc/beacon/watcher.yaml --listen 127.0.0.1:9102'],
  async run(ctx) {
    let cfg: WatcherFileConfig;
    try {
      const path = typeof ctx.values.config === 'string' ? ctx.values.config : undefined;
      cfg = await loadWatcherConfig(path, { env: ctx.env, overrides: overridesOf(ctx), hostname: hostname() });
      // The flag wins over the file's http.listen.
      if (typeof ctx.values.listen === 'string') cfg = { ...cfg, http: { listen: parseListen('--listen', ctx.values.listen) } };
    } catch (err) {
      return reportConfigError(ctx, err);
    }
    const log = createLogger(cfg.log.level);
    const store = Store.connect(cfg.etcd);
    try {
      if (!cfg.http) {
        await new Watcher(store, cfg, log).run(ctx.signal);
        return ExitCode.ok;
      }
      // prom-client and the HTTP side load only when asked for: the command registry is shared, and
      // `beacon agent` must not carry them.
      const [{ createRegistry }, { WatcherMetrics }, { WatcherHttp }] = await Promise.all([
        import('../../metrics/registry.js'),
        import('../../metrics/watcher-metrics.js'),
        import('../../watcher/http.js'),
      ]);
      const registry = createRegistry();
      const metrics = new WatcherMetrics(registry);
      const watcher = new Watcher(store, cfg, log, undefined, metrics);
      metrics.follow(watcher);
      const http = new WatcherHttp({
        listen: cfg.http.listen,
        id: cfg.watcher.id,
        watcher,
        registry,
        store,
        keys: new Keys(cfg.prefix),
        log,
        probeIntervalMs: cfg.watcher.probeIntervalMs,
        requestTimeoutMs: Math.min(cfg.etcd.requestTimeoutMs, 2_000),
      });
      try {
        await http.listen();
      } catch (err) {
        // Asked for explicitly: a watcher that cannot serve discovery must not pretend to.
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        ctx.stderr.write(`beacon watcher: cannot listen on ${formatListen(cfg.http.listen)}: ${code}\n`);
        return ExitCode.failure;
      }
      await Promise.all([watcher.run(ctx.signal), http.run(ctx.signal)]);
    } finally {
      store.close();
    }
    return ExitCode.ok;
  },
};
