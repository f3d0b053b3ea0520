// The registration's transactions: the first write under a new lease, the writes of what changed while
// registered, and the leave. Each is fenced on the node's live key (absent before the first write, under
// our lease after it), so that nothing of ours lands over another agent's registration of the name.
import type { Logger } from 'pino';
import { EtcdUnavailableError } from '../errors.js';
import { leaseFromHex, type Compare, type Grant, type Store, type TxnResult, type WatchEvent } from '../etcd/store.js';
import { changedKeys, changes, puts, reread, type Desired } from './desired.js';
import { OwnWrites } from './own-writes.js';

/** What a sync came to. */
export type SyncResult =
  | { kind: 'unchanged' }
  /** Written at `revision`; `rewritten` when everything was written again after our keys were deleted. */
  | { kind: 'written'; revision: string; rewritten: boolean }
  /** Another lease holds the live key: ours has been revoked, the registration is lost. */
  | { kind: 'name-taken' }
  /** Nothing written (the live key changed under us meanwhile): try again. */
  | { kind: 'again' };

export class RegistrationWriter {
  private readonly own: OwnWrites;

  /** `rejudge` gets the watch events whose judgement had to wait for a write of ours (see OwnWrites). */
  constructor(
    private readonly store: Store,
    /** The node's live key. */
    private readonly live: string,
    private readonly log: Logger,
    rejudge: (e: WatchEvent) => void,
  ) {
    this.own = new OwnWrites(rejudge);
  }

  /** The first write under a new lease: everything, only while no live record exists (it is read back otherwise). */
  first(desired: Desired, lease: string): Promise<TxnResult> {
    return this.own.track(this.store.txn([this.absent()], puts(desired, lease), [{ get: this.live }]));
  }

  /**
   * Write the difference between `desired` and what `st.written` says etcd holds (with `verify`, re-read
   * first: where etcd disagrees, etcd wins). `st.written` follows what etcd holds, also when a write fails.
   */
  async sync(st: { lease: Grant; written: Desired }, desired: Desired, verify: boolean): Promise<SyncResult> {
    const lease = st.lease.id;
    if (verify) st.written = await reread(this.store, desired, st.written, lease);
    const ops = changes(desired, st.written, lease);
    if (ops.length === 0) return { kind: 'unchanged' };
    const res = await this.own.track(this.store.txn([this.ours(lease)], ops, [{ get: this.live }]));
    if (res.succeeded) {
      st.written = desired;
      this.log.info({ lease, writes: ops.length }, 'registration updated');
      return { kind: 'written', revision: res.revision, rewritten: false };
    }
    const holder = res.gets[0];
    if (holder && holder.lease !== '' && holder.lease !== lease) {
      // Someone else registered this name while our keys were gone: step back.
      await this.store.revoke(lease).catch(() => undefined);
      return { kind: 'name-taken' };
    }
    // Our live record is gone (deleted by hand) while the lease lives: write everything again.
    const again = await this.own.track(this.store.txn([this.absent()], puts(desired, lease)));
    if (!again.succeeded) return { kind: 'again' };
    st.written = desired;
    this.log.warn({ lease }, 'registration rewritten after its keys were deleted');
    return { kind: 'written', revision: again.revision, rewritten: true };
  }

  /** Whether a watch event on our keys is someone else's change to what we wrote (see OwnWrites). */
  foreign(e: WatchEvent, written: Desired): boolean {
    return this.own.foreign(e, written);
  }

  /**
   * Leave: write what `leaving` changes (the live record's state, the identity's leave marker: so a
   * watcher sees a leave, not a failure), then revoke. When etcd does not answer, the keys expire with
   * the lease, seen as a failure.
   */
  async leave(lease: string, written: Desired, leaving: Desired): Promise<void> {
    try {
      await this.store.txn([this.ours(lease)], puts(changedKeys(leaving, written), lease));
      await this.store.revoke(lease);
      this.log.info({ lease }, 'left: lease revoked');
    } catch (err) {
      const level = err instanceof EtcdUnavailableError ? 'warn' : 'error';
      this.log[level]({ err, lease }, 'leave not recorded; keys expire with the lease');
    }
  }

  private absent(): Compare {
    return { key: this.live, target: 'Version', op: '==', value: 0 };
  }

  private ours(lease: string): Compare {
    return { key: this.live, target: 'Lease', op: '==', value: leaseFromHex(lease) };
  }
}
