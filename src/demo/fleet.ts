// The demo's fleet: a private etcd, N agents as real `beacon agent` child processes (so that one can be
// SIGKILLed like a crashed machine), each with real apps to check, and one `beacon watcher` with a harmless
// remedy hook and its HTTP side (the status page) on a free loopback port. Everything lives under one temp
// dir and is stopped in order by stop(): watcher (which ends any hook it runs), agents (graceful leave),
// the apps, then etcd, then the dir. Should the demo die without stop() (SIGKILL), its reaper cleans up.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BeaconError } from '../errors.js';
import { sleep } from '../util/time.js';
import { DemoChild, type BeaconCommand } from './child.js';
import { agentConfig, demoNodeNames, watcherConfig, type DemoNodeSpec } from './configs.js';
import { freePort, startEmbeddedEtcd, type EmbeddedEtcd } from './embedded-etcd.js';
import { Reaper } from './reaper.js';
import { startDemoApps, type DemoApps } from './servers.js';

/** What the fleet is made of. */
export interface DemoFleetOptions {
  /** How many agents (node1..nodeN). */
  nodes: number;
  /** How to run beacon itself (the CLI knows: node and its script, or the single executable). */
  beacon: BeaconCommand;
  /** The environment the children start from; BEACON_* and ETCDCTL_* are dropped (the demo's own settings win). */
  env: NodeJS.ProcessEnv;
  /** Told of every process started, and of any that died on its own. */
  note(text: string): void;
}

/** One demo node: its config, its apps and its agent process (replaced on restart). */
interface DemoNode {
  spec: DemoNodeSpec;
  configPath: string;
  apps: DemoApps;
  agent: DemoChild | undefined;
}

// The watcher's HTTP side answers once its process is up; a loaded machine may take a while to start Node.
const WATCHER_UP_TIMEOUT_MS = 30_000;
// A free port is only free until someone takes it: a few tries before giving up.
const LISTEN_ATTEMPTS = 3;

/** The environment a child starts with: the caller's, without settings that would override the demo's. */
export function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('BEACON_') && !k.startsWith('ETCDCTL_')));
}

/** A running demo fleet; build it with DemoFleet.start. */
export class DemoFleet {
  private readonly nodes = new Map<string, DemoNode>();
  private watcher: DemoChild | undefined;
  private statusPort = 0;
  private stopping = false;
  private readonly env: NodeJS.ProcessEnv;

  private constructor(
    readonly etcd: EmbeddedEtcd,
    private readonly reaper: Reaper,
    private readonly opts: DemoFleetOptions,
  ) {
    this.env = childEnv(opts.env);
  }

  /**
   * Start etcd, every node's apps and agent, and the watcher; resolves once the watcher's HTTP side answers.
   * On failure or abort, whatever was started is stopped and removed before it rejects.
   */
  static async start(opts: DemoFleetOptions, signal: AbortSignal): Promise<DemoFleet> {
    const reaper = new Reaper();
    let etcd: EmbeddedEtcd;
    try {
      etcd = await startEmbeddedEtcd(signal, reaper);
    } catch (err) {
      await reaper.done();
      throw err;
    }
    opts.note(`started etcd (pid ${etcd.pid}) at ${etcd.endpoint}, data in ${etcd.dataDir}`);
    const fleet = new DemoFleet(etcd, reaper, opts);
    try {
      await fleet.startAll(signal);
      return fleet;
    } catch (err) {
      await fleet.stop();
      throw err;
    }
  }

  /** The demo's temp dir (etcd's data, configs, logs). */
  get dir(): string {
    return this.etcd.dataDir;
  }

  /** The watcher's HTTP side: the status page at `/`, `/healthz`, `/metrics`, `/http_sd`. */
  get statusUrl(): string {
    return `http://127.0.0.1:${this.statusPort}/`;
  }

  /** The process that cleans up should the demo die without stopping the fleet (SIGKILL). */
  get reaperPid(): number {
    return this.reaper.pid;
  }

  /** Node names, in order. */
  get nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  /** SIGKILL a node's agent (a crash: no leave, its lease runs out); resolves its pid once it is dead. */
  async killNode(name: string): Promise<number | undefined> {
    const agent = this.node(name).agent;
    if (!agent?.running) return undefined;
    await agent.kill();
    return agent.pid;
  }

