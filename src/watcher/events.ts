// The watcher's vocabulary: event types, the node status it keeps, events and reactions as stored in etcd.
// Pure shapes and decoders (through the one codec, schema/v1/watcher-*.json); garbage never throws out of
// here (one bad key must not stop the watcher).
import { DecodeError } from '../errors.js';
import type { KeyValue } from '../etcd/store.js';
import { decodeRecord } from '../registry/codec.js';
import { SCHEMA_VERSION } from '../types.js';

/** Every event type the watcher raises (the Health work adds ConditionChanged and EndpointCritical). */
export const EVENT_TYPES = [
  'NodeJoined',
  'NodeFailed',
  'NodeLeft',
  'NodeRecovered',
  'NodeRebooted',
  'PartitionSuspected',
  'LeaseRevoked',
] as const;

/** One of EVENT_TYPES. */
export type EventType = (typeof EVENT_TYPES)[number];

/** A node as the watcher records it: registered (`up`, `leaving`) or gone (`left` gracefully, `failed`). */
export type WatchedState = 'up' | 'leaving' | 'left' | 'failed';

/**
 * How a transition was noticed: a watch event, a comparison after a gap (start, reconnect, takeover), or
 * the leader's lease audit (an expired lease etcd did not revoke).
 */
export type DetectedBy = 'watch' | 'resync' | 'audit';

/** Event types no remedy hook runs for (alertOnly hooks may still be told). */
export const NO_REMEDY: readonly EventType[] = ['LeaseRevoked'];

/** Why the watcher put a lost lease down to etcd rather than to its holder (LeaseRevoked). */
export interface RevocationEvidence {
  /** Witness leases this watcher kept alive that etcd revoked around the same time. */
  witnessesRevoked: number;
  /** The etcd raft term went up this long before the delete (undefined: no change seen recently). */
  termChangedMsBefore?: number;
  /** The node registered again this long after its lease was seen gone (absent when a new leader found it back already). */
  reregisteredAfterMs?: number;
}

/** `<prefix>/v1/watcher/status/<node>`: the leader's record of one node (unleased, one writer). */
export interface StatusRecord {
  schema: typeof SCHEMA_VERSION;
  node: string;
  state: WatchedState;
  /** When `state` last changed, ISO 8601. */
  since: string;
  /** When the watcher last saw the node's registration present, ISO 8601. */
  lastSeen: string;
  reason: string;
  /** The registration (lease, hex) the state is about: for `failed`/`left` the lost one. */
  lease: string;
  bootId: string;
  address: string;
}

/** What became of one hook for one event: recorded in the reaction and copied into the event. */
export type HookOutcome =
  | { state: 'pending' }
  | { state: 'ok'; attempts: number; durationMs: number; output: string }
  | {
      state: 'failed' | 'timeout';
      attempts: number;
      durationMs: number;
      output: string;
      exitCode?: number;
      httpStatus?: number;
      error?: string;
    }
  | { state: 'suppressed'; why: SuppressReason; detail: string };

/** Why a hook did not run. */
export type SuppressReason = 'mass-failure' | 'cooldown' | 'recovered' | 'hook-removed';

/** `<prefix>/v1/watcher/events/<id>`: one event (retention lease); also printed as one JSON line. */
export interface NodeEvent {
  schema: typeof SCHEMA_VERSION;
  /** Idempotency key: `<node>.<lease>.<type>` (the registration it is about), or `PartitionSuspected.<ms>`. */
  id: string;
  event: EventType;
  /** The node's name; `*` for PartitionSuspected. */
  node: string;
  time: string;
  reason: string;
  detectedBy: DetectedBy;
  lease: string;
  bootId: string;
  address: string;
  /** The state before the transition (`unknown` when no watcher had seen the node). */
  previous: WatchedState | 'unknown';
  /** NodeRecovered: time spent failed. */
  downtimeMs?: number;
  /** NodeRebooted: the boot id before. */
  previousBootId?: string;
  /** LeaseRevoked: what showed that etcd, not the node, ended the registration. */
  evidence?: RevocationEvidence;
  /** PartitionSuspected: the nodes failed within the window, and the counts that tripped the guard. */
  nodes?: string[];
  failed?: number;
  known?: number;
  /** Outcome per hook name, filled in as reactions finish. */
  hooks: Record<string, HookOutcome>;
}

/** Progress of a reaction: created pending with the event, advanced only by compare-and-swap. */
export type ReactionState = 'pending' | 'running' | 'done' | 'failed' | 'suppressed';

/** One attempt of a hook, as recorded (output capped). */
export interface AttemptRecord {
  attempt: number;
  owner: string;
  startedAt: string;
  state: 'ok' | 'failed' | 'timeout' | 'interrupted';
  durationMs: number;
  exitCode?: number;
  httpStatus?: number;
  output: string;
  error?: string;
}

/** `<prefix>/v1/watcher/reactions/<event id>.<hook>`: exactly-once progress of one hook for one event. */
export interface ReactionRecord {
  schema: typeof SCHEMA_VERSION;
  id: string;
  hook: string;
  /** The event as raised (without hook outcomes): a new leader needs nothing else to resume. */
  event: Omit<NodeEvent, 'hooks'>;
  state: ReactionState;
  /** Not to be started before this time (the mass-failure hold), ISO 8601. */
  notBefore: string;
  /** The watcher running it and the election lease it held when it started. */
  owner: { id: string; lease: string } | null;
  attempts: AttemptRecord[];
  outcome: HookOutcome;
  createdAt: string;
  updatedAt: string;
}

/** Final reaction states: never run again. */
export const FINAL_STATES: readonly ReactionState[] = ['done', 'failed', 'suppressed'];

/** The event id (idempotency key) of a node event: one per type and registration. */
export function eventId(type: EventType, node: string, lease: string): string {
  return `${node}.${lease || 'none'}.${type}`;
}

/** The reaction id of one hook for one event. */
export function reactionId(event: string, hook: string): string {
  return `${event}.${hook}`;
}

/** Decode a status record (schema/v1/watcher-status.json). */
export function decodeStatus(kv: KeyValue): StatusRecord | DecodeError {
  return decodeRecord('watcher-status', kv);
}

/** Decode a reaction record (schema/v1/watcher-reaction.json). */
export function decodeReaction(kv: KeyValue): ReactionRecord | DecodeError {
  return decodeRecord('watcher-reaction', kv);
}

/** Decode a stored event (schema/v1/watcher-event.json). */
export function decodeEvent(kv: KeyValue): NodeEvent | DecodeError {
  return decodeRecord('watcher-event', kv);
}
