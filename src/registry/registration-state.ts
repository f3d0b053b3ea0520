// The states of one registration, each with the data that is valid only in it, and the transitions
// between them. The loop in registration.ts moves between states only through `transition`, so a
// combination that cannot happen (a conflict remembered while registered, a lost lease beside a held
// one, watches with no lease) cannot be written down either.
import type { Grant } from '../etcd/store.js';
import type { Desired } from './desired.js';
import type { OwnKeyWatches } from './own-key-watch.js';

/** Holding no lease: the next step grants one and writes everything in one transaction. */
export interface Unregistered {
  readonly kind: 'unregistered';
}

/**
 * Another live lease holds the node name (`holder`, hex): nothing is overwritten and the name is checked
 * again every keepalive interval. The holder is remembered to say so once per holder, not once per check.
 */
export interface Conflict {
  readonly kind: 'conflict';
  readonly holder: string;
}

/**
 * Our lease (`lease`, hex) was given up at our own deadline while etcd did not answer, and etcd may
 * still hold it: a new etcd leader gives every lease its full TTL again, a restarted etcd restores them
 * from disk. The next step asks for it back (a keepalive, not a raft write) before granting anew, and
 * keeps asking until etcd answers, however long the outage.
 */
export interface Lost {
  readonly kind: 'lost';
  readonly lease: string;
}

/**
 * Holding `lease` (the lease keeper holds the same one): `written` is what we believe etcd holds under
 * it (replaced by each write and re-read), `watches` follow our keys for as long as this state lasts.
 */
export interface Registered {
  readonly kind: 'registered';
  readonly lease: Grant;
  written: Desired;
  readonly watches: OwnKeyWatches;
}

/** Shutting down: the leave markers are written under `lease`, then it is revoked. */
export interface Leaving {
  readonly kind: 'leaving';
  readonly lease: Grant;
  readonly written: Desired;
}

/** The loop has ended: a Registration runs once. */
export interface Stopped {
  readonly kind: 'stopped';
}

export type RegistrationState = Unregistered | Conflict | Lost | Registered | Leaving | Stopped;
export type StateKind = RegistrationState['kind'];

/**
 * Every transition there is. A lost lease is settled (taken back, or found gone) before any grant, so it
 * never meets a conflict directly; a conflict lasts until the name is ours (or held by another lease:
 * conflict → conflict), through failed attempts in between; only a held lease can be lost or left.
 */
export const TRANSITIONS = {
  unregistered: ['registered', 'conflict', 'stopped'],
  conflict: ['registered', 'conflict', 'stopped'],
  lost: ['registered', 'unregistered', 'stopped'],
  registered: ['unregistered', 'lost', 'leaving'],
  leaving: ['stopped'],
  stopped: [],
} as const satisfies Record<StateKind, readonly StateKind[]>;

/** Move from `from` to `to`; a transition not in TRANSITIONS is a defect of the loop, and throws. */
export function transition<T extends RegistrationState>(from: RegistrationState, to: T): T {
  const allowed: readonly StateKind[] = TRANSITIONS[from.kind];
  if (!allowed.includes(to.kind)) throw new Error(`registration: no transition from ${from.kind} to ${to.kind}`);
  return to;
}
