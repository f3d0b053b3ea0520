// Re-registration backoff: full jitter up to 30 s (growing twice as fast when etcd says it is overloaded
// or slow) spreads a fleet's grants when etcd is overloaded, yet an outage's end is caught by cheap
// probes, so a registration is back within 2 s of etcd answering however far the backoff had grown.
import test from 'ava';
import { EtcdOverloadedError, EtcdTimeoutError, EtcdUnavailableError } from '../../src/errors.js';
import { GRANT_BACKOFF_CAP_MS, GRANT_BACKOFF_OVERLOAD_CAP_MS, GrantBackoff } from '../../src/etcd/lease-keeper.js';
import { createLogger } from '../../src/log.js';
import { pauseBeforeGrant } from '../../src/registry/outage.js';
import { Registration } from '../../src/registry/registration.js';
import { Backoff } from '../../src/util/time.js';
import { waitFor } from '../helpers/etcd.js';
import { oneNode } from './support.js';

test('Backoff full jitter: every delay within [0, min(cap, base·2^n)], spread over the range', (t) => {
  const b = new Backoff(200, 4_000, 'full');
  const ceilings = [200, 400, 800, 1_600, 3_200, 4_000, 4_000];
  for (const c of ceilings) {
    const d = b.next();
    t.true(d >= 0 && d <= c, `${d} within [0, ${c}]`);
  }
  const xs = Array.from({ length: 2_000 }, () => b.next());
  t.true(Math.min(...xs) < 400 && Math.max(...xs) > 3_600, 'full range used, not only its upper half');
  b.reset();
  t.true(b.next() <= 200, 'reset starts from the base again');
  const eq = new Backoff(200, 4_000);
  for (let i = 0; i < 10; i++) eq.next();
  t.true(Array.from({ length: 200 }, () => eq.next()).every((d) => d >= 2_000 && d <= 4_000), 'equal jitter unchanged');
});

test('GrantBackoff: full jitter up to 30 s; too many requests and deadlines advance it twice as fast; too many requests raises the cap to 2 min', (t) => {
  const ceilings = (errs: unknown[]) => {
    const b = new GrantBackoff();
    // The ceiling of each step, seen as the max of many draws at that step.
    return errs.map((e, i) => {
      let max = 0;
      for (let k = 0; k < 400; k++) {
        const c = new GrantBackoff();
        for (let j = 0; j < i; j++) c.next(errs[j]);
        max = Math.max(max, c.next(e));
      }
      b.next(e);
      return max;
    });
  };
  const plain = ceilings(Array.from({ length: 10 }, () => new EtcdUnavailableError('down')));
  plain.forEach((m, i) => t.true(m <= Math.min(GRANT_BACKOFF_CAP_MS, 200 * 2 ** i), `step ${i}: ${m}`));
  t.true(plain[9]! > 20_000, `reaches the 30 s cap region (${plain[9]})`);
  const over = ceilings([new EtcdOverloadedError('too many requests'), new EtcdTimeoutError('deadline')]);
  t.true(over[0]! > 200 && over[0]! <= 400, `an overload starts at the second step (${over[0]})`);
  t.true(over[1]! > 800 && over[1]! <= 1_600, `and keeps advancing two steps (${over[1]})`);
  const slow = new GrantBackoff();
  for (let i = 0; i < 30; i++) t.true(slow.next(new EtcdTimeoutError('deadline')) <= GRANT_BACKOFF_CAP_MS, 'deadlines alone: 30 s at most');
  // Once etcd refused with `too many requests`, the cap is 2 minutes, whatever fails next.
  const b = new GrantBackoff();
  const draws = [b.next(new EtcdOverloadedError('too many requests'))];
  for (let i = 0; i < 400; i++) draws.push(b.next(new EtcdTimeoutError('deadline')));
  t.true(draws.every((d) => d <= GRANT_BACKOFF_OVERLOAD_CAP_MS));
  t.true(Math.max(...draws) > 100_000, `the overload cap is reached (${Math.max(...draws)} ms)`);
  b.reset();
  t.true(b.next() <= 200, 'reset starts from the base again');
  t.true(Array.from({ length: 30 }, () => b.next(new EtcdTimeoutError('deadline'))).every((d) => d <= GRANT_BACKOFF_CAP_MS), 'and the 30 s cap');
});

