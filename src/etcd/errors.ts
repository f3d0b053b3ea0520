// Translate etcd3/gRPC errors into beacon's typed errors; the only place that knows etcd3's classes.
import {
  ClientClosedError,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  GRPCInvalidArgumentError,
  GRPCUnauthenticatedError,
} from 'etcd3';
import { EtcdRequestError, EtcdUnavailableError, LeaseLostError, BeaconError } from '../errors.js';

/** Map any error thrown by etcd3 to a BeaconError subclass (keeping it as `cause`). */
export function translate(err: unknown, what: string): BeaconError {
  if (err instanceof BeaconError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof EtcdLeaseInvalidError || /requested lease not found/.test(msg)) {
    return new LeaseLostError(`${what}: lease not found`, { cause: err });
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
