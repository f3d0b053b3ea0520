// The fault-injection rig: a 3-member etcd cluster on loopback, real `beacon agent` processes (one of
// them, optionally, inside a network namespace so it can be partitioned), two real `beacon watcher`
// processes with a recording remedy hook, and the invariants every fault test checks afterwards:
//   1. no NodeFailed for a node that stayed alive and connected;
//   2. every node that really died is reported, once;
//   3. every reaction's hook had its effect exactly once (runs are counted too: a hook interrupted
//      by a watcher's death runs again, with the same idempotency key);
//   4. every live agent is registered again soon after etcd answers (measured; bound asserted);
//   5. no beacon process crashed.
// Each test prints a one-line summary (t.log) that docs/reliability.md copies.
import type { ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, requireBinary, waitFor, type EtcdProcess } from '../helpers/etcd.js';
import { BeaconProcess, REPO_ROOT, writeConfig } from '../helpers/process.js';
import { Netns } from './netns.js';
import { Store } from '../../src/etcd/store.js';

/** Node TTL of every agent in the suite, seconds. */
export const TTL_S = 3;
/** The watchers' election TTL: above the longest etcd election seen on a loaded 2-core machine (~3 s). */
export const ELECTION_TTL_S = 5;
/** Asserted bound for "registered again after etcd answers" (the target is 2 s; the machine is shared). */
export const REREGISTER_BOUND_MS = 5_000;
const PREFIX = '/faults';
const HOOK = join(REPO_ROOT, 'test/fixtures/faults/effect-hook.sh');
/** Agent log messages that mean "registered (again)": under a new lease, or its own lease kept. */
const REGISTERED = ['registered', 'lease still alive: registration kept'];

/** A log line from a beacon process. */
export type Line = Record<string, unknown>;

/** One agent of the rig. */
export interface Agent {
  name: string;
  proc: BeaconProcess;
  /** Set for the agent that runs inside a network namespace. */
  netns?: Netns;
  /** When the test SIGKILLed it (a real death the watchers must report). */
  killedAt?: number;
}

/** One watcher of the rig. */
export interface Watcher {
  id: string;
  proc: BeaconProcess;
  /** When the test SIGKILLed it on purpose. */
  killedAt?: number;
}

/** Options of a rig. */
export interface RigOptions {
  /** Agents n1..nN (default 3). */
  agents?: number;
  /** Also run agent `p1` inside a network namespace. */
  netnsAgent?: boolean;
  /** The hook waits for the test to call release() before it acts. */
  gate?: boolean;
}

/** What a test tells the checker about the fault it injected. */
export interface FaultReport {
  /** Fault name for the summary. */
  fault: string;
  /** When the fault began. */
  faultAt: number;
  /** When etcd answered a linearizable read again after the fault (for the re-registration figure). */
  answeredAt: number;
  /** Nodes that were really cut off for longer than their TTL (a NodeFailed for them is right). */
  cutOff?: string[];
  /** Extra figures for the summary (election time, takeover time, ...). */
  extra?: Record<string, unknown>;
  /**
   * A stopped etcd leader was resumed at this time: etcd before 3.4.28 then revokes leases that had
   * expired in the stale leader's frozen view, live ones included (etcd-io/etcd#15247, fixed by #16822).
   * `witness` says whether any of the leases the harness kept alive through the healthy members was revoked.
   */
  staleLeaderResumed?: { at: number; witness: SentinelLease };
}