test('etcd down long enough for the backoff to grow to its cap: registered again within 2 s of etcd answering', async (t) => {
  const { etcd, store, keys, self, render } = await oneNode(t, '/t-backoff');
  const reg = new Registration(store, keys, { node: 'n1', ttl: 4, keepaliveIntervalMs: 1_333, keepaliveTimeoutMs: 600 }, self, render, createLogger('silent'));
  const ac = new AbortController();
  const registeredAt: number[] = [];
  const lost: number[] = [];
  reg.on('registered', () => registeredAt.push(Date.now()));
  reg.on('lost', () => lost.push(Date.now()));
  const running = reg.run(ac.signal);
  t.teardown(async () => {
    ac.abort();
    await running;
  });
  await waitFor(() => registeredAt.length === 1, { timeoutMs: 10_000, what: 'first registration' });

  await etcd.members[0]!.stop('SIGKILL');
  await waitFor(() => lost.length === 1, { timeoutMs: 10_000, what: 'registration lost by its own deadline' });
  // Failing for 7 s more: the backoff's ceiling grows past 3 s (the probes, not the backoff, end the wait).
  await new Promise((r) => setTimeout(r, 7_000));
  t.is(registeredAt.length, 1, 'no registration while etcd is down');
  await etcd.members[0]!.start();
  const answering = Date.now();
  await waitFor(() => registeredAt.length === 2, { timeoutMs: 6_000, intervalMs: 20, what: 'registered again' });
  const ms = registeredAt[1]! - answering;
  t.log(`registered again ${ms} ms after etcd answered`);
  // Expected ≤ ~1.8 s: gRPC's reconnect attempts (≤ 1 s apart) + the probe cadence (≤ 0.75 s) + two round
  // trips. Without the probes the wait would run out the backoff (up to its 30 s cap). The bound leaves
  // room for a loaded CI machine; the figure is logged above.
  t.true(ms <= 3_000, `registered again ${ms} ms after etcd answered`);
  t.true(reg.isRegistered());
});

// A backoff whose every delay is `ms`: what pauseBeforeGrant does with it is the unit under test.
class FixedBackoff extends GrantBackoff {
  constructor(private readonly ms: number) {
    super();
  }
  override next(): number {
    return this.ms;
  }
}

test('pauseBeforeGrant: a probe that times out means etcd is behind, not down: the backoff is waited out', async (t) => {
  let probes = 0;
  const t0 = Date.now();
  await pauseBeforeGrant(
    new FixedBackoff(1_500),
    new EtcdTimeoutError('lease grant: deadline exceeded'),
    async () => {
      probes++;
      return { answered: false, err: new EtcdTimeoutError('range: deadline exceeded') };
    },
    new AbortController().signal,
  );
  const ms = Date.now() - t0;
  // Taken for an outage, the wait would probe twice a second and end at the first read answered: a fleet
  // on an etcd that is behind would then grant past its backoff (10,000 nodes: docs/reliability.md).
  t.is(probes, 1, 'one probe, then no more');
  t.true(ms >= 1_450, `the whole backoff waited (${ms} ms)`);
});

test('pauseBeforeGrant: refused connections mean an outage: the first probe answered ends the wait', async (t) => {
  let probes = 0;
  const t0 = Date.now();
  await pauseBeforeGrant(
    new FixedBackoff(20_000),
    new EtcdUnavailableError('UNAVAILABLE: No connection established'),
    async () =>
      ++probes < 3 ? { answered: false, err: new EtcdUnavailableError('UNAVAILABLE: No connection established') } : { answered: true },
    new AbortController().signal,
  );
  const ms = Date.now() - t0;
  t.is(probes, 3);
  t.true(ms < 3_000, `ended by the third probe, not the 20 s backoff (${ms} ms)`);
});
