// Who holds our node name when our first write finds it taken: this agent before a crash or restart,
// a predecessor on this machine whose lease nobody keeps any more, or a real rival. A name is taken
// over only from a holder proven dead: overwriting a live agent's record would make two nodes one.
import type { Logger } from 'pino';
import { DecodeError, LeaseLostError } from '../errors.js';
import type { KeyValue, Store } from '../etcd/store.js';
import { sleep } from '../util/time.js';
import { decodeNode } from './codec.js';

/** Who this agent is, to recognise its own stale registration after a crash or restart. */
export interface Self {
  machineId: string;
  bootId: string;
  pid: number;
}

/** What the live record under someone else's lease says of its holder. */
type Holder =
  /** Written by an agent of this machine and boot whose process is this one or is not seen running. */
  | { kind: 'this-machine'; pid: number }
  | { kind: 'rival'; machineId: string; address: string }
  | { kind: 'undecodable' };

/** Judge a leased live record by its content (untrusted: decoded through the codec). */
function judgeHolder(holder: KeyValue, self: Self): Holder {
  const rec = decodeNode(holder);
  if (rec instanceof DecodeError) return { kind: 'undecodable' };
  const mine =
    rec.machineId === self.machineId && rec.bootId === self.bootId && (rec.pid === self.pid || !pidAlive(rec.pid));
  return mine ? { kind: 'this-machine', pid: rec.pid } : { kind: 'rival', machineId: rec.machineId, address: rec.address };
}

/** How the conflict log line and event name a holder that is not given way to. */
function describeHolder(h: Holder): string {
  switch (h.kind) {
    case 'undecodable':
      return 'undecodable record';
    case 'this-machine':
      return `another agent on this machine (pid ${h.pid}, not this process's and not seen from here; its lease is kept alive)`;
    case 'rival':
      return `machine ${h.machineId}, address ${h.address}`;
  }
}

/** What to do about the record holding our name. */
export type HolderOutcome =
  /** The name is free now (the record removed, its lease gone or revoked): register again at once. */
  | { kind: 'retry' }
  /** The record was this process's own, under a lease it granted, and was taken back. */
  | { kind: 'registered' }
  /** etcd did not answer (`err`, unless already reported), or the wait was aborted. */
  | { kind: 'error'; err?: unknown }
  /** A live lease (`holder`, hex) holds the name: `who`, for the log line and the event. */
  | { kind: 'conflict'; holder: string; who: string };

/** How resolveHolder reaches the registration. */
export interface HolderContext {
  store: Store;
  self: Self;
  /** Leases this process granted (the latest few). */
  ownLeases: readonly string[];
  /** Take back a lease of this process's: 'gone' when etcd no longer holds it, 'error' when etcd did not answer. */
  takeBack(lease: string, revision: string): Promise<'registered' | 'gone' | 'error'>;
  log: Logger;
}

/**
 * The live key exists under a lease that is not ours (or under none), as our first write found it:
 * ours from before a crash, garbage, a dead predecessor, or a real rival.
 */
export async function resolveHolder(ctx: HolderContext, holder: KeyValue | undefined, signal?: AbortSignal): Promise<HolderOutcome> {
  if (!holder) return { kind: 'retry' };
  if (holder.lease === '') {
    // An unleased live record cannot be a live agent: remove it (only if unchanged) and retry.
    ctx.log.warn({ key: holder.key }, 'removing unleased live record');
    await ctx.store.txn([{ key: holder.key, target: 'Mod', op: '==', value: holder.modRevision }], [{ delete: holder.key }]);
    return { kind: 'retry' };
  }
  const h = judgeHolder(holder, ctx.self);
  if (h.kind === 'this-machine') {
    // Our own lease, lost by our deadline during an etcd outage, may still be alive: etcd restores
    // leases from disk after a restart and a new etcd leader gives each its full TTL again. Keep it:
    // revoking it deletes the live record without a leave marker, which every watcher must report as
    // NodeFailed (after a whole-cluster restart, every live node would "fail").
    // A pid is only unique within its PID namespace: an agent in another one (a container, `unshare
    // --pid`) can have our pid, or one that looks dead from here. Only a lease this process granted is ours.
    if (h.pid === ctx.self.pid && ctx.ownLeases.includes(holder.lease)) {
      const kept = await ctx.takeBack(holder.lease, holder.modRevision);
      if (kept !== 'gone') return { kind: kept };
    }
    // Same machine and boot is no proof the holder is dead: revoke only a lease nobody keeps alive.
    let liveness: Liveness;
    try {
      liveness = await leaseLiveness(ctx.store, holder.lease, signal);
    } catch (err) {
      return { kind: 'error', err };
    }
    if (liveness === 'aborted') return { kind: 'error' };
    if (liveness === 'gone') return { kind: 'retry' };
    if (liveness === 'dead') {
      ctx.log.info({ lease: holder.lease, pid: h.pid }, 'replacing stale registration of this machine');
      await ctx.store.revoke(holder.lease);
      return { kind: 'retry' };
    }
  }
  return { kind: 'conflict', holder: holder.lease, who: describeHolder(h) };
}

/** Whether a lease is kept alive by someone (see leaseLiveness). */
type Liveness = 'kept' | 'dead' | 'gone' | 'aborted';

/**
 * Whether someone keeps `lease` alive, told from its remaining TTL alone (etcd says nothing of who
 * sends keepalives): unkept, it falls by the time elapsed; a keepalive puts it back to the granted TTL.
 * etcd rounds each reading down to whole seconds, so a keepalive shows once it lands 2 s or more after
 * the first reading. Any keeper sends one at least every TTL/3 (the config's limit) and gives up on it
 * after the keepalive timeout (< 1 s): a lease silent for TTL/3 + 2 s by its own remaining TTL has no
 * keeper. 'kept' as soon as a keepalive shows, 'dead' once it has been silent that long (a restarted
 * agent's dead predecessor: at most TTL/3 + 3 s after the crash, 6.3 s at the default 10 s TTL),
 * 'gone' when it expires meanwhile, 'aborted' when `signal` ends the watch first. Throws when etcd
 * does not answer.
 */
async function leaseLiveness(store: Store, lease: string, signal?: AbortSignal): Promise<Liveness> {
  try {
    const first = await store.timeToLive(lease);
    const seen = Date.now();
    const silentEnough = (ttl: number) => first.grantedTtl - ttl - 1 >= first.grantedTtl / 3 + 2;
    if (first.ttl <= 0) return 'gone';
    if (silentEnough(first.ttl)) return 'dead';
    while (!signal?.aborted) {
      await sleep(250, signal);
      const sent = Date.now();
      const now = await store.timeToLive(lease);
      if (now.ttl <= 0) return 'gone';
      // Unkept, remaining = first's exact remaining − elapsed, so it always shows
      // now.ttl < first.ttl + 1 − elapsed (seconds): anything more is a keepalive.
      if (now.ttl >= first.ttl + 1 - (sent - seen) / 1000) return 'kept';
      // Silent long enough; or, a backstop, watched past the last moment a keeper's keepalive could show.
      if (silentEnough(now.ttl) || sent - seen > (first.grantedTtl * 1000) / 3 + 4_000) return 'dead';
    }
    return 'aborted';
  } catch (err) {
    if (err instanceof LeaseLostError) return 'gone';
    throw err;
  }
}

/** Whether a process with this pid runs, as seen from our PID namespace (EPERM: it runs as someone else). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