/** The counted outcome of one fault, per invariant. */
export interface Summary {
  fault: string;
  /** 1: NodeFailed for nodes that were neither killed nor cut off. */
  falseNodeFailed: string[];
  /** 2: real deaths (killed or cut off) and how many were reported, with crash→NodeFailed latency. */
  deaths: number;
  reported: number;
  reportLatencyMs: number[];
  /** Event lines printed more than once (by either watcher) for the same event id. */
  duplicateEvents: number;
  /** 3: reactions (NodeFailed events with the hook), hook runs and effects. */
  reactions: number;
  hookRuns: number;
  hookEffects: number;
  /** Reactions recorded `suppressed` (not run, by design). */
  suppressed: number;
  /** Reactions whose effect did not happen exactly once. */
  notExactlyOnce: string[];
  /** 4: per live agent, ms from etcd answering to registered again ('kept' = the agent saw no outage). */
  reregisterMs: Record<string, number | 'kept'>;
  maxReregisterMs: number;
  /** 4: at the end, every live agent's live key is held by the lease the agent last registered. */
  registeredAtEnd: boolean;
  /**
   * Live nodes whose leases etcd itself revoked when the stale leader resumed (the sentinel lease revoked
   * too, the agent's lease lost as "not found" within 2 s of the resume): etcd's bug. The watcher must
   * not report them failed (invariant 1 counts them); it records `LeaseRevoked` instead.
   */
  revokedByEtcd: string[];
  /** Whether the harness's own sentinel leases showed etcd revoking kept-alive leases. */
  sentinelRevoked: boolean;
  /** Nodes with a `LeaseRevoked` event (the watcher put the lost lease down to etcd). */
  leaseRevoked: string[];
  /** Agents' `registration lost` lines since the fault, and how many of those leases were taken back. */
  leasesLostByDeadline: number;
  leasesKept: number;
  /** 5: processes that exited unexpectedly, and uncaught errors on stderr. */
  crashed: string[];
  /** Error-level log lines (not crashes: e.g. a failed etcd request logged on the way). */
  errorLines: number;
  errorMsgs: string[];
  extra: Record<string, unknown>;
}