  /** Start a node's agent again (after killNode); returns its pid (undefined once stop() was called). */
  restartNode(name: string): number | undefined {
    const node = this.node(name);
    if (this.stopping) return undefined;
    if (node.agent?.running) return node.agent.pid;
    return this.startAgent(node).pid;
  }

  /** Make a node's web app answer 500 (false) or 200 (true) on /healthz. */
  setWebHealthy(name: string, healthy: boolean): void {
    this.node(name).apps.setHealthy(healthy);
  }

  /** Stop everything and remove the temp dir (idempotent). */
  async stop(): Promise<void> {
    this.stopping = true;
    // The watcher first: it should not report the agents' leave as news, and it ends any hook it runs.
    await this.watcher?.stop();
    await Promise.all([...this.nodes.values()].map((n) => n.agent?.stop()));
    await Promise.all([...this.nodes.values()].map((n) => n.apps.close()));
    await this.etcd.stop();
    await this.reaper.done();
  }

  private node(name: string): DemoNode {
    const node = this.nodes.get(name);
    if (!node) throw new BeaconError(`no demo node named ${name}`);
    return node;
  }

  private async startAll(signal: AbortSignal): Promise<void> {
    for (const { name, zone } of demoNodeNames(this.opts.nodes)) {
      const dir = join(this.dir, name);
      mkdirSync(dir);
      const apps = await startDemoApps(name);
      // Registered before anything can fail: stop() closes what is in the map.
      const node: DemoNode = { spec: { name, zone, webPort: apps.webPort, apiPort: apps.apiPort, batchPort: 0, spoolDir: dir }, configPath: join(dir, 'agent.json'), apps, agent: undefined };
      this.nodes.set(name, node);
      node.spec.batchPort = await freePort();
      writeFileSync(node.configPath, `${JSON.stringify(agentConfig(node.spec, this.etcd.endpoint), null, 2)}\n`);
    }
    for (const node of this.nodes.values()) this.startAgent(node);
    mkdirSync(join(this.dir, 'watcher'));
    for (let attempt = 1; ; attempt++) {
      this.statusPort = await freePort();
      const path = join(this.dir, 'watcher', 'watcher.json');
      writeFileSync(path, `${JSON.stringify(watcherConfig(this.etcd.endpoint, this.statusPort), null, 2)}\n`);
      const watcher = (this.watcher = this.spawn('watcher', ['watcher', '--config', path], join(this.dir, 'watcher', 'watcher.log')));
      if (await this.httpUp(watcher, signal)) return;
      if (signal.aborted) throw new BeaconError('interrupted');
      if (watcher.running || attempt >= LISTEN_ATTEMPTS) {
        throw new BeaconError(`the watcher did not serve ${this.statusUrl}: ${watcher.logTail(3) || 'no log'}`);
      }
    }
  }

  private startAgent(node: DemoNode): DemoChild {
    const logPath = join(this.dir, node.spec.name, 'agent.log');
    node.agent = this.spawn(node.spec.name, ['agent', '--config', node.configPath], logPath);
    return node.agent;
  }

  // A child with the demo's etcd and prefix on its command line (flags win over any other setting).
  private spawn(name: string, args: string[], logPath: string): DemoChild {
    const child = new DemoChild(name, this.opts.beacon, [...args, '--etcd', this.etcd.endpoint, '--prefix', '/beacon'], logPath, this.env);
    if (child.pid > 0) this.reaper.add(child.pid);
    this.opts.note(`started ${name} (pid ${child.pid})`);
    void child.exited.then((exit) => {
      this.reaper.remove(child.pid);
      // Killed by the story, or stopped by stop(): not news.
      if (this.stopping || child.endRequested) return;
      const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
      this.opts.note(`${name} (pid ${child.pid}) exited on its own (${how}): ${child.logTail(2) || 'no log'}`);
    });
    return child;
  }

  // Whether the watcher's HTTP side answers (any status) before the watcher exits or the deadline passes.
  private async httpUp(watcher: DemoChild, signal: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + WATCHER_UP_TIMEOUT_MS;
    while (!signal.aborted && watcher.running && Date.now() < deadline) {
      const answered = await fetch(new URL('healthz', this.statusUrl), { signal: AbortSignal.any([signal, AbortSignal.timeout(1_000)]) }).then(
        async (res) => {
          await res.body?.cancel();
          return true;
        },
        () => false,
      );
      if (answered) return true;
      await sleep(100, signal);
    }
    return false;
  }
}
