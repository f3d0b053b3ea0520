// Decode records read from etcd against the published JSON Schemas (schema/v1/*.json): one codec for every
// reader (CLI, client library, watcher, agent reading its own records back), so every reader accepts and
// refuses exactly the same values, and consumers in other languages can validate with the same files.
// Garbage never throws out of here: it comes back as a DecodeError value naming the key and the first
// failing JSON pointer, so one bad key cannot stop a reader. The value itself is never put in the message.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { DecodeError } from '../errors.js';
import { escapeText } from '../util/text.js';
import type { Keys, ParsedKey } from '../etcd/keys.js';
import type { KeyValue } from '../etcd/store.js';
import type {
  ConditionsRecord,
  EndpointRecord,
  EventRecord,
  HistoryRecord,
  MaintenanceRecord,
  NodeEvent,
  NodeIdentity,
  NodeRecord,
  ReactionRecord,
  StatusRecord,
} from '../types.js';
import type { NodeUsageRecord } from '../usage/record.js';
// The JSON files are the single source: bundled into dist/ by tsc and into the artifact by esbuild.
import defs from '../../schema/v1/defs.json' with { type: 'json' };
import endpoint from '../../schema/v1/endpoint.json' with { type: 'json' };
import nodeConditions from '../../schema/v1/node-conditions.json' with { type: 'json' };
import nodeEvent from '../../schema/v1/node-event.json' with { type: 'json' };
import nodeIdentity from '../../schema/v1/node-identity.json' with { type: 'json' };
import nodeLive from '../../schema/v1/node-live.json' with { type: 'json' };
import nodeMaintenance from '../../schema/v1/node-maintenance.json' with { type: 'json' };
import nodeUsage from '../../schema/v1/node-usage.json' with { type: 'json' };
import watcherElection from '../../schema/v1/watcher-election.json' with { type: 'json' };
import watcherEvent from '../../schema/v1/watcher-event.json' with { type: 'json' };
import watcherHistory from '../../schema/v1/watcher-history.json' with { type: 'json' };
import watcherReaction from '../../schema/v1/watcher-reaction.json' with { type: 'json' };
import watcherStatus from '../../schema/v1/watcher-status.json' with { type: 'json' };

/** Values larger than this are refused unread (a record is a few KiB at most). */
export const MAX_VALUE_BYTES = 256 * 1024;

/** `<prefix>/v1/watcher/election/<id>`: one running watcher (bound to its own lease). */
export interface ElectionRecord {
  schema: 1;
  id: string;
  pid: number;
}

/** Every record kind of docs/keys.md and the TypeScript shape its schema guarantees. */
export interface RecordTypes {
  'node-live': NodeRecord;
  'node-identity': NodeIdentity;
  'node-conditions': ConditionsRecord;
  'node-maintenance': MaintenanceRecord;
  'node-usage': NodeUsageRecord;
  endpoint: EndpointRecord;
  'node-event': EventRecord;
  'watcher-status': StatusRecord;
  'watcher-event': NodeEvent;
  'watcher-reaction': ReactionRecord;
  'watcher-election': ElectionRecord;
  'watcher-history': HistoryRecord;
}

/** One record kind; its schema is `schema/v1/<kind>.json`. */
export type RecordKind = keyof RecordTypes;

/** The published schema of each kind (and the shared definitions they refer to). */
export const SCHEMAS = {
  'node-live': nodeLive,
  'node-identity': nodeIdentity,
  'node-conditions': nodeConditions,
  'node-maintenance': nodeMaintenance,
  'node-usage': nodeUsage,
  endpoint,
  'node-event': nodeEvent,
  'watcher-status': watcherStatus,
  'watcher-event': watcherEvent,
  'watcher-reaction': watcherReaction,
  'watcher-election': watcherElection,
  'watcher-history': watcherHistory,
} as const satisfies Record<RecordKind, object>;

/** Every record kind. */
export const RECORD_KINDS = Object.keys(SCHEMAS) as RecordKind[];

// Compiled on first use: a CLI command that reads endpoints only pays for the endpoint schema.
let ajv: Ajv2020 | undefined;
const compiled = new Map<RecordKind, ValidateFunction>();

function validator(kind: RecordKind): ValidateFunction {
  let v = compiled.get(kind);
  if (!v) {
    if (!ajv) {
      // strict: a schema mistake (unknown keyword, bad pattern) fails at compile time, not silently.
      ajv = new Ajv2020({ strict: true, allErrors: false, inlineRefs: false, verbose: true, code: { optimize: false } });
      ajv.addSchema(defs);
      // Schemas that others refer to by URL must be known before those compile.
      ajv.addSchema(watcherEvent);
    }
    v = ajv.getSchema(SCHEMAS[kind].$id) ?? ajv.compile(SCHEMAS[kind]);
    compiled.set(kind, v);
  }
  return v;
}

/** Why `value` is not a valid record of `kind` (first failing JSON pointer and reason), or undefined when it is. */
export function problemOf(kind: RecordKind, value: unknown): string | undefined {
  const validate = validator(kind);
  if (validate(value)) return undefined;
  return describeError(validate.errors ?? []);
}

