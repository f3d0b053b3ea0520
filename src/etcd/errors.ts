// Translate etcd3/gRPC errors into beacon's typed errors; the only place that knows etcd3's classes.
import {
  ClientClosedError,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  GRPCInvalidArgumentError,
  GRPCUnauthenticatedError,
} from 'etcd3';
import {
  BeaconError,
  EtcdOverloadedError,
  EtcdRequestError,
  EtcdTimeoutError,
  EtcdUnavailableError,
  LeaseExistsError,
  LeaseLostError,
} from '../errors.js';

/** Map any error thrown by etcd3 to a BeaconError subclass (keeping it as `cause`). */
export function translate(err: unknown, what: string): BeaconError {
  if (err instanceof BeaconError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof EtcdLeaseInvalidError || /requested lease not found/.test(msg)) {
    return new LeaseLostError(`${what}: lease not found`, { cause: err });
  }
  if (/lease already exists/.test(msg)) return new LeaseExistsError(`${what}: ${msg}`, { cause: err });
  // etcd's messages are its API here (etcd3 has no classes for them): ErrTooManyRequests, ErrTimeout*.
  if (/etcdserver: too many requests/.test(msg)) return new EtcdOverloadedError(`${what}: ${msg}`, { cause: err });
  if (err instanceof GRPCDeadlineExceededError || /etcdserver: request timed out|DEADLINE_EXCEEDED|deadline exceeded/i.test(msg)) {
    return new EtcdTimeoutError(`${what}: ${msg}`, { cause: err });
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
  return new EtcdUnavailableError(`${what}: ${msg}`, { cause: err });
}

/** Run an etcd call and translate whatever it throws. */
export async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translate(err, what);
  }
}
