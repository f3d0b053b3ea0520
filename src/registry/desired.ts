// What a registration should hold in etcd, and the operations that bring etcd there from what it holds.
// Pure apart from reread(): the registration loop decides when to write, these decide what.
import type { Grant, KeyValue, Store, TxnOp } from '../etcd/store.js';

/** The keys one registration should hold: `leased` go under the lease, `unleased` persist. */
export interface Desired {
  leased: Map<string, string>;
  unleased: Map<string, string>;
}

/** Builds the desired keys for a lease; `leaving` renders the graceful-leave markers. */
export type Renderer = (lease: Grant, phase: 'up' | 'leaving') => Desired;

/** Nothing written (yet, or any more: what a lost lease held is gone with it). */
export function nothingWritten(): Desired {
  return { leased: new Map(), unleased: new Map() };
}

/** Every key of `d` as a put, the leased ones under `lease`. */
export function puts(d: Desired, lease: string): TxnOp[] {
  const ops: TxnOp[] = [];
  for (const [k, v] of d.leased) ops.push({ put: k, value: v, lease });
  for (const [k, v] of d.unleased) ops.push({ put: k, value: v });
  return ops;
}

/** The puts and deletes that turn `written` into `desired`; none when they agree. */
export function changes(desired: Desired, written: Desired, lease: string): TxnOp[] {
  const ops: TxnOp[] = [];
  for (const [k, v] of desired.leased) if (written.leased.get(k) !== v) ops.push({ put: k, value: v, lease });
  for (const [k, v] of desired.unleased) if (written.unleased.get(k) !== v) ops.push({ put: k, value: v });
  for (const k of written.leased.keys()) if (!desired.leased.has(k)) ops.push({ delete: k });
  for (const k of written.unleased.keys()) if (!desired.unleased.has(k)) ops.push({ delete: k });
  return ops;
}

/**
 * The keys of `desired` whose value differs from `written`: a leave writes only what it changes (the
 * live record's state, the identity's leave marker) and deletes nothing, since the revoke that follows
 * takes the leased keys with it.
 */
export function changedKeys(desired: Desired, written: Desired): Desired {
  return {
    leased: new Map([...desired.leased].filter(([k, v]) => written.leased.get(k) !== v)),
    unleased: new Map([...desired.unleased].filter(([k, v]) => written.unleased.get(k) !== v)),
  };
}

/**
 * What etcd holds of the keys we want or think we wrote (level-triggered: where etcd disagrees with our
 * memory, etcd wins). A leased key counts only under our lease: one under another lease is not ours.
 */
export async function reread(store: Store, desired: Desired, written: Desired, lease: string): Promise<Desired> {
  const leasedKeys = [...new Set([...desired.leased.keys(), ...written.leased.keys()])];
  const unleasedKeys = [...new Set([...desired.unleased.keys(), ...written.unleased.keys()])];
  const { kvs } = await store.getMany([...leasedKeys, ...unleasedKeys]);
  return {
    leased: held(leasedKeys, kvs.slice(0, leasedKeys.length), (kv) => kv.lease === lease),
    unleased: held(unleasedKeys, kvs.slice(leasedKeys.length), () => true),
  };
}

function held(keys: string[], kvs: (KeyValue | undefined)[], counts: (kv: KeyValue) => boolean): Map<string, string> {
  const m = new Map<string, string>();
  keys.forEach((k, i) => {
    const kv = kvs[i];
    if (kv && counts(kv)) m.set(k, kv.value.toString());
  });
  return m;
}
