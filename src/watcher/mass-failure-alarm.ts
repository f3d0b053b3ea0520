// The mass-failure guard (safety.ts) fed from the leader's status records: it trips when too many of the
// known nodes failed within its window, and each trip is announced once, as a PartitionSuspected event the
// leader's loop records (a takeover only catches up with a trip the previous leader already announced).
import type { Logger } from 'pino';
import type { MassFailureConfig } from '../config/watcher.js';
import type { Versioned } from './record-keeper.js';
import type { StatusRecord } from './records.js';
import { MassFailureGuard, type GuardState, type Population } from './safety.js';

/** What the alarm tells the leader. */
export interface AlarmSink {
  /** The guard tripped: a PartitionSuspected is pending (`take` it). */
  tripped(): void;
  /** The guard tripped or released. */
  changed(): void;
}

/** The guard over the status records, with the trip not yet announced. */
export class MassFailureAlarm {
  private readonly guard: MassFailureGuard;
  private pending: GuardState | undefined;

  constructor(
    cfg: MassFailureConfig,
    private readonly sink: AlarmSink,
    private readonly log: Logger,
  ) {
    this.guard = new MassFailureGuard(cfg);
  }

  /** Whether the guard holds remedy hooks back (its last verdict). */
  get isTripped(): boolean {
    return this.guard.isTripped;
  }

  /** Evaluate the guard now; a transition into the tripped state leaves a PartitionSuspected pending. */
  check(statuses: ReadonlyMap<string, Versioned<StatusRecord>>): GuardState {
    const g = this.guard.evaluate(population(statuses), Date.now());
    if (g.changed && g.tripped) {
      this.log.warn({ failed: g.nodes.length, known: g.known, nodes: g.nodes }, 'mass failure: remedy hooks suspended');
      this.pending = g;
      this.sink.tripped();
    } else if (g.changed) {
      this.log.info({ failed: g.nodes.length, known: g.known }, 'mass-failure guard released: remedy hooks resume');
    }
    if (g.changed) this.sink.changed();
    return g;
  }

  /** At a takeover: whatever the previous leader raised for a mass failure in progress stands, so catch up silently. */
  resume(statuses: ReadonlyMap<string, Versioned<StatusRecord>>): void {
    this.guard.evaluate(population(statuses), Date.now());
  }

  /** The trip waiting to be announced, if any. */
  get pendingTrip(): GuardState | undefined {
    return this.pending;
  }

  /** The pending trip was announced, or the term that would announce it ended. */
  settle(): void {
    this.pending = undefined;
  }
}

function population(statuses: ReadonlyMap<string, Versioned<StatusRecord>>): Population {
  let up = 0;
  const failed: Population['failed'] = [];
  for (const { record: s } of statuses.values()) {
    if (s.state === 'up' || s.state === 'leaving') up++;
    else if (s.state === 'failed') failed.push({ node: s.node, at: Date.parse(s.since) });
  }
  return { up, failed };
}
