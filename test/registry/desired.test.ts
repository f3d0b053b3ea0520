// What a registration writes (src/registry/desired.ts): the operations computed from what etcd holds
// bring it exactly to what is desired, leased keys under the lease, and nothing is written when the two
// agree. Model-checked: the operations are applied to a map standing in for etcd.
import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import type { TxnOp } from '../../src/etcd/store.js';
import { changedKeys, changes, puts, type Desired } from '../../src/registry/desired.js';

const RUNS = Number(process.env.BEACON_PROP_RUNS ?? 300);
const LEASE = '694d7e1a2b3c4d5e';

// Few keys and values, so that desired and written share keys and values often.
const keyMap = fc.dictionary(fc.constantFrom('/a', '/b', '/c', '/d', '/e'), fc.constantFrom('1', '2', '3'));
const desiredArb = fc.record({ leased: keyMap, unleased: keyMap }).map(
  (r): Desired => ({ leased: new Map(Object.entries(r.leased)), unleased: new Map(Object.entries(r.unleased)) }),
);
// Leased and unleased keys in distinct places, as a renderer makes them.
const desiredPair = fc.tuple(desiredArb, desiredArb).map(([d, w]) => [prefixed(d), prefixed(w)] as const);

function prefixed(d: Desired): Desired {
  const map = (m: Map<string, string>, p: string) => new Map([...m].map(([k, v]) => [`${p}${k}`, v]));
  return { leased: map(d.leased, '/leased'), unleased: map(d.unleased, '/kept') };
}

/** etcd as a map of key → { value, lease }: `written` stands in it, then `ops` are applied. */
function apply(written: Desired, ops: TxnOp[]): Map<string, { value: string; lease?: string }> {
  const etcd = new Map<string, { value: string; lease?: string }>();
  for (const [k, v] of written.leased) etcd.set(k, { value: v, lease: LEASE });
  for (const [k, v] of written.unleased) etcd.set(k, { value: v });
  for (const op of ops) {
    if ('put' in op) etcd.set(op.put, op.lease === undefined ? { value: op.value } : { value: op.value, lease: op.lease });
    else if ('delete' in op) etcd.delete(op.delete);
    else throw new Error(`unexpected op ${JSON.stringify(op)}`);
  }
  return etcd;
}

function asEtcd(d: Desired): Map<string, { value: string; lease?: string }> {
  return apply(d, []);
}

test('changes() brings etcd from written to desired, leased keys under the lease', (t) => {
  fc.assert(
    fc.property(desiredPair, ([desired, written]) => {
      assert.deepEqual(apply(written, changes(desired, written, LEASE)), asEtcd(desired));
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('changes() writes nothing when etcd already holds what is desired, and only what differs otherwise', (t) => {
  fc.assert(
    fc.property(desiredPair, ([desired, written]) => {
      assert.deepEqual(changes(desired, desired, LEASE), []);
      for (const op of changes(desired, written, LEASE)) {
        if ('put' in op) assert.notEqual(written.leased.get(op.put) ?? written.unleased.get(op.put), op.value, `${op.put} rewritten unchanged`);
      }
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('puts() writes everything; changedKeys() keeps what differs and deletes nothing (the revoke does)', (t) => {
  fc.assert(
    fc.property(desiredPair, ([desired, written]) => {
      assert.deepEqual(apply({ leased: new Map(), unleased: new Map() }, puts(desired, LEASE)), asEtcd(desired));
      const changed = changedKeys(desired, written);
      for (const [k, v] of changed.leased) assert.notEqual(written.leased.get(k), v);
      for (const [k, v] of changed.unleased) assert.notEqual(written.unleased.get(k), v);
      assert.deepEqual(apply(written, puts(changed, LEASE)), new Map([...asEtcd(written), ...asEtcd(desired)]));
    }),
    { numRuns: RUNS },
  );
  t.pass();
});
