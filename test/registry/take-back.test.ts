// A lost lease is asked back (a keepalive, no raft write) before a new one is granted. But a take-back that
// keeps timing out while etcd is reachable must not be asked forever: a busy etcd answers a renewal of an
// expired lease only once it has revoked it, and a fleet asking on never registered again (10,000 nodes
// after an outage, docs/benchmarks.md). Here etcd is real and answers everything except the keepalives of
// the node's first lease, which time out (what a busy etcd does to a client with a deadline): the node
// must give that lease up after a TTL of slow take-backs and register anew.
import { Writable } from 'node:stream';
import test from 'ava';
import { EtcdTimeoutError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { Registration } from '../../src/registry/registration.js';
import { waitFor } from '../helpers/etcd.js';
import { oneNode } from './support.js';

test('take-backs that time out for longer than the TTL: the lost lease is given up and the node registers anew', async (t) => {
  const { store, keys, self, render } = await oneNode(t, '/t-takeback');
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger('info', sink);
  const ttl = 3;
  const reg = new Registration(store, keys, { node: 'n1', ttl, keepaliveIntervalMs: 1_000, keepaliveTimeoutMs: 500 }, self, render, log);
  const leases: string[] = [];
  const lost: number[] = [];
  reg.on('registered', (g: { id: string }) => leases.push(g.id));
  reg.on('lost', () => lost.push(Date.now()));
  const ac = new AbortController();
  const running = reg.run(ac.signal);
  t.teardown(async () => {
    ac.abort();
    await running;
  });
  await waitFor(() => leases.length === 1, { timeoutMs: 10_000, what: 'first registration' });
  const first = leases[0]!;

  // From now on, every keepalive of the first lease times out; any other lease is kept as usual.
  const keepAliveOnce = store.keepAliveOnce.bind(store);
  let slowAnswers = 0;
  store.keepAliveOnce = async (lease, timeoutMs) => {
    if (lease !== first) return keepAliveOnce(lease, timeoutMs);
    slowAnswers++;
    await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 300)));
    throw new EtcdTimeoutError('lease keepalive: deadline exceeded');
  };
  await waitFor(() => lost.length === 1, { timeoutMs: 3 * ttl * 1_000, what: 'registration lost by its own deadline' });
  // Lost after T; then take-backs time out for T more before the lease is given up, and the grant waits up
  // to T: allow 4 T.
  await waitFor(() => leases.length === 2, { timeoutMs: 4 * ttl * 1_000, intervalMs: 50, what: 'registered anew' });
  const ms = Date.now() - lost[0]!;
  t.log(`registered anew ${ms} ms after the registration was lost, after ${slowAnswers} slow keepalives`);
  t.not(leases[1], first, 'under a new lease');
  t.true(ms >= ttl * 1_000, `not before a TTL of slow take-backs (${ms} ms)`);
  const gaveUp = lines.find((l) => l.msg === 'lost lease not taken back in time: registering anew');
  t.truthy(gaveUp, 'said so in the log');
  // The first grant waits a random part of a TTL (a fleet gives up together), and no longer.
  const grantInMs = gaveUp!.grantInMs as number;
  t.true(grantInMs >= 0 && grantInMs <= ttl * 1_000, `grant in ${grantInMs} ms`);
  t.true(ms >= ttl * 1_000 + grantInMs - 100, `the grant waited its ${grantInMs} ms (${ms} ms after the loss)`);
  t.true(reg.isRegistered());
  // The node's record is held by the new lease.
  t.is((await store.get(keys.live('n1')))?.lease, leases[1]);
});
