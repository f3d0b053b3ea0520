// A leadership term: what the watcher starts when elected, and stops and waits for when deposed. The
// reactor runs the hooks, the history writer keeps the nodes' history, the lease audit follows the leases
// of the nodes seen up; all three stop with the term's one abort, and write only under the election fence.
import type { Logger } from 'pino';
import type { WatcherFileConfig } from '../config/watcher.js';
import type { Keys } from '../etcd/keys.js';
import type { Store } from '../etcd/store.js';
import { LeaseAudit, type AuditSink } from './audit.js';
import type { Election } from './election.js';
import { HistoryWriter } from './history.js';
import { hookEntry, hookHeldEntry } from './history-notes.js';
import type { HookRunners } from './hooks/hook.js';
import { Reactor } from './reactor.js';
import type { RecordKeeper } from './record-keeper.js';
import type { HookOutcome } from './records.js';
import type { Rejections } from './rejections.js';
import type { GuardState } from './safety.js';

/** A leadership term: everything that must stop when leadership ends. */
export interface Term {
  controller: AbortController;
  reactor: Reactor;
  /** The feed's listing count when the term began: the term works only from a listing taken after it. */
  resyncsAtStart: number;
  /** The status records and unfinished reactions are loaded (the takeover is done). */
  ready: boolean;
  /** The nodes' history (docs/keys.md), written by this term only. */
  history: HistoryWriter;
  /** The lease audit of this term (undefined when disabled) and its loop. */
  audit?: LeaseAudit;
  auditRun?: Promise<void>;
}

/** The watcher's parts a term works with. */
export interface TermParts {
  store: Store;
  keys: Keys;
  cfg: WatcherFileConfig;
  runners: HookRunners;
  records: RecordKeeper;
  election: Election;
  rejections: Rejections;
  /** The root logger, for the term's components' own loggers. */
  rootLog: Logger;
}

/** What a term is made of and reports to. */
export interface TermDeps extends TermParts {
  /** The feed's listing count now. */
  resyncs: number;
  /** The mass-failure guard's verdict now. */
  guard(): GuardState;
  /** Whether the node is still failed from that registration. */
  stillFailed(node: string, lease: string): boolean;
  /** A hook's reaction reached its final outcome. */
  hookOutcome(hook: string, outcome: HookOutcome): void;
  /** Told what the lease audit finds. */
  audit: AuditSink;
}

/** Start a term: its reactor, its history writer and (when enabled) its lease audit. */
export function openTerm(d: TermDeps): Term {
  const controller = new AbortController();
  const child = (component: string) => d.rootLog.child({ component, watcher: d.cfg.watcher.id });
  const history = new HistoryWriter(d.store, d.keys, () => d.election.fence(), child('history'), (err, kv) =>
    d.rejections.reject(err, kv, { tracked: false }),
  );
  const reactor = new Reactor({
    records: d.records,
    election: d.election,
    hooks: d.cfg.hooks,
    runners: d.runners,
    settings: d.cfg.watcher,
    guard: d.guard,
    stillFailed: d.stillFailed,
    log: child('reactor'),
    onOutcome: (hook, outcome, r) => {
      d.hookOutcome(hook, outcome);
      history.note(r.event.node, hookEntry(hook, outcome, r, new Date()));
    },
    onRateLimited: (r, waitMs) => history.note(r.event.node, hookHeldEntry(r, waitMs, new Date())),
  });
  const term: Term = { controller, reactor, history, resyncsAtStart: d.resyncs, ready: false };
  if (d.cfg.watcher.leaseAudit.enabled) {
    term.audit = new LeaseAudit(d.store, { maxRate: d.cfg.watcher.leaseAudit.maxRate }, d.audit, child('audit'));
    term.auditRun = term.audit.run(controller.signal);
  }
  return term;
}

/** End a term: abort it; resolves once its reactions and audit have stopped and its history is written. */
export function closeTerm(term: Term, reason: string): Promise<void> {
  term.controller.abort(reason);
  return Promise.all([term.reactor.drain(), term.auditRun]).then(() => term.history.close());
}
