// Watches on our own keys while registered, so that a hand-made delete or overwrite is repaired at once,
// not at the next periodic verify. One set per registration: once closed it starts nothing more, so no
// watch outlives the lease it was started for.
import type { Logger } from 'pino';
import type { PrefixWatch, Store, WatchEvent } from '../etcd/store.js';
import { deadline } from '../util/deadline.js';
import type { Desired } from './desired.js';

/** What a watch of our keys tells the registration. */
export interface OwnKeyHandlers {
  /** A change to one of the watched keys. */
  event(e: WatchEvent): void;
  /** The watch (re)connected or failed: events may have been missed, so our keys are read again. */
  gap(): void;
}

/**
 * The keys to watch: the node's own prefix, and each key written outside it (one watch each, sorted
 * so that the same keys give the same list).
 */
export function watchedKeys(nodePrefix: string, written: Desired): string[] {
  const outside = [...written.leased.keys(), ...written.unleased.keys()].filter((k) => !k.startsWith(nodePrefix));
  return [nodePrefix, ...outside.sort()];
}

export class OwnKeyWatches {
  private watches: PrefixWatch[] = [];
  /** The keys the watches follow, joined; '' when none run (or starting them failed: tried again). */
  private signature = '';
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly handlers: OwnKeyHandlers,
    private readonly log: Logger,
  ) {}

  /**
   * Watch `keys` (the first one a prefix, see watchedKeys) from after `revision`, unless the same keys are
   * watched already (`force` restarts them anyway: after a rewrite, from its revision).
   */
  async follow(keys: string[], revision: string, force = false): Promise<void> {
    if (this.closed || (!force && keys.join('\n') === this.signature)) return;
    await this.cancelAll();
    const from = (BigInt(revision) + 1n).toString();
    this.signature = keys.join('\n');
    const nodePrefix = keys[0]!;
    try {
      for (const k of keys) {
        const w = await this.within(k === nodePrefix ? this.store.watch(k, from) : this.store.watchKey(k, from));
        if (this.closed) {
          void w.cancel();
          return;
        }
        // A closed set's watches may still report while they are cancelled: not ours any more.
        w.on('event', (e: WatchEvent) => this.closed || this.handlers.event(e));
        w.on('connected', () => this.closed || this.handlers.gap());
        w.on('error', () => this.closed || this.handlers.gap());
        w.on('disconnected', () => undefined);
        this.watches.push(w);
      }
    } catch (err) {
      // Without watches the periodic verify still repairs; the next sync tries the watches again.
      this.log.debug({ err }, 'own-key watch not started');
      this.signature = '';
    }
  }

  /** Stop every watch; nothing is started any more. */
  async close(): Promise<void> {
    this.closed = true;
    await this.cancelAll();
  }

  private async cancelAll(): Promise<void> {
    const ws = this.watches;
    this.watches = [];
    this.signature = '';
    await Promise.all(ws.map((w) => w.cancel()));
  }

  // A watch is created on a stream with no deadline of its own: on a member hung right after our
  // registration (SIGSTOP) it never settles, and with it the loop that sends our keepalives (the agent
  // then neither kept nor gave up its lease). Bounded like any request; a watch created too late is cancelled.
  private async within(created: Promise<PrefixWatch>): Promise<PrefixWatch> {
    try {
      return await deadline(created, this.store.requestTimeoutMs, 'own-key watch create');
    } catch (err) {
      created.then((w) => void w.cancel(), () => undefined);
      throw err;
    }
  }
}
