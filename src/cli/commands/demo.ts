// `beacon demo`: a private etcd, an agent with sample services, and the registry shown live until Ctrl-C.
import { hostname } from 'node:os';
import { Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../config/load.js';
import { Keys } from '../../etcd/keys.js';
import { Store } from '../../etcd/store.js';
import { startEmbeddedEtcd } from '../../demo/embedded-etcd.js';
import { createLogger } from '../../log.js';
import { nodeViews, readRegistry } from '../../registry/reader.js';
import { ExitCode, type Command, type CommandContext } from '../command.js';
import { nodeColumns, serviceColumns } from '../views.js';
import { renderTable } from '../output.js';
import { reportRuntimeError } from '../report.js';

/** The sample config the demo agent runs with. */
export const DEMO_CONFIG = {
  node: { name: 'demo-node', ttl: '5s', labels: { env: 'demo', zone: 'local' } },
  services: [
    { name: 'web', port: 8080, tags: ['http', 'public'] },
    { name: 'api', port: 9090, tags: ['grpc'] },
    { name: 'metrics', port: 9100, tags: ['prometheus'] },
  ],
  // The demo must not take (or fight over) a real agent's local socket.
  api: { enabled: false },
};

async function show(ctx: CommandContext, store: Store, keys: Keys, endpoint: string): Promise<void> {
  const snap = await readRegistry(store, keys);
  const tty = (ctx.stdout as NodeJS.WriteStream).isTTY === true;
  ctx.stdout.write(
    `${tty ? '\x1b[2J\x1b[H' : ''}beacon demo: etcd ${endpoint}, ${new Date().toISOString()} (Ctrl-C to stop)\n\n` +
      `${renderTable(nodeColumns, nodeViews(snap))}\n${renderTable(serviceColumns, snap.endpoints)}\n`,
  );
}

/** The `demo` subcommand. */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'run a private etcd and an agent with sample services; show the registry live until Ctrl-C',
  usage: 'beacon demo',
  options: {},
  maxArgs: 0,
  flags: [],
  exits: { failure: 'the private etcd or the agent could not start' },
  examples: ['beacon demo'],
  async run(ctx) {
    let etcd;
    try {
      etcd = await startEmbeddedEtcd(ctx.signal);
    } catch (err) {
      return reportRuntimeError(ctx, err);
    }
    ctx.stderr.write(`beacon demo: etcd pid ${etcd.pid} at ${etcd.endpoint}, data in ${etcd.dataDir}\n`);
    const cfg = parseAgentConfig({ ...DEMO_CONFIG, etcd: { endpoints: [etcd.endpoint] } }, { env: {}, hostname: hostname() });
    const keys = new Keys(cfg.prefix);
    const store = Store.connect(cfg.etcd);
    const agent = new Agent(cfg, createLogger('warn', process.stderr));
    const stopAgent = new AbortController();
    const agentDone = agent.run(AbortSignal.any([ctx.signal, stopAgent.signal]));
    try {
      // List, then watch from the listed revision; every change redraws (coalesced to 100 ms).
      const { revision } = await store.list(keys.root);
      await show(ctx, store, keys, etcd.endpoint);
      const watch = await store.watch(keys.root, (BigInt(revision) + 1n).toString());
      let timer: NodeJS.Timeout | undefined;
      watch.on('event', () => {
        timer ??= setTimeout(() => {
          timer = undefined;
          show(ctx, store, keys, etcd.endpoint).catch(() => undefined);
        }, 100);
      });
      await new Promise<void>((r) => (ctx.signal.aborted ? r() : ctx.signal.addEventListener('abort', () => r(), { once: true })));
      clearTimeout(timer);
      await watch.cancel();
      return ExitCode.ok;
    } catch (err) {
      return reportRuntimeError(ctx, err);
    } finally {
      stopAgent.abort();
      await agentDone.catch(() => undefined);
      store.close();
      await etcd.stop();
      ctx.stderr.write('beacon demo: stopped; etcd and its data removed\n');
    }
  },
};
