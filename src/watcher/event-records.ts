// The records an event brings with it, written in the event's own transaction: the event, with each hook
// that runs for it marked pending, and one pending reaction per hook (the reactor's work, which a new
// leader resumes). Pure: time and the hooks are passed in.
import type { HookConfig } from '../config/watcher.js';
import { SCHEMA_VERSION } from '../types.js';
import type { EventDraft } from './classify.js';
import { reactionId, type NodeEvent, type ReactionRecord } from './records.js';
import type { GuardState } from './safety.js';

/** The event as recorded: every hook in `hooks` (those its type triggers) pending. */
export function withHooks(e: EventDraft, hooks: readonly HookConfig[]): NodeEvent {
  return { ...e, hooks: Object.fromEntries(hooks.map((h) => [h.name, { state: 'pending' as const }])) };
}

/**
 * One pending reaction per hook the event triggers. Remedies for a failure wait out `failureHoldMs` (the
 * mass-failure hold), so failures arriving together are judged together; alerts go at once.
 */
export function reactionsFor(e: NodeEvent, hooks: readonly HookConfig[], failureHoldMs: number, now: number): ReactionRecord[] {
  const iso = new Date(now).toISOString();
  return hooks.map((h) => {
    const hold = e.event === 'NodeFailed' && !h.alertOnly ? failureHoldMs : 0;
    const { hooks: _hooks, ...event } = e;
    return {
      schema: SCHEMA_VERSION,
      id: reactionId(e.id, h.name),
      hook: h.name,
      event,
      state: 'pending',
      notBefore: new Date(now + hold).toISOString(),
      owner: null,
      attempts: [],
      outcome: { state: 'pending' },
      createdAt: iso,
      updatedAt: iso,
    };
  });
}

/** The PartitionSuspected event the mass-failure guard raises when it trips (about every node: `*`). */
export function partitionEvent(g: GuardState, now: number): EventDraft {
  return {
    schema: SCHEMA_VERSION,
    id: `PartitionSuspected.${now}`,
    event: 'PartitionSuspected',
    node: '*',
    time: new Date(now).toISOString(),
    reason: 'MassFailure',
    detectedBy: 'watch',
    lease: '',
    bootId: '',
    address: '',
    previous: 'unknown',
    nodes: g.nodes,
    failed: g.nodes.length,
    known: g.known,
  };
}
