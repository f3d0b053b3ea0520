// Error translation: "etcd unavailable" (retryable, exit 4 in the CLI) only for etcd not answering. A
// message over a size limit, etcd out of space, a malformed lease id from a record or a bug on this side
// are other errors, and retrying does not fix them.
import test from 'ava';
import {
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  GRPCResourceExhastedError,
  GRPCUnavailableError,
} from 'etcd3';
import {
  EtcdMessageTooLargeError,
  EtcdRequestError,
  EtcdUnavailableError,
  InvalidLeaseIdError,
  LeaseLostError,
  isRetryable,
} from '../../src/errors.js';
import { translate } from '../../src/etcd/errors.js';
import { leaseFromHex, leaseToHex, Store } from '../../src/etcd/store.js';
import { freePort } from '../helpers/etcd.js';

/** A raw grpc-js error, as a stream's 'error' hands it to etcd3's watchers before any cast. */
function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details });
}

test('a response over the receive limit is EtcdMessageTooLargeError, cast by etcd3 or raw from a stream', (t) => {
  const cast = translate(new GRPCResourceExhastedError('8 RESOURCE_EXHAUSTED: Received message larger than max (5872331 vs 4194304)'), 'list /p/');
  const raw = translate(grpcError(8, 'RESOURCE_EXHAUSTED: Received message larger than max (5872331 vs 4194304)'), 'watch');
  for (const e of [cast, raw]) {
    t.true(e instanceof EtcdMessageTooLargeError);
    t.false(e instanceof EtcdUnavailableError);
    t.false(isRetryable(e));
  }
  t.regex(cast.message, /^list \/p\/: .*larger than max/);
  t.true(cast.cause instanceof GRPCResourceExhastedError);
  // etcd's side of the same limit (a request over its --max-request-bytes plus gRPC's overhead).
  t.true(translate(grpcError(8, 'grpc: received message larger than max (3145770 vs. 2097152)'), 'put') instanceof EtcdMessageTooLargeError);
});

test('the other RESOURCE_EXHAUSTED answers: throttling may pass (retryable), no space is not an outage', (t) => {
  const busy = translate(new GRPCResourceExhastedError('etcdserver: too many requests'), 'put');
  t.true(busy instanceof EtcdUnavailableError);
  t.true(isRetryable(busy));
  const full = translate(new GRPCResourceExhastedError('etcdserver: mvcc: database space exceeded'), 'put');
  t.true(full instanceof EtcdRequestError);
  t.false(isRetryable(full));
});

test('unavailable stays unavailable; refusals and local bugs are not', (t) => {
  for (const e of [new GRPCUnavailableError('14 UNAVAILABLE: Connection dropped'), new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED'), new Error('keepalive deadline exceeded')]) {
    const b = translate(e, 'x');
    t.true(b instanceof EtcdUnavailableError, e.message);
    t.true(isRetryable(b));
  }
  t.true(translate(new EtcdPermissionDeniedError('etcdserver: permission denied'), 'x') instanceof EtcdRequestError);
  t.true(translate(new Error('etcdserver: requested lease not found'), 'x') instanceof LeaseLostError);
  // BigInt('0xzz') in a request builder used to come out as "etcd unavailable" and was retried forever.
  let syntax: unknown;
  try {
    BigInt('0xzz');
  } catch (err) {
    syntax = err;
  }
  t.true(syntax instanceof SyntaxError);
  const bug = translate(syntax, 'lease timetolive');
  t.true(bug instanceof EtcdRequestError);
  t.false(isRetryable(bug));
  t.true(translate(new TypeError('x is not a function'), 'x') instanceof EtcdRequestError);
});

test('leaseFromHex: 1 to 16 hex digits, anything else a typed, non-retryable error', (t) => {
  t.is(leaseFromHex('1'), '1');
  t.is(leaseFromHex('694d7a7bb1c2a40f'), BigInt('0x694d7a7bb1c2a40f').toString());
  t.is(leaseFromHex('ABCDEF'), String(0xabcdef));
  t.is(leaseToHex(leaseFromHex('7fffffffffffffff')), '7fffffffffffffff');
  for (const bad of ['', 'zz', '0x1f', '-1', ' 1', '1\n', '1f ', '0'.repeat(17), '1e3.5', '\u001b[31m', 'f'.repeat(10_000)]) {
    const err = t.throws(() => leaseFromHex(bad), { instanceOf: InvalidLeaseIdError }, JSON.stringify(bad.slice(0, 20)));
    t.false(isRetryable(err));
    t.true(err!.message.length < 200, 'the message shows a bounded value');
  }
  t.throws(() => leaseFromHex(17 as unknown as string), { instanceOf: InvalidLeaseIdError });
});

test('a store call with a malformed lease id fails with InvalidLeaseIdError, before contacting etcd', async (t) => {
  // Nothing listens here: the id is refused before any request, so this is not "etcd unavailable".
  const store = Store.connect({ endpoints: [`http://127.0.0.1:${await freePort()}`], requestTimeoutMs: 2_000, dialTimeoutMs: 1_000 });
  t.teardown(() => store.close());
  await t.throwsAsync(store.timeToLive('zz'), { instanceOf: InvalidLeaseIdError });
  await t.throwsAsync(store.revoke('not-hex'), { instanceOf: InvalidLeaseIdError });
  await t.throwsAsync(store.put('/k', 'v', '12345678901234567'), { instanceOf: InvalidLeaseIdError });
  await t.throwsAsync(store.keepAliveOnce('0xff', 500), { instanceOf: InvalidLeaseIdError });
});
