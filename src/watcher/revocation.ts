// Tell "etcd revoked a lease its holder kept alive" from "the holder died" (etcd-io/etcd#15247). A
// NodeFailed is held back when etcd was seen revoking this watcher's own witness leases (witness.ts)
// around the same time; a node that registers again within the hold gets a LeaseRevoked event instead
// (no remedy), one that does not is reported failed when the hold ends.
import type { Logger } from 'pino';
import { DEFAULT_TTL_MS } from '../config/node.js';
import { SCHEMA_VERSION } from '../types.js';
import { sleep } from '../util/time.js';
import type { Decision, EventDraft } from './classify.js';
import type { Dirty } from './reconcile-queue.js';
import { eventId, type DetectedBy, type RevocationEvidence, type StatusRecord } from './records.js';
import type { Witness } from './witness.js';

// A lost lease is put down to etcd when a witness lease was revoked this close to it.
const WITNESS_WINDOW_MS = 5_000;
// After an etcd leader change (raft term up within this long) a wave of revocations may be under way
// when a delete arrives: the witnesses get one more keepalive round, this long later, before deciding.
const TERM_SUSPECT_MS = 120_000;
const WITNESS_SETTLE_MS = 300;
// A node whose lease etcd revoked registers again after its next keepalive (every TTL/3) finds the lease
// gone, plus the time a registration takes (a grant and a transaction; ~0.1 s, up to ~1.5 s under load).
const REREGISTER_ALLOWANCE_MS = 2_000;

/** The TTL assumed for a registration whose record did not decode: the agent's default. */
export const ASSUMED_NODE_TTL_S = DEFAULT_TTL_MS / 1000;

type Evidence = Omit<RevocationEvidence, 'reregisteredAfterMs'>;

/** A failure held back because etcd was seen revoking live leases: does the node register again? */
interface Held {
  lease: string;
  seenAt: number;
  until: number;
  by: DetectedBy;
  bootId: string;
  address: string;
  evidence: Evidence;
  timer: NodeJS.Timeout;
}

/** What the judge needs from the leader. */
export interface RevocationDeps {
  witness: Witness;
  log: Logger;
  /** Compare the node again after `ms`; returns the timer. */
  later(node: string, ms: number): NodeJS.Timeout;
  /** Cancel a timer `later` returned. */
  cancel(timer: NodeJS.Timeout): void;
}

/** Holds failures back while etcd is seen revoking live leases, by node (for one leadership term at a time). */
export class RevocationJudge {
  private readonly held = new Map<string, Held>();

  constructor(private readonly deps: RevocationDeps) {}

  /**
   * Judge one node's decision: may hold its NodeFailed back, or add a LeaseRevoked event to it (mutates
   * `decision`). False: record nothing now (a held failure; its timer has the node compared again).
   */
  async judge(node: string, decision: Decision, d: Dirty, prev: StatusRecord | undefined): Promise<boolean> {
    const h = this.held.get(node);
    const back = decision.status && (decision.status.state === 'up' || decision.status.state === 'leaving') ? decision.status : undefined;
    const failed = decision.events.find((e) => e.event === 'NodeFailed' && e.detectedBy !== 'audit');
    if (failed) {
      if (h && h.lease === failed.lease) {
        if (Date.now() < h.until) return false; // still holding; the timer looks again
        this.held.delete(node);
        this.deps.log.info({ node, lease: h.lease, heldMs: Date.now() - h.seenAt }, 'held failure: node did not register again');
        return true;
      }
      const seenAt = Date.now();
      const evidence = await this.etcdRevoking(seenAt);
      if (!evidence) return true;
      const ttlS = d.deleted?.record?.ttl ?? ASSUMED_NODE_TTL_S;
      const holdMs = Math.ceil((ttlS * 1000) / 3) + REREGISTER_ALLOWANCE_MS;
      if (h) clearTimeout(h.timer);
      this.held.set(node, {
        lease: failed.lease,
        seenAt,
        until: seenAt + holdMs,
        by: failed.detectedBy,
        bootId: failed.bootId,
        address: failed.address,
        evidence,
        timer: this.deps.later(node, holdMs + 10),
      });
      this.deps.log.warn({ node, lease: failed.lease, holdMs, ...evidence }, 'lease gone while etcd revokes live leases: holding the failure');
      return false;
    }
    // Up under a new lease while the witnesses saw etcd revoke live leases, and no failure was held for it
    // (the wave also took the election lease: the new leader finds the node already back): the same story.
    if (!h && back && prev?.state === 'up' && back.lease !== prev.lease) {
      const seenAt = Date.now();
      const evidence = await this.etcdRevoking(seenAt);
      if (evidence) decision.events.push(leaseRevoked(node, prev, new Date(seenAt), d.by, evidence));
      return true;
    }
    // Back within the hold under a new lease: etcd ended that registration, not the node.
    if (h && back && back.lease !== h.lease) {
      this.deps.cancel(h.timer);
      this.held.delete(node);
      const now = new Date();
      decision.events.push(leaseRevoked(node, h, now, h.by, { ...h.evidence, reregisteredAfterMs: now.getTime() - h.seenAt }));
    }
    return true;
  }

  /** When etcd last changed leader (its raft term went up), if that was recent enough to explain a lease lost at `at`. */
  recentLeaderChange(at: number): number | undefined {
    const changed = this.deps.witness.since(at).termChangedAt;
    return changed !== undefined && at - changed <= TERM_SUSPECT_MS ? changed : undefined;
  }

  /** Forget every held failure (the leadership term ended: the next one compares every node again). */
  clear(): void {
    for (const h of this.held.values()) clearTimeout(h.timer);
    this.held.clear();
  }

  // Evidence that etcd is revoking live leases now: a witness lease revoked within the window. After a
  // recent leader change the witnesses get a fresh keepalive round first (the wave may still be landing).
  private async etcdRevoking(at: number): Promise<Evidence | undefined> {
    const evidence = () => {
      const r = this.deps.witness.since(at - WITNESS_WINDOW_MS);
      if (r.revoked === 0) return undefined;
      return { witnessesRevoked: r.revoked, ...(r.termChangedAt !== undefined ? { termChangedMsBefore: at - r.termChangedAt } : {}) };
    };
    const now = evidence();
    if (now) return now;
    if (this.recentLeaderChange(at) === undefined) return undefined;
    await sleep(WITNESS_SETTLE_MS);
    await this.deps.witness.probe();
    return evidence();
  }
}

// The LeaseRevoked event for the registration `lost` (the node was up under it).
function leaseRevoked(
  node: string,
  lost: Pick<StatusRecord, 'lease' | 'bootId' | 'address'>,
  at: Date,
  by: DetectedBy,
  evidence: RevocationEvidence,
): EventDraft {
  return {
    schema: SCHEMA_VERSION,
    id: eventId('LeaseRevoked', node, lost.lease),
    event: 'LeaseRevoked',
    node,
    lease: lost.lease,
    bootId: lost.bootId,
    address: lost.address,
    time: at.toISOString(),
    reason: 'RevokedByEtcd',
    detectedBy: by,
    previous: 'up',
    evidence,
  };
}
