// Typed errors: callers act on the class, never on the message. Foreign errors travel as `cause`.
import { escapeText } from './util/text.js';

/** Base of every error beacon throws on purpose. */
export class BeaconError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A config value is wrong: names the field (dotted path) and the offending value. */
export class ConfigError extends BeaconError {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    // A missing value has nothing to show: `services[0].port: is required`.
    super(value === undefined ? `${field}: ${problem}` : `${field}: ${problem} (got ${showValue(value)})`, options);
  }
}

/** Several config problems found in one pass; `errors` lists them all, field/value/problem are the first one's. */
export class ConfigErrors extends ConfigError {
  constructor(readonly errors: readonly ConfigError[]) {
    super(errors[0].field, errors[0].value, errors[0].problem);
    this.message = `${errors.length} config problems:\n${errors.map((e) => `  ${e.message}`).join('\n')}`;
  }
}

/** etcd did not answer in time or refused the connection; retrying later may work. */
export class EtcdUnavailableError extends BeaconError {}

/** etcd answered with an error that retrying will not fix (permission, bad request). */
export class EtcdRequestError extends BeaconError {}

/**
 * A gRPC message was over a size limit: a response over this client's receive limit, or a request over
 * etcd's. Sending the same call again fails the same way; Store.list pages around it.
 */
export class EtcdMessageTooLargeError extends BeaconError {}

/** A lease id is not 1 to 16 hex digits (ids reach the store from records read back from etcd). */
export class InvalidLeaseIdError extends BeaconError {
  constructor(readonly lease: unknown) {
    super(`lease id ${showValue(lease)} is not 1 to 16 hex digits`);
  }
}

/** The lease is gone on the server (expired or revoked). */
export class LeaseLostError extends BeaconError {}

/** Another live lease already holds this node name. */
export class NameConflictError extends BeaconError {
  constructor(
    readonly node: string,
    readonly holderLease: string,
    readonly holder: string,
  ) {
    super(`node name ${JSON.stringify(node)} is held by another live lease ${holderLease} (${holder})`);
  }
}

/**
 * A stored value could not be decoded (garbage bytes, bad JSON, unknown schema, a field the schema
 * refuses). `key` is the raw key; the message has it escaped and capped (keys are untrusted too) and
 * never contains the value.
 */
export class DecodeError extends BeaconError {
  constructor(
    readonly key: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${escapeText(key)}: ${escapeText(problem)}`, options);
  }
}

/** Whether retrying the same operation later may succeed. */
export function isRetryable(err: unknown): boolean {
  return err instanceof EtcdUnavailableError;
}

/** A short, bounded rendering of a config value for error messages. */
export function showValue(value: unknown): string {
  let s: string;
  try {
    s = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * etcd answered but refused to take more work (`etcdserver: too many requests`: its apply loop is more
 * than 5,000 entries behind). The request was not applied; a caller should slow down, not retry at once.
 */
export class EtcdOverloadedError extends EtcdUnavailableError {}

/**
 * A request's deadline passed (client side, or etcd's own `request timed out`): etcd may still apply
 * it later. A write or grant with this outcome is unknown, not failed.
 */
export class EtcdTimeoutError extends EtcdUnavailableError {}

/** A lease grant named an id that etcd already holds (a grant of ours that landed after its deadline). */
export class LeaseExistsError extends EtcdRequestError {}
