// What a node's history (history.ts, read by `beacon explain`) says of each change the leader sees: a
// recorded transition (the registration, how its end was seen and at which etcd revision), a condition or
// maintenance change, a hook's outcome or wait, a mass failure. Pure: the caller notes what these return.
import type { ConditionsRecord, MaintenanceRecord } from '../agent/records.js';
import { outcomeText, type HistoryEntry } from './history.js';
import type { LiveEntry } from './model.js';
import type { Dirty } from './reconcile-queue.js';
import type { HookOutcome, NodeEvent, ReactionRecord, StatusRecord } from './records.js';
import type { GuardState } from './safety.js';

/** A recorded transition of one node, as the leader saw it. */
export interface SeenTransition {
  events: readonly NodeEvent[];
  /** How the node came to be compared (and the DELETE the watch showed). */
  d: Dirty;
  prev: StatusRecord | undefined;
  next: StatusRecord | undefined;
  /** The node's live key now. */
  live: LiveEntry | undefined;
}

/**
 * The entries of a transition. `leaderChangedAt`: when etcd last changed leader, if recently; noted with a
 * loss, because a new etcd leader restarts every lease and a death around it is seen late.
 */
export function transitionEntries({ events, d, prev, next, live }: SeenTransition, leaderChangedAt: number | undefined, now: number): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  let loss = false;
  // A new lease while up raises no event (same boot: the agent restarted, or lost its lease and took a new one).
  if (next?.reason === 'Reregistered' && prev && prev.lease !== next.lease && live?.record) {
    const r = live.record;
    entries.push({
      time: next.lastSeen,
      what: 'Reregistered',
      detail: `registered again under a new lease without a failure in between: lease ${prev.lease || '-'} -> ${next.lease}, TTL ${r.ttl} s, agent pid ${r.pid}, registered at ${r.registeredAt}`,
      revision: live.modRevision,
    });
  }
  for (const e of events) {
    const how = e.detectedBy === 'watch' ? 'seen in a watch event' : e.detectedBy === 'audit' ? 'found by the lease audit' : 'found when comparing after a start, takeover or gap';
    let detail: string;
    let revision: string | undefined;
    switch (e.event) {
      case 'NodeJoined':
      case 'NodeRecovered': {
        const r = live?.record;
        const reg = r
          ? `lease ${e.lease}, TTL ${r.ttl} s, boot id ${r.bootId}, address ${r.address} (${r.addressSource}), agent ${r.agentVersion} pid ${r.pid}, registered at ${r.registeredAt}`
          : `lease ${e.lease}, boot id ${e.bootId}, address ${e.address}`;
        const after = e.event === 'NodeRecovered' ? ` after ${Math.round((e.downtimeMs ?? 0) / 1000)} s failed` : e.reason === 'Rejoined' ? ' after a leave' : '';
        detail = `registered${after}: ${reg}; ${how}`;
        revision = live?.modRevision;
        break;
      }
      case 'NodeFailed':
        loss = true;
        detail =
          e.detectedBy === 'audit'
            ? `lease ${e.lease} expired without a leave marker, but etcd had not revoked it; ${how}, which revokes it`
            : `lease ${e.lease} expired (or was revoked) without a leave marker: etcd deleted the live key; ${how}${prev?.lastSeen ? `; last seen up at ${prev.lastSeen}` : ''}`;
        revision = d.by === 'watch' ? d.deleted?.revision : undefined;
        break;
      case 'NodeLeft':
        loss = true;
        detail = `left gracefully: the agent marked lease ${e.lease} leaving, then revoked it; ${how}`;
        revision = d.by === 'watch' ? d.deleted?.revision : undefined;
        break;
      case 'NodeRebooted':
        detail = `boot id changed from ${e.previousBootId || '-'} to ${e.bootId || '-'}`;
        break;
      case 'LeaseRevoked': {
        loss = true;
        const ev = e.evidence;
        detail = `etcd, not the node, ended lease ${e.lease}: ${ev?.witnessesRevoked ?? 0} witness leases kept alive by the watcher were revoked too${ev?.reregisteredAfterMs !== undefined ? `; registered again ${ev.reregisteredAfterMs} ms later` : ''}; no remedy`;
        break;
      }
      default:
        detail = `${e.reason}; ${how}`;
    }
    entries.push({ time: e.time, what: e.event, detail, id: e.id, ...(revision ? { revision } : {}) });
  }
  if (loss && leaderChangedAt !== undefined) {
    entries.push({
      time: new Date(leaderChangedAt).toISOString(),
      what: 'EtcdLeaderChanged',
      detail: `etcd elected a new leader (its raft term went up) ${Math.round((now - leaderChangedAt) / 1000)} s before this was seen: a new etcd leader restarts every lease, so a death around it is seen up to election + TTL + 1.5 s late`,
    });
  }
  return entries;
}

/** Condition changes the watch shows (a record gone with its lease says nothing new). */
export function conditionEntries(before: ConditionsRecord | undefined, after: ConditionsRecord | undefined): HistoryEntry[] {
  if (!after) return [];
  const entries: HistoryEntry[] = [];
  for (const c of after.conditions) {
    const b = before?.conditions.find((x) => x.type === c.type);
    const was = b?.status ?? 'False';
    if (was === c.status && (!b || b.reason === c.reason)) continue;
    entries.push({ time: c.lastTransitionTime, what: 'ConditionChanged', detail: `${c.type} ${was} -> ${c.status} (${c.reason})${c.message ? `: ${c.message}` : ''}` });
  }
  return entries;
}

/** A maintenance record put, changed or deleted (`now`: when a deletion was seen). */
export function maintenanceEntries(before: MaintenanceRecord | undefined, after: MaintenanceRecord | undefined, now: Date): HistoryEntry[] {
  const text = (m: MaintenanceRecord) =>
    [...(m.reason !== null ? [`node: ${m.reason}`] : []), ...Object.entries(m.services).map(([s, why]) => `${s}: ${why}`)].join('; ');
  if (!after) return [{ time: now.toISOString(), what: 'Maintenance', detail: `maintenance ended (was ${before ? text(before) : 'unknown'})` }];
  if (before && text(before) === text(after)) return [];
  return [{ time: after.updatedAt, what: 'Maintenance', detail: `maintenance ${before ? 'changed' : 'started'}: ${text(after) || 'no reason given'}` }];
}

/** A reaction's final outcome. */
export function hookEntry(hook: string, outcome: HookOutcome, r: ReactionRecord, now: Date): HistoryEntry {
  return { time: now.toISOString(), what: 'Hook', detail: `${hook} for ${r.event.event}: ${outcomeText(outcome)}`, id: r.id };
}

/** A remedy waiting for a rate-limit token. */
export function hookHeldEntry(r: ReactionRecord, waitMs: number, now: Date): HistoryEntry {
  return {
    time: now.toISOString(),
    what: 'HookHeld',
    detail: `${r.hook} for ${r.event.event}: waiting ${(waitMs / 1000).toFixed(1)} s for a rate-limit token (watcher.rateLimit)`,
  };
}

/** What each node's history says of a PartitionSuspected event. */
export function partitionEntries(g: GuardState, event: NodeEvent): [string, HistoryEntry][] {
  const others = (n: string) => g.nodes.filter((x) => x !== n);
  return g.nodes.map((n) => [
    n,
    {
      time: event.time,
      what: 'PartitionSuspected',
      detail: `${g.nodes.length} of ${g.known} known nodes failed within the window (with ${others(n).join(', ') || 'no other'}): remedy hooks suspended`,
      id: event.id,
    },
  ]);
}
