// A lease taken back after an outage holds the node's keys as they were: the agent re-reads them and
// writes nothing. When that re-read fails (etcd behind, after an outage), the retry re-reads again; it
// must not write every key again blind (a raft write per node, for a fleet coming back all at once).
import test from 'ava';
import { EtcdTimeoutError } from '../../src/errors.js';
import type { TxnOp } from '../../src/etcd/store.js';
import { createLogger } from '../../src/log.js';
import { Registration } from '../../src/registry/registration.js';
import { waitFor } from '../helpers/etcd.js';
import { oneNode } from './support.js';

test('a lease taken back whose first re-read fails: read again, nothing written', async (t) => {
  const { store, keys, self, render } = await oneNode(t, '/t-verify-retry');
  const reg = new Registration(store, keys, { node: 'n1', ttl: 4, keepaliveIntervalMs: 1_000, keepaliveTimeoutMs: 500 }, self, render, createLogger('silent'));
  const registered: string[] = [];
  const lost: string[] = [];
  reg.on('registered', (g: { id: string }) => registered.push(g.id));
  reg.on('lost', (reason: string) => lost.push(reason));
  const ac = new AbortController();
  const running = reg.run(ac.signal);
  t.teardown(async () => {
    ac.abort();
    await running;
  });
  await waitFor(() => registered.length === 1, { timeoutMs: 10_000, what: 'first registration' });
  const lease = registered[0]!;

  // Keepalives reach etcd (the lease is renewed) but answer too late for the agent: it loses the
  // registration by its own deadline while etcd keeps the lease, as after an etcd restart.
  const keepAliveOnce = store.keepAliveOnce.bind(store);
  let late = true;
  let answered = 0;
  store.keepAliveOnce = async (id, timeoutMs) => {
    const ttl = await keepAliveOnce(id, timeoutMs);
    if (late) throw new EtcdTimeoutError('lease keepalive: deadline exceeded');
    answered++;
    return ttl;
  };
  // From the take-back on: reads fail twice (etcd behind), writes are counted.
  const txn = store.txn.bind(store);
  let failReads = 0;
  const reads: string[] = [];
  const writes: TxnOp[][] = [];
  store.txn = async (compares, then, otherwise) => {
    const ops = [...then, ...(otherwise ?? [])];
    const readOnly = ops.every((op) => 'get' in op);
    if (readOnly && failReads > 0) {
      failReads--;
      reads.push('failed');
      throw new EtcdTimeoutError('txn: deadline exceeded');
    }
    if (readOnly) reads.push('ok');
    else writes.push(then);
    return txn(compares, then, otherwise);
  };
  await waitFor(() => lost.length === 1, { timeoutMs: 10_000, what: 'registration lost by its own deadline' });
  late = false;
  failReads = 2;
  writes.length = 0;
  await waitFor(() => registered.length === 2, { timeoutMs: 10_000, what: 'lease taken back' });
  t.is(registered[1], lease, 'the same lease, taken back');
  await waitFor(() => reads.filter((r) => r === 'ok').length >= 1, { timeoutMs: 10_000, what: 'a re-read that succeeds' });
  // The sync that read is over once the loop is back to its keepalives (it sends them on the interval
  // after a sync, and writes, if any, come right after the read that found them needed).
  const after = answered;
  await waitFor(() => answered >= after + 2, { timeoutMs: 10_000, what: 'two keepalives after the re-read' });
  t.deepEqual(reads.slice(0, 2), ['failed', 'failed']);
  t.deepEqual(writes, [], 'nothing written: the keys under the lease were intact');
  t.true(reg.isRegistered());
});
