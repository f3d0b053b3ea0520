// Translate etcd3/gRPC errors into beacon's typed errors; the only place that knows etcd3's classes.
import {
  ClientClosedError,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  GRPCInvalidArgumentError,
  GRPCResourceExhastedError,
  GRPCUnauthenticatedError,
} from 'etcd3';
import {
  BeaconError,
  EtcdMessageTooLargeError,
  EtcdOverloadedError,
  EtcdRequestError,
  EtcdTimeoutError,
  EtcdUnavailableError,
  LeaseExistsError,
  LeaseLostError,
} from '../errors.js';

// gRPC status RESOURCE_EXHAUSTED: etcd3 casts it for calls, but a stream's error reaches its watchers raw.
const GRPC_RESOURCE_EXHAUSTED = 8;

/** Map any error thrown by etcd3 to a BeaconError subclass (keeping it as `cause`). */
export function translate(err: unknown, what: string): BeaconError {
  if (err instanceof BeaconError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof EtcdLeaseInvalidError || /requested lease not found/.test(msg)) {
    return new LeaseLostError(`${what}: lease not found`, { cause: err });
  }
  if (/lease already exists/.test(msg)) return new LeaseExistsError(`${what}: ${msg}`, { cause: err });
  if (err instanceof GRPCResourceExhastedError || (err as { code?: unknown } | null)?.code === GRPC_RESOURCE_EXHAUSTED) {
    return resourceExhausted(err, what, msg);
  }
  // etcd's messages are its API here (etcd3 has no classes for them): ErrTooManyRequests, ErrTimeout*.
  if (/etcdserver: too many requests/.test(msg)) return new EtcdOverloadedError(`${what}: ${msg}`, { cause: err });
  if (err instanceof GRPCDeadlineExceededError || /etcdserver: request timed out|DEADLINE_EXCEEDED|deadline exceeded/i.test(msg)) {
    return new EtcdTimeoutError(`${what}: ${msg}`, { cause: err });
  }
  // etcd's own words name no setting ("3 INVALID_ARGUMENT: etcdserver: user name is empty"): say which one.
  if (/user name is empty/.test(msg)) {
    return new EtcdRequestError(`${what}: etcd has authentication on and no user was given: set etcd.username and etcd.password (or $ETCDCTL_USER)`, { cause: err });
  }
  if (err instanceof EtcdAuthenticationFailedError || /authentication failed, invalid user ID or password/.test(msg)) {
    return new EtcdRequestError(`${what}: etcd refused the user name or password: check etcd.username and etcd.password (or $ETCDCTL_USER)`, { cause: err });
  }
  if (
    err instanceof EtcdPermissionDeniedError ||
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof EtcdInvalidAuthTokenError ||
    err instanceof GRPCUnauthenticatedError ||
    err instanceof GRPCInvalidArgumentError ||
    err instanceof ClientClosedError
  ) {
    return new EtcdRequestError(`${what}: ${msg}`, { cause: err });
  }
  // A bug or a bad argument on this side (a SyntaxError from parsing an id, a TypeError): etcd was never
  // asked, so it is not "unavailable", and retrying cannot fix it.
  if (err instanceof SyntaxError || err instanceof TypeError || err instanceof RangeError) {
    return new EtcdRequestError(`${what}: ${msg}`, { cause: err });
  }
  return new EtcdUnavailableError(`${what}: ${msg}`, { cause: err });
}

// RESOURCE_EXHAUSTED covers three unrelated things; gRPC gives no finer code, so its message tells them apart.
// - A message over a size limit: grpc-js's "Received message larger than max" (a response over our receive
//   limit) or grpc-go's "received message larger than max" / "trying to send message larger than max"
//   (etcd's side). The same call fails the same way every time.
// - etcd throttling ("etcdserver: too many requests"): it sheds load; a later retry may pass.
// - etcd out of space ("mvcc: database space exceeded", the NOSPACE alarm): writes fail until an operator
//   compacts and defragments; etcd answers, so this is not an outage.
function resourceExhausted(err: unknown, what: string, msg: string): BeaconError {
  if (/message larger than max/i.test(msg)) return new EtcdMessageTooLargeError(`${what}: ${msg}`, { cause: err });
  // etcd's ErrTooManyRequests is RESOURCE_EXHAUSTED too: overloaded, retryable (EtcdOverloadedError is an EtcdUnavailableError).
  if (/too many requests/i.test(msg)) return new EtcdOverloadedError(`${what}: ${msg}`, { cause: err });
  return new EtcdRequestError(`${what}: ${msg}`, { cause: err });
}

/** Run an etcd call and translate whatever it throws. */
export async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translate(err, what);
  }
}

/** Whether etcd refused a call for want of permission (the user authenticated; its role lacks the key). */
export function isPermissionDenied(err: unknown): boolean {
  const cause = err instanceof BeaconError ? err.cause : err;
  return cause instanceof EtcdPermissionDeniedError || /permission denied/.test(String((cause as Error | undefined)?.message));
}