/** Run etcdctl without blocking the event loop; resolves with stdout or rejects. */
export function etcdctlAsync(endpoints: string, args: string[], timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      requireBinary('etcdctl'),
      ['--endpoints', endpoints, ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) => (err ? reject(new Error(`etcdctl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)),
    );
  });
}

/** The rig. */
export class Rig {
  readonly agents: Agent[] = [];
  readonly watchers: Watcher[] = [];
  netns?: Netns;
  private readonly dir: string;
  readonly hookLog: string;
  private readonly gateFile: string;

  private constructor(
    private readonly t: ExecutionContext,
    readonly etcd: EtcdCluster,
    private readonly opts: RigOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'beacon-faults-'));
    this.hookLog = join(this.dir, 'hook.log');
    this.gateFile = join(this.dir, 'gate');
    writeFileSync(this.hookLog, '');
    t.teardown(() => rmSync(this.dir, { recursive: true, force: true }));
  }

  /** Start etcd, the agents and two watchers (the first one leading); resolves when all nodes joined. */
  static async start(t: ExecutionContext, opts: RigOptions = {}): Promise<Rig> {
    let netns: Netns | undefined;
    if (opts.netnsAgent) {
      netns = Netns.create();
      // Teardowns run last-registered first: this one runs after every process is gone.
      t.teardown(() => netns!.destroy());
    }
    const etcd = await EtcdCluster.start(3, [], undefined, netns ? [netns.hostAddress] : []);
    t.teardown(() => etcd.destroy());
    const rig = new Rig(t, etcd, opts);
    rig.netns = netns;
    const names = Array.from({ length: opts.agents ?? 3 }, (_, i) => `n${i + 1}`);
    await Promise.all([...names.map((n) => rig.startAgent(n)), ...(netns ? [rig.startAgent('p1', netns)] : [])]);
    const a = rig.startWatcher('w-a');
    await waitLeading(a.proc, 30_000);
    const b = rig.startWatcher('w-b');
    await b.proc.waitLine((l) => l.msg === 'campaigning', 20_000);
    for (const ag of rig.agents) await rig.waitEvent('NodeJoined', ag.name, 15_000);
    return rig;
  }

  /** The live record's key of a node. */
  liveKey(node: string): string {
    return `${PREFIX}/v1/nodes/${node}/live`;
  }

  private async startAgent(name: string, netns?: Netns): Promise<Agent> {
    const endpoints = netns ? this.etcd.members.map((m) => m.endpointOn(netns.hostAddress)).join(',') : this.etcd.endpoints;
    const cfg = ['etcd:', `  endpoints: [${endpoints}]`, `prefix: ${PREFIX}`, 'node:', `  name: ${name}`, `  ttl: ${TTL_S}s`, 'api:', '  enabled: false', ''].join('\n');
    const proc = new BeaconProcess(['agent', '--config', writeConfig(cfg)], {}, netns?.wrap ?? []);
    this.t.teardown(() => proc.stop('SIGKILL'));
    const agent: Agent = { name, proc, ...(netns ? { netns } : {}) };
    this.agents.push(agent);
    await proc.waitLine((l) => l.msg === 'registered', 30_000).catch((err: Error) => {
      throw new Error(`agent ${name} did not register: ${JSON.stringify(proc.lines.slice(-5)).slice(0, 1500)}`, { cause: err });
    });
    return agent;
  }

  /** Start (or start again) a watcher with this id. */
  startWatcher(id: string): Watcher {
    const cfg = {
      etcd: { endpoints: this.etcd.endpoints.split(',') },
      prefix: PREFIX,
      watcher: {
        id,
        electionTtl: `${ELECTION_TTL_S}s`,
        probeInterval: '1s',
        // Above T/3 + 0.5 s, as docs/watcher.md asks for the node TTL in use.
        massFailure: { hold: '2s' },
      },
      hooks: [
        {
          name: 'remedy',
          kind: 'exec',
          command: [HOOK],
          env: {
            HOOK_LOG: this.hookLog,
            HOOK_EFFECTS: this.dir,
            ...(this.opts.gate ? { HOOK_GATE: this.gateFile } : {}),
          },
          events: ['NodeFailed'],
          timeout: '1m',
        },
      ],
    };
    const proc = new BeaconProcess(['watcher', '--config', writeConfig(JSON.stringify(cfg, null, 2), 'watcher.json')]);
    this.t.teardown(async () => {
      if (proc.proc.exitCode !== null || proc.proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await proc.exited;
      clearTimeout(timer);
    });
    const w: Watcher = { id, proc };
    this.watchers.push(w);
    return w;
  }

  /** Let a gated hook go on. */
  release(): void {
    writeFileSync(this.gateFile, '');
  }

  /** The agent with this node name. */
  agent(name: string): Agent {
    const a = this.agents.find((x) => x.name === name);
    if (!a) throw new Error(`no agent ${name}`);
    return a;
  }

  /** SIGKILL an agent: a real death. */
  killAgent(name: string): void {
    const a = this.agent(name);
    a.killedAt = Date.now();
    a.proc.kill('SIGKILL');
  }

  /** SIGKILL a watcher (its latest process with this id). */
  killWatcher(id: string): void {
    const w = this.watchers.filter((x) => x.id === id).at(-1)!;
    w.killedAt = Date.now();
    w.proc.kill('SIGKILL');
  }

  /** Index of the etcd leader among the members (asking each member that answers). */
  async leaderIndex(): Promise<number> {
    return waitFor(
      async () => {
        const st = await Promise.all(this.etcd.members.map((m) => memberStatus(m.endpoint)));
        const i = st.findIndex((s) => s && s.id === s.leader);
        return i >= 0 ? i + 1 : undefined; // +1: waitFor wants a truthy value
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'an etcd leader' },
    ).then((i) => i - 1);
  }

  /** Wait until the cluster (through `endpoints`, default all) serves a linearizable read; returns when. */
  async waitAnswering(endpoints = this.etcd.endpoints, timeoutMs = 30_000): Promise<number> {
    return waitFor(
      () =>
        etcdctlAsync(endpoints, ['--command-timeout=500ms', 'get', `${PREFIX}/probe`], 1_000).then(
          () => Date.now(),
          () => undefined,
        ),
      { timeoutMs, intervalMs: 20, what: 'etcd answering' },
    );
  }

  /** Every `node event` line of every watcher process. */
  events(type?: string, node?: string): Line[] {
    return this.watchers.flatMap((w) =>
      w.proc.lines.filter((l) => l.msg === 'node event' && (!type || l.event === type) && (!node || l.node === node)),
    );
  }

  /** The final state of the `remedy` reaction to an event, as the last `hook outcome` line says. */
  outcome(eventId: string): string | undefined {
    const o = this.watchers
      .flatMap((w) => w.proc.lines)
      .filter((l) => l.msg === 'hook outcome' && l.id === eventId)
      .at(-1);
    return (o?.outcome as { state?: string } | undefined)?.state;
  }

  /** Agent log lines with this message since `from`. */
  agentLines(from: number, msg: string): Line[] {
    return this.agents.flatMap((a) => a.proc.lines.filter((l) => l.msg === msg && Date.parse(l.time as string) >= from));
  }

  /** Wait for an event from any watcher. */
  waitEvent(type: string, node: string, timeoutMs = 20_000): Promise<Line> {
    return waitFor(() => this.events(type, node)[0], { timeoutMs, what: `${type} for ${node}` });
  }

  /** Hook log lines: [kind, event id, node, event, attempt, watcher, pid]. */
  hookLines(): string[][] {
    if (!existsSync(this.hookLog)) return [];
    return readFileSync(this.hookLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' '));
  }

  /** Whether each live agent's live key is held by the lease it last registered, with time to live left. */
  async liveAgentsRegistered(): Promise<boolean> {
    const live = this.agents.filter((a) => a.killedAt === undefined);
    const out = await etcdctlAsync(this.etcd.endpoints, ['--command-timeout=1s', 'get', '--prefix', `${PREFIX}/v1/nodes/`, '-w', 'json']);
    // Lease ids are int64 (negative when the top bit is set): read them as text, print them as etcdctl's hex.
    const kvs = [...out.matchAll(/"key":"([^"]+)"[^}]*?"lease":(-?\d+)/g)].map((m) => [
      Buffer.from(m[1]!, 'base64').toString(),
      BigInt.asUintN(64, BigInt(m[2]!)).toString(16).padStart(16, '0'),
    ]);
    for (const a of live) {
      const lease = kvs.find(([k]) => k === this.liveKey(a.name))?.[1];
      const regs = a.proc.lines.filter((l) => REGISTERED.includes(l.msg as string));
      const lost = a.proc.withMsg('registration lost');
      if (!lease || regs.length === 0 || regs.at(-1)!.lease !== lease) return false;
      // A loss logged after the latest registration: the agent does not hold it any more.
      if (lost.length > 0 && Date.parse(lost.at(-1)!.time as string) > Date.parse(regs.at(-1)!.time as string)) return false;
    }
    return true;
  }

  /**
   * Wait out the window in which a wrongly lost lease would surface (TTL + election + 2 s after the
   * fault healed), with every live agent registered, then check and count every invariant.
   */
  async check(f: FaultReport, healedAt = f.answeredAt): Promise<Summary> {
    const t = this.t;
    const cutOff = new Set(f.cutOff ?? []);
    const dead = this.agents.filter((a) => a.killedAt !== undefined || cutOff.has(a.name));
    // Every real death reported (waits; a missing one fails below with the counts).
    await waitFor(() => dead.every((a) => this.events('NodeFailed', a.name).length > 0), {
      timeoutMs: 30_000,
      what: `NodeFailed for ${dead.map((a) => a.name).join(', ')}`,
    }).catch((err: Error) => t.log(`WAIT FAILED: ${err.message}`));
    let registeredAtEnd = false;
    await waitFor(
      async () =>
        Date.now() > healedAt + (TTL_S + ELECTION_TTL_S + 2) * 1000 &&
        (registeredAtEnd = await this.liveAgentsRegistered().catch(() => false)),
      { timeoutMs: 45_000, intervalMs: 250, what: 'the quiet window with every live agent registered' },
    ).catch((err: Error) => t.log(`WAIT FAILED: ${err.message}`));
    // Every reaction finished: an outcome for every NodeFailed id (from whichever watcher led then).
    const failedIds = () => [...new Set(this.events('NodeFailed').map((e) => e.id as string))];
    await waitFor(() => failedIds().every((id) => this.outcome(id) !== undefined), {
      timeoutMs: 20_000,
      what: 'every reaction to finish',
    }).catch((err: Error) => t.log(`WAIT FAILED: ${err.message}`));

    const failed = this.events('NodeFailed');
    const falseNodeFailed = failed.map((e) => e.node as string).filter((n) => !dead.some((a) => a.name === n));
    const resumed = f.staleLeaderResumed;
    const sentinelRevoked = resumed ? await resumed.witness.revoked() : false;
    const live = this.agents.filter((a) => a.killedAt === undefined && !cutOff.has(a.name)).map((a) => a.name);
    const revokedByEtcd = sentinelRevoked
      ? live.filter((n) =>
          this.agent(n).proc.lines.some((l) => {
            const at = Date.parse(l.time as string);
            return l.msg === 'registration lost' && /not found/.test(String(l.reason)) && at >= resumed!.at && at <= resumed!.at + 2_000;
          }),
        )
      : [];
    const reportLatencyMs = dead.map((a) => {
      const e = this.events('NodeFailed', a.name)[0];
      const from = a.killedAt ?? f.faultAt;
      return e ? Date.parse(e.time as string) - from : -1;
    });
    const reported = dead.filter((a) => this.events('NodeFailed', a.name).length > 0).length;
    const ids = this.events().map((e) => e.id as string);
    const duplicateEvents = ids.length - new Set(ids).size;
    const lines = this.hookLines();
    const ids2 = failedIds();
    // A hook that ran must have acted once; a suppressed one (e.g. `recovered`) never.
    const effects = (id: string) => lines.filter((l) => l[0] === 'effect' && l[1] === id).length;
    const notExactlyOnce = ids2
      .filter((id) => (this.outcome(id) === 'ok' ? effects(id) !== 1 : effects(id) !== 0))
      .map((id) => `${id}: outcome ${this.outcome(id) ?? 'none'}, effects ${effects(id)}`);
    const suppressed = ids2.filter((id) => this.outcome(id) === 'suppressed').length;
    const strayEffects = lines.filter((l) => l[0] === 'effect' && !ids2.includes(l[1]!)).map((l) => l[1]!);

    // Re-registration: from etcd answering to the agent's first registration or keepalive through.
    const reregisterMs: Record<string, number | 'kept'> = {};
    for (const a of this.agents.filter((x) => x.killedAt === undefined && !cutOff.has(x.name))) {
      const after = a.proc.lines.filter((l) => Date.parse(l.time as string) >= f.faultAt);
      const outage = after.findIndex((l) => l.msg === 'etcd not answering' || l.msg === 'registration lost');
      if (outage < 0) {
        reregisterMs[a.name] = 'kept';
        continue;
      }
      const back = after.slice(outage).find((l) => REGISTERED.includes(l.msg as string) || l.msg === 'etcd answering again');
      reregisterMs[a.name] = back ? Math.max(0, Date.parse(back.time as string) - f.answeredAt) : Number.POSITIVE_INFINITY;
    }
    for (const name of cutOff) {
      const a = this.agent(name);
      if (a.killedAt !== undefined) continue;
      const back = a.proc.lines.find((l) => REGISTERED.includes(l.msg as string) && Date.parse(l.time as string) >= healedAt);
      reregisterMs[name] = back ? Math.max(0, Date.parse(back.time as string) - healedAt) : Number.POSITIVE_INFINITY;
    }
    const figures = Object.values(reregisterMs).filter((v): v is number => typeof v === 'number');
    const maxReregisterMs = figures.length ? Math.max(...figures) : 0;

    // No crash: every process still runs unless the test killed it; nothing uncaught on stderr.
    const crashed: string[] = [];
    let errorLines = 0;
    const errorMsgs = new Set<string>();
    const all = [
      ...this.agents.map((a) => ({ name: a.name, proc: a.proc, killed: a.killedAt !== undefined })),
      ...this.watchers.map((w) => ({ name: w.id, proc: w.proc, killed: w.killedAt !== undefined })),
    ];
    for (const { name, proc, killed } of all) {
      const ended = proc.proc.exitCode !== null || proc.proc.signalCode !== null;
      if (killed ? proc.proc.signalCode !== 'SIGKILL' : ended) crashed.push(`${name}: exit ${proc.proc.exitCode ?? proc.proc.signalCode}`);
      if (/uncaught|unhandled/i.test(proc.stderr)) crashed.push(`${name}: ${proc.stderr.slice(0, 300)}`);
      if (proc.lines.some((l) => typeof l.level === 'number' && l.level >= 60)) crashed.push(`${name}: fatal log line`);
      for (const l of proc.lines.filter((x) => x.level === 50)) {
        errorLines++;
        errorMsgs.add(`${name}: ${String(l.msg)}`);
      }
    }

    const s: Summary = {
      fault: f.fault,
      falseNodeFailed,
      revokedByEtcd,
      sentinelRevoked,
      leaseRevoked: [...new Set(this.events('LeaseRevoked').map((e) => e.node as string))],
      deaths: dead.length,
      reported,
      reportLatencyMs,
      duplicateEvents,
      reactions: ids2.length,
      hookRuns: lines.filter((l) => l[0] === 'run').length,
      hookEffects: lines.filter((l) => l[0] === 'effect').length,
      suppressed,
      notExactlyOnce: [...notExactlyOnce, ...strayEffects.map((id) => `stray ${id}`)],
      reregisterMs,
      maxReregisterMs,
      registeredAtEnd,
      leasesLostByDeadline: this.agentLines(f.faultAt, 'registration lost').length,
      leasesKept: this.agentLines(f.faultAt, 'lease still alive: registration kept').length,
      crashed,
      errorLines,
      errorMsgs: [...errorMsgs],
      extra: f.extra ?? {},
    };
    t.log(`SUMMARY ${JSON.stringify(s)}`);
    if (s.falseNodeFailed.length || s.reported !== s.deaths || s.crashed.length || s.notExactlyOnce.length || s.maxReregisterMs > REREGISTER_BOUND_MS || !s.registeredAtEnd) {
      this.dumpLogs(f.faultAt);
    }
    if (s.revokedByEtcd.length > 0) {
      t.log(`etcd revoked live leases when the stopped leader resumed (etcd-io/etcd#15247, fixed in etcd 3.4.28): ${s.revokedByEtcd.join(', ')}`);
    }
    t.deepEqual(s.falseNodeFailed, [], 'invariant 1: no NodeFailed for a node that stayed alive and connected');
    t.is(s.reported, s.deaths, 'invariant 2: every node that really died is reported');
    t.is(s.duplicateEvents, 0, 'invariant 2: ... once');
    t.deepEqual(s.notExactlyOnce, [], "invariant 3: every reaction's hook had its effect exactly once");
    t.true(s.maxReregisterMs <= REREGISTER_BOUND_MS, `invariant 4: registered again within ${REREGISTER_BOUND_MS} ms of etcd answering`);
    t.true(s.registeredAtEnd, 'invariant 4: every live agent registered at the end');
    t.deepEqual(s.crashed, [], 'invariant 5: no process crashed');
    return s;
  }

  /** Log the interesting lines of every process since `from` (on failure). */
  dumpLogs(from: number): void {
    const keep = /registered|lost|answering|node event|leader|leading|stepping|hook|in sync|gap|mass|replacing|conflict|error|witness|holding|held|term|overdue/i;
    for (const p of [...this.agents.map((a) => ({ n: a.name, p: a.proc })), ...this.watchers.map((w) => ({ n: w.id, p: w.proc }))]) {
      for (const l of p.p.lines) {
        if (Date.parse(l.time as string) >= from - 1000 && keep.test(String(l.msg))) this.t.log(p.n, JSON.stringify(l).slice(0, 300));
      }
      if (p.p.stderr) this.t.log(p.n, 'stderr', p.p.stderr.slice(-500));
    }
    this.t.log('hook log', readFileSync(this.hookLog, 'utf8'));
  }
}

/** Wait until the watcher leads and has compared every node. */
export async function waitLeading(p: BeaconProcess, timeoutMs = 15_000, from = 0): Promise<Line> {
  const lead = await p.waitLine((l) => l.msg === 'leading: reconciling', timeoutMs, from);
  await p.waitLine((l) => l.msg === 'in sync', timeoutMs, p.lines.indexOf(lead));
  return lead;
}

// One member's view: its id and the leader it follows (undefined when it does not answer).
async function memberStatus(endpoint: string): Promise<{ id: string; leader: string } | undefined> {
  const out = await etcdctlAsync(endpoint, ['--command-timeout=500ms', 'endpoint', 'status', '-w', 'json'], 1_500).catch(() => '');
  // Ids are uint64: read them as text, not through a double.
  const id = /"member_id":(\d+)/.exec(out)?.[1];
  const leader = /"leader":(\d+)/.exec(out)?.[1];
  return id && leader && leader !== '0' ? { id, leader } : undefined;
}

/** The member ids' leader as seen by `endpoints` (for "a new leader was elected"). */
export async function leaderSeenBy(endpoint: string): Promise<string | undefined> {
  return (await memberStatus(endpoint))?.leader;
}

/**
 * Hit the etcd leader with `fault` and kill agent `victim` at the same moment; resolve once the other
 * members answer and all see a new leader. Times are ms since the epoch.
 */
export async function faultLeader(
  rig: Rig,
  fault: (leader: EtcdProcess) => void,
  victim: string,
): Promise<{ leader: EtcdProcess; faultAt: number; answeredAt: number; electedAt: number }> {
  const li = await rig.leaderIndex();
  const leader = rig.etcd.members[li]!;
  const oldLeader = await leaderSeenBy(leader.endpoint);
  const survivors = rig.etcd.members.filter((_, i) => i !== li);
  const faultAt = Date.now();
  fault(leader);
  rig.killAgent(victim);
  const answeredAt = await rig.waitAnswering(survivors.map((m) => m.endpoint).join(','));
  const electedAt = await waitFor(
    async () => {
      const seen = await Promise.all(survivors.map((m) => leaderSeenBy(m.endpoint)));
      return seen.every((x) => x && x !== oldLeader) ? Date.now() : undefined;
    },
    { timeoutMs: 15_000, what: 'a new etcd leader' },
  );
  return { leader, faultAt, answeredAt, electedAt };
}

/**
 * Leases the harness keeps alive itself (every 500 ms, through whichever members answer), as a witness
 * independent of beacon: if etcd revokes one, etcd revoked a lease that was being kept alive. Several,
 * because a resumed stale leader's revocations reach the cluster only for the part of its batch it
 * proposes after stepping down (the rest die with its old term): one lease could be missed by chance.
 */
export class SentinelLease {
  private answer: Promise<boolean> | undefined;

  private constructor(
    private readonly store: Store,
    readonly ids: string[],
    private readonly stop: AbortController,
    private readonly loop: Promise<void>,
  ) {}

  /** Grant `count` leases of `ttlS` seconds, each with a key, and keep them alive until `revoked()` is asked. */
  static async start(endpoints: string, ttlS: number, count = 16): Promise<SentinelLease> {
    const store = Store.connect({ endpoints: endpoints.split(','), requestTimeoutMs: 1_000, dialTimeoutMs: 1_000 });
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const { id } = await store.grant(ttlS);
      await store.put(`${PREFIX}-sentinel/${i}`, 'kept alive by the test harness', id);
      ids.push(id);
    }
    const stop = new AbortController();
    const loop = (async () => {
      while (!stop.signal.aborted) {
        await Promise.all(ids.map((id) => store.keepAliveOnce(id, 400).catch(() => undefined)));
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    return new SentinelLease(store, ids, stop, loop);
  }

  /** Stop keeping them alive; whether etcd had revoked any (its key gone) by then. Asked again, the same answer. */
  revoked(): Promise<boolean> {
    this.answer ??= this.settle();
    return this.answer;
  }

  private async settle(): Promise<boolean> {
    this.stop.abort();
    await this.loop;
    try {
      const { kvs } = await this.store.list(`${PREFIX}-sentinel/`);
      return kvs.length < this.ids.length;
    } finally {
      await Promise.all(this.ids.map((id) => this.store.revoke(id).catch(() => undefined)));
      this.store.close();
    }
  }
}

/** Resolve after `ms` (for holding a fault for its stated duration, never for waiting on an outcome). */
export function hold(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
