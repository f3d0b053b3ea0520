// `beacon demo`: what beacon is for, in one command and on one machine: a private etcd, a few agents with
// real checks, a watcher with a harmless remedy hook and its status page; one node crashes and comes back,
// one app fails its check and recovers; shown live until Ctrl-C, after which nothing is left behind.
import { parseDuration } from '../../util/duration.js';
import { ConfigError } from '../../errors.js';
import { Keys } from '../../etcd/keys.js';
import { Store } from '../../etcd/store.js';
import { DemoFleet } from '../../demo/fleet.js';
import { RegistryObserver } from '../../demo/observer.js';
import { runStory } from '../../demo/story.js';
import { ExitCode, type Command } from '../command.js';
import { DemoScreen, eventLine, hookLine } from '../demo-screen.js';
import { useColour } from '../output.js';
import { reportConfigError, reportRuntimeError } from '../report.js';
import { safeText } from '../safe-text.js';
import { selfCommand } from '../self.js';

const MAX_NODES = 9;

interface DemoFlags {
  nodes: number;
  failure: boolean;
  /** Stop by itself after this long (undefined: until Ctrl-C). */
  forMs: number | undefined;
}

function readFlags(values: Record<string, unknown>): DemoFlags {
  const raw = values.nodes;
  let nodes = 3;
  if (typeof raw === 'string') {
    nodes = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
    if (!(nodes >= 1 && nodes <= MAX_NODES)) throw new ConfigError('--nodes', raw, `must be a whole number from 1 to ${MAX_NODES}`);
  }
  let forMs: number | undefined;
  if (typeof values.for === 'string') {
    forMs = parseDuration(values.for, '--for');
    if (forMs < 1) throw new ConfigError('--for', values.for, 'must be positive');
  }
  return { nodes, failure: values['no-failure'] !== true, forMs };
}

/** The `demo` subcommand. */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'run a private etcd, agents with real checks and a watcher; crash a node and show the failure, the hook and the recovery live',
  usage: 'beacon demo [--nodes N] [--no-failure] [--for DURATION]',
  options: { nodes: { type: 'string' }, 'no-failure': { type: 'boolean' }, for: { type: 'string' } },
  maxArgs: 0,
  flags: [
    ['--nodes N', 'how many agents to run (1-9, default 3)'],
    ['--no-failure', 'do not crash a node: only show the fleet'],
    ['--for DURATION', 'end the demo after this long (e.g. 60s) instead of at Ctrl-C'],
  ],
  exits: { usage: 'a bad --nodes or --for', failure: 'the private etcd, an agent or the watcher could not start' },
  examples: ['beacon demo', 'beacon demo --nodes 5', 'beacon demo --no-failure --for 2m'],
  async run(ctx) {
    let flags: DemoFlags;
    try {
      flags = readFlags(ctx.values);
    } catch (err) {
      return reportConfigError(ctx, err);
    }
    // Ctrl-C, SIGTERM, a closed terminal (SIGHUP) or --for all end the demo the same way.
    const hangup = new AbortController();
    ctx.onHangup(() => hangup.abort());
    const signal = AbortSignal.any([ctx.signal, hangup.signal, ...(flags.forMs ? [AbortSignal.timeout(flags.forMs)] : [])]);
    const tty = (ctx.stdout as Partial<NodeJS.WriteStream>).isTTY === true;
    const screen = new DemoScreen(ctx.stdout, tty, useColour(ctx.stdout, ctx.env));

    let fleet: DemoFleet;
    try {
      fleet = await DemoFleet.start({ nodes: flags.nodes, beacon: selfCommand(), env: ctx.env, note: (t) => screen.line(t) }, signal);
    } catch (err) {
      screen.stop();
      if (signal.aborted) {
        ctx.stderr.write('beacon demo: interrupted while starting; everything started was stopped and removed\n');
        return ExitCode.ok;
      }
      return reportRuntimeError(ctx, err);
    }
    const { etcd } = fleet;
    ctx.stderr.write(`beacon demo: etcd pid ${etcd.pid} at ${etcd.endpoint}, data in ${safeText(etcd.dataDir)}\n`);
    ctx.stderr.write(`beacon demo: cleanup watchdog pid ${fleet.reaperPid} (ends everything should this process be killed)\n`);
    const store = Store.connect({ endpoints: [etcd.endpoint], requestTimeoutMs: 2_000, dialTimeoutMs: 1_000 });
    const observer = new RegistryObserver(store, new Keys('/beacon'));
    observer.on('change', (s) => screen.update(s));
    observer.on('event', (e) => screen.add({ time: new Date(), ...eventLine(e) }));
    observer.on('hook', (e, hook, outcome) => screen.add({ time: new Date(), ...hookLine(e, hook, outcome) }));
    observer.on('outage', (err?: Error) => screen.line(err ? `etcd not answering (${err.message}); retrying` : 'etcd answering again', err ? 'warn' : undefined));
    screen.start({ nodes: flags.nodes, etcd: etcd.endpoint, statusUrl: fleet.statusUrl });
    // Ended by the signal, or by an error here: the story must not act on a fleet being stopped.
    const done = new AbortController();
    const running = AbortSignal.any([signal, done.signal]);
    // Neither is expected to fail; if one does, the fleet still runs and the reason is on screen.
    const following = observer.run(running).catch((err: Error) => screen.line(`stopped following etcd: ${err.message}`, 'bad'));
    const story = runStory(fleet, observer, { failure: flags.failure, note: (t) => screen.line(t) }, running).catch((err: Error) =>
      screen.line(`the story stopped: ${err.message}`, 'bad'),
    );
    try {
      await new Promise<void>((r) => (running.aborted ? r() : running.addEventListener('abort', () => r(), { once: true })));
      return ExitCode.ok;
    } finally {
      done.abort();
      await Promise.all([following, story]);
      screen.stop();
      store.close();
      await fleet.stop();
      ctx.stderr.write('beacon demo: stopped; watcher, agents, apps, etcd and its data removed\n');
    }
  },
};