/** Decode one record of a known kind: size cap, UTF-8 JSON, then the kind's schema. */
export function decodeRecord<K extends RecordKind>(kind: K, kv: KeyValue): RecordTypes[K] | DecodeError {
  if (kv.tooLarge) return new DecodeError(kv.key, 'value too large');
  if (kv.value.length > MAX_VALUE_BYTES) return new DecodeError(kv.key, `value too large (${kv.value.length} bytes)`);
  let v: unknown;
  try {
    v = JSON.parse(kv.value.toString('utf8'));
  } catch (err) {
    return new DecodeError(kv.key, 'value is not JSON', { cause: err });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return new DecodeError(kv.key, 'value is not a JSON object');
  const schema = (v as Record<string, unknown>).schema;
  if (schema !== 1) return new DecodeError(kv.key, `unknown schema version ${typeof schema === 'number' ? schema : typeof schema}`);
  const problem = problemOf(kind, v);
  return problem === undefined ? (v as RecordTypes[K]) : new DecodeError(kv.key, problem);
}

/** The record kind stored under a parsed key, or undefined for keys that hold no beacon record. */
export function kindOfKey(k: ParsedKey): RecordKind | undefined {
  switch (k.kind) {
    case 'live':
      return 'node-live';
    case 'identity':
      return 'node-identity';
    case 'conditions':
      return 'node-conditions';
    case 'maintenance':
      return 'node-maintenance';
    case 'usage':
      return 'node-usage';
    case 'endpoint':
      return 'endpoint';
    case 'event':
      return 'node-event';
    case 'status':
      return 'watcher-status';
    case 'watcher-event':
      return 'watcher-event';
    case 'reaction':
      return 'watcher-reaction';
    case 'election':
      return 'watcher-election';
    case 'history':
      return 'watcher-history';
    case 'unknown':
      return undefined;
  }
}

/** A decoded record with what its key says it is. */
export type KeyedRecord = { [K in RecordKind]: { kind: K; key: ParsedKey; record: RecordTypes[K] } }[RecordKind];

/**
 * Decode a key-value wherever it sits: the schema of the kind its key names, then the record bound to its
 * key (names in the record equal the names in the key; a watcher event carries a lease, as the watcher
 * writes it). Undefined for a key that is not beacon's (callers decide whether that is worth a word).
 */
export function decodeKey(keys: Keys, kv: KeyValue): KeyedRecord | DecodeError | undefined {
  const key = keys.parse(kv.key);
  const kind = kindOfKey(key);
  if (!kind) return undefined;
  const record = decodeRecord(kind, kv);
  if (record instanceof DecodeError) return record;
  const mismatch = bindingProblem(key, record as unknown as Record<string, unknown>, kv);
  if (mismatch) return new DecodeError(kv.key, mismatch);
  return { kind, key, record } as KeyedRecord;
}

// Whether a valid record belongs under its key: a record copied or written under another name is not that name's.
function bindingProblem(k: ParsedKey, r: Record<string, unknown>, kv: KeyValue): string | undefined {
  switch (k.kind) {
    case 'live':
    case 'identity':
      return r.name === k.node ? undefined : 'name does not match key';
    case 'conditions':
    case 'maintenance':
    case 'usage':
    case 'status':
    case 'history':
      return r.node === k.node ? undefined : 'node does not match key';
    case 'endpoint':
      if (r.service !== k.service || r.node !== k.node) return 'record does not match key';
      return r.id === `${k.node}/${k.service}` ? undefined : 'id does not match key';
    case 'event':
      return r.node === k.node && r.id === k.id ? undefined : 'record does not match key';
    case 'watcher-event':
      if (r.id !== k.id) return 'id does not match key';
      // The watcher writes every event under its retention lease: one without a lease is not the watcher's.
      return kv.lease ? undefined : 'not bound to a lease (not written by the watcher)';
    case 'reaction':
    case 'election':
      return r.id === k.id ? undefined : 'id does not match key';
    default:
      return undefined;
  }
}

/** Decode a node live record. */
export function decodeNode(kv: KeyValue): NodeRecord | DecodeError {
  return decodeRecord('node-live', kv);
}

/** Decode a node identity record. */
export function decodeIdentity(kv: KeyValue): NodeIdentity | DecodeError {
  return decodeRecord('node-identity', kv);
}

/** Decode an endpoint record. */
export function decodeEndpoint(kv: KeyValue): EndpointRecord | DecodeError {
  return decodeRecord('endpoint', kv);
}

/** Encode any record as the JSON stored in etcd (stable field order as built). */
export function encode(record: object): string {
  return JSON.stringify(record);
}

// ---- error text: a JSON pointer and a reason, never the offending value ----

const MAX_PROBLEM_CHARS = 300;

// The error to report: the first, except a `null` branch of an `A or null` field (the other branch says more).
function describeError(errors: readonly ErrorObject[]): string {
  const e = errors.find((x) => !(x.keyword === 'type' && (x.params as { type?: string }).type === 'null')) ?? errors[0];
  if (!e) return 'invalid record';
  const pointer = e.instancePath || '/';
  // A key of a map that fails its definition: ajv reports the pattern first, then `propertyNames`.
  if (e.keyword === 'pattern' && errors.some((x) => x.keyword === 'propertyNames' && x.instancePath === e.instancePath)) {
    const def = DEF_NAMES.get(e.parentSchema as object);
    return escapeText(`${pointer}: has a key that is not ${def ? `a valid ${def} (schema/v1/defs.json)` : 'allowed'}`, MAX_PROBLEM_CHARS);
  }
  return escapeText(`${pointer}: ${reasonOf(e)}`, MAX_PROBLEM_CHARS);
}

// The shared definitions by identity: ajv's verbose errors carry the schema object that failed.
const DEF_NAMES = new Map<object, string>(Object.entries(defs.$defs).map(([name, schema]) => [schema as object, name]));

function reasonOf(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'pattern': {
      // Name the definition the value fails (`ip`, `lease`, `name`...) rather than print a long regex.
      const def = DEF_NAMES.get(e.parentSchema as object);
      const what = def ? `a valid ${def} (schema/v1/defs.json)` : 'of the allowed form';
      return e.propertyName !== undefined ? `has a key that is not ${what}` : `must be ${what}`;
    }
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'propertyNames':
      return 'has a key that is not allowed';
    default:
      return e.message ?? e.keyword;
  }
}
