// The watcher's records: ids, final states and decoders (through the one codec, schema/v1/watcher-*.json);
// garbage never throws out of here (one bad key must not stop the watcher). The shapes are shared
// vocabulary, in src/types.ts (the codec and the metrics need them too), and re-exported here.
import { DecodeError } from '../errors.js';
import type { KeyValue } from '../etcd/store.js';
import { decodeRecord } from '../registry/codec.js';
import type { EventType, NodeEvent, ReactionRecord, ReactionState, StatusRecord } from '../types.js';

export {
  EVENT_TYPES,
  type AttemptRecord,
  type DetectedBy,
  type EventType,
  type HookOutcome,
  type NodeEvent,
  type ReactionRecord,
  type ReactionState,
  type RevocationEvidence,
  type StatusRecord,
  type SuppressReason,
  type WatchedState,
} from '../types.js';

/** Event types no remedy hook runs for (alertOnly hooks may still be told). */
export const NO_REMEDY: readonly EventType[] = ['LeaseRevoked'];

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
