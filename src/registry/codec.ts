// Decode records read from etcd. Garbage never throws out of here: it comes back as a DecodeError
// value, so one bad key cannot stop a reader (the watcher, the CLI, the client library).
import { DecodeError } from '../errors.js';
import type { KeyValue } from '../etcd/store.js';
import { SCHEMA_VERSION, type EndpointRecord, type NodeIdentity, type NodeRecord } from '../types.js';

/** Values larger than this are refused unread (a record is a few KiB at most). */
export const MAX_VALUE_BYTES = 256 * 1024;

type Check = Record<string, 'string' | 'number' | 'object' | 'array' | 'boolean' | 'object?'>;

/** Decode any beacon record: size cap, JSON object, schema version, required field types (the watcher's records too). */
export function decode<T>(kv: KeyValue, required: Check): T | DecodeError {
  if (kv.value.length > MAX_VALUE_BYTES) {
    return new DecodeError(kv.key, `value too large (${kv.value.length} bytes)`);
  }
  let v: unknown;
  try {
    v = JSON.parse(kv.value.toString('utf8'));
  } catch (err) {
    return new DecodeError(kv.key, 'value is not JSON', { cause: err });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return new DecodeError(kv.key, 'value is not a JSON object');
  }
  const o = v as Record<string, unknown>;
  if (o.schema !== SCHEMA_VERSION) {
    return new DecodeError(kv.key, `unknown schema version ${JSON.stringify(o.schema)}`);
  }
  for (const [field, type] of Object.entries(required)) {
    const x = o[field];
    const ok =
      type === 'array' ? Array.isArray(x)
      : type === 'object' ? typeof x === 'object' && x !== null && !Array.isArray(x)
      : type === 'object?' ? x === null || (typeof x === 'object' && !Array.isArray(x))
      : typeof x === type;
    if (!ok) return new DecodeError(kv.key, `field ${field} is not ${type === 'object?' ? 'an object or null' : type}`);
  }
  return o as T;
}

/** Decode a node live record. */
export function decodeNode(kv: KeyValue): NodeRecord | DecodeError {
  return decode<NodeRecord>(kv, {
    name: 'string', state: 'string', bootId: 'string', address: 'string', labels: 'object', lease: 'string',
  });
}

/** Decode a node identity record. */
export function decodeIdentity(kv: KeyValue): NodeIdentity | DecodeError {
  return decode<NodeIdentity>(kv, { name: 'string', bootId: 'string', lease: 'string', left: 'object?' });
}

/** Decode an endpoint record. */
export function decodeEndpoint(kv: KeyValue): EndpointRecord | DecodeError {
  return decode<EndpointRecord>(kv, {
    service: 'string', node: 'string', address: 'string', port: 'number', health: 'string',
  });
}

/** Encode any record as the JSON stored in etcd (stable field order as built). */
export function encode(record: object): string {
  return JSON.stringify(record);
}
