// Classification: compare what etcd holds for one node (live record, identity, and the live record a
// DELETE just removed) with the watcher's own status record, and decide the new status and the events.
// Pure and level-triggered: the same inputs give the same answer whether they came from a watch event
// or from a listing after a gap, and a transition already in the status record is never reported again.
import type { NodeIdentity } from '../types.js';
import { SCHEMA_VERSION } from '../types.js';
import { eventId, type DetectedBy, type EventType, type NodeEvent, type StatusRecord, type WatchedState } from './records.js';
import type { DeletedLive, LiveEntry } from './model.js';
import { leftGracefully } from '../registry/leave.js';

/** Everything known about one node at one moment. */
export interface Observation {
  node: string;
  live?: LiveEntry;
  identity?: NodeIdentity;
  /** The identity key exists but does not decode: absence of a leave marker proves nothing. */
  identityUnreadable?: boolean;
  /** The live record a DELETE in this batch removed (from prevKV). */
  deleted?: DeletedLive;
  /** The lease audit found this lease expired and not revoked by etcd (hex). */
  overdue?: string;
}

/** An event before hooks are attached. */
export type EventDraft = Omit<NodeEvent, 'hooks'>;

/** What to do about one node. */
export interface Decision {
  /** The status to write; undefined when nothing changed. */
  status?: StatusRecord;
  events: EventDraft[];
  /** Ask etcd whether this lease still lives, then decide again with `leaseTtl`. */
  checkLease?: string;
  /** The registration's key is gone but its lease lives (deleted by hand): look again after this long. */
  recheckAfterMs?: number;
}

/**
 * Decide one node. `leaseTtl` answers a previous `checkLease`: the lease's remaining seconds, or -1 when
 * it is gone. A live key that vanished while its lease lives was deleted by hand, not lost: the agent
 * rewrites it, so that is no failure (looked at again when the lease would have run out).
 */
export function decide(
  obs: Observation,
  status: StatusRecord | undefined,
  now: Date,
  detectedBy: DetectedBy,
  leaseTtl?: number,
): Decision {
  // An expired lease etcd did not revoke: its key is still there, but the registration ended.
  if (obs.overdue && (!obs.live || obs.live.lease === obs.overdue)) {
    const deleted: DeletedLive = obs.deleted ?? { lease: obs.overdue, ...(obs.live?.record ? { record: obs.live.record } : {}) };
    const { live: _live, ...rest } = obs;
    return gone({ ...rest, deleted }, status, now, 'audit', -1, 'LeaseOverdue');
  }
  if (obs.live) return obs.live.record ? registered(obs, obs.live, status, now, detectedBy) : { events: [] };
  return gone(obs, status, now, detectedBy, leaseTtl);
}

function registered(obs: Observation, live: LiveEntry, status: StatusRecord | undefined, now: Date, by: DetectedBy): Decision {
  const rec = live.record!;
  const iso = now.toISOString();
  const lease = live.lease || rec.lease;
  const state: WatchedState = rec.state === 'leaving' ? 'leaving' : 'up';
  const base = { node: obs.node, lease, bootId: rec.bootId, address: rec.address, time: iso, detectedBy: by };
  const next = (reason: string, since: string): StatusRecord => ({
    schema: SCHEMA_VERSION,
    node: obs.node,
    state,
    since,
    lastSeen: iso,
    reason,
    lease,
    bootId: rec.bootId,
    address: rec.address,
  });
  const rebooted = (prev: StatusRecord): EventDraft[] =>
    prev.bootId && prev.bootId !== rec.bootId
      ? [draft('NodeRebooted', base, { reason: 'BootIdChanged', previous: prev.state, previousBootId: prev.bootId })]
      : [];

  if (!status) {
    return { status: next('Registered', iso), events: [draft('NodeJoined', base, { reason: 'Registered', previous: 'unknown' })] };
  }
  if (status.state === 'failed') {
    const downtimeMs = Math.max(0, now.getTime() - Date.parse(status.since));
    return {
      status: next('Recovered', iso),
      events: [draft('NodeRecovered', base, { reason: 'Registered', previous: 'failed', downtimeMs }), ...rebooted(status)],
    };
  }
  if (status.state === 'left') {
    return {
      status: next('Rejoined', iso),
      events: [draft('NodeJoined', base, { reason: 'Rejoined', previous: 'left' }), ...rebooted(status)],
    };
  }
  const changed =
    state !== status.state || lease !== status.lease || rec.bootId !== status.bootId || rec.address !== status.address;
  if (!changed) return { events: [] };
  const reason = state === 'leaving' ? 'Leaving' : lease !== status.lease ? 'Reregistered' : status.reason;
  return { status: next(reason, state !== status.state ? iso : status.since), events: rebooted(status) };
}

function gone(
  obs: Observation,
  status: StatusRecord | undefined,
  now: Date,
  by: DetectedBy,
  leaseTtl: number | undefined,
  failReason = 'LeaseExpired',
): Decision {
  const { identity, deleted } = obs;
  // The registration that ended: the one a DELETE just removed, else the latest the identity names.
  const lost = deleted?.lease || identity?.lease || status?.lease;
  if (!lost) return { events: [] };
  if (!status && !identity && !deleted) return { events: [] };
  if (status && (status.state === 'failed' || status.state === 'left') && status.lease === lost) return { events: [] };
  // Without a readable identity (garbage under the key), only a watched delete or our own record can speak.
  if (obs.identityUnreadable && !deleted && !status) return { events: [] };

  const graceful =
    deleted?.record?.state === 'leaving' ||
    leftGracefully(identity, lost) ||
    (status?.state === 'leaving' && status.lease === lost);
  if (!graceful) {
    if (leaseTtl === undefined) return { events: [], checkLease: lost };
    if (leaseTtl > 0) return { events: [], recheckAfterMs: leaseTtl * 1000 + 500 };
  }
  const iso = now.toISOString();
  const sameAsStatus = status?.lease === lost;
  const bootId = deleted?.record?.bootId ?? (identity?.lease === lost ? identity.bootId : undefined) ?? (sameAsStatus ? status!.bootId : '');
  const address = deleted?.record?.address ?? (status?.address || '');
  const previous: WatchedState | 'unknown' = sameAsStatus ? status!.state : 'unknown';
  const type: EventType = graceful ? 'NodeLeft' : 'NodeFailed';
  const reason = graceful ? 'Left' : failReason;
  const lastSeen = by === 'watch' || !sameAsStatus ? iso : status!.lastSeen;
  return {
    status: {
      schema: SCHEMA_VERSION,
      node: obs.node,
      state: graceful ? 'left' : 'failed',
      since: iso,
      lastSeen,
      reason,
      lease: lost,
      bootId,
      address,
    },
    events: [draft(type, { node: obs.node, lease: lost, bootId, address, time: iso, detectedBy: by }, { reason, previous })],
  };
}

function draft(
  type: EventType,
  base: Pick<EventDraft, 'node' | 'lease' | 'bootId' | 'address' | 'time' | 'detectedBy'>,
  extra: Pick<EventDraft, 'reason' | 'previous'> & Partial<EventDraft>,
): EventDraft {
  return { schema: SCHEMA_VERSION, id: eventId(type, base.node, base.lease), event: type, ...base, ...extra };
}
