// The records the agent writes, one builder each (docs/keys.md): the node's live record, an endpoint,
// a problem event; and decoders (through the one codec) for reading its own previous records back at
// start: conditions, the maintenance marker, events (a record that fails is ignored, never fatal).
import { CHECK_OUTPUT_CAP_BYTES, type EndpointHealthState } from '../checks/health.js';
import { capOutput } from '../util/output.js';
import type { ServiceConfig } from '../config/types.js';
import { DecodeError } from '../errors.js';
import type { KeyValue } from '../etcd/store.js';
import type { SelectedAddress } from '../facts/address.js';
import { decodeRecord, type RecordTypes } from '../registry/codec.js';
import {
  SCHEMA_VERSION,
  type ConditionsRecord,
  type EndpointRecord,
  type EventRecord,
  type MaintenanceRecord,
  type NodeFacts,
  type NodeRecord,
  type NodeUtilization,
  type ProblemEvent,
} from '../types.js';

// The shapes are shared vocabulary (src/types.ts: the codec reads them too).
export type { ConditionsRecord, EventRecord, MaintenanceRecord } from '../types.js';
import { VERSION } from '../version.js';

/** What the node's live record is built from (the agent's state, or `beacon validate`'s worst case). */
export interface NodeRecordInput {
  name: string;
  phase: 'up' | 'leaving';
  identity: { machineId: string; bootId: string };
  address: SelectedAddress;
  labels: Record<string, string>;
  facts: NodeFacts;
  utilization?: NodeUtilization;
  startedAt: string;
  registeredAt: string;
  lease: { id: string; ttl: number };
}

/** `<prefix>/v1/nodes/<node>/live`: the node's live record (the one builder, shared by the agent and validate). */
export function nodeRecord(i: NodeRecordInput): NodeRecord {
  return {
    schema: SCHEMA_VERSION,
    name: i.name,
    state: i.phase === 'leaving' ? 'leaving' : 'up',
    machineId: i.identity.machineId,
    bootId: i.identity.bootId,
    address: i.address.address,
    addressSource: i.address.source,
    addresses: i.address.addresses,
    labels: i.labels,
    facts: i.facts,
    ...(i.utilization ? { utilization: i.utilization } : {}),
    agentVersion: VERSION,
    pid: process.pid,
    startedAt: i.startedAt,
    registeredAt: i.registeredAt,
    lease: i.lease.id,
    ttl: i.lease.ttl,
  };
}

/**
 * `<prefix>/v1/endpoints/<service>/<node>`: one service's endpoint record. Fixed field order, so an
 * unchanged endpoint makes the same string and causes no write.
 */
export function endpointRecord(svc: ServiceConfig, node: string, nodeAddress: string, lease: string, h: EndpointHealthState): EndpointRecord {
  return {
    schema: SCHEMA_VERSION,
    id: `${node}/${svc.name}`,
    service: svc.name,
    node,
    address: svc.address ?? nodeAddress,
    port: svc.port,
    protocol: svc.protocol,
    tags: svc.tags,
    meta: svc.meta,
    health: h.health,
    output: h.output,
    since: h.since,
    lease,
    // Always present (empty without checks), so a reader can tell "no checks" from an older agent's record.
    // A default check name holds the whole target (an exec's argv): capped like the output.
    checks: (h.checks ?? []).map((c) => ({ id: c.id, name: capOutput(c.name, CHECK_OUTPUT_CAP_BYTES), status: c.status, output: c.output, since: c.since })),
  };
}

/** The stored form of a monitor event. */
export function eventRecord(node: string, e: ProblemEvent): EventRecord {
  return {
    schema: SCHEMA_VERSION,
    node,
    id: e.id,
    source: e.source,
    reason: e.reason,
    message: e.message,
    count: e.count,
    firstTime: e.firstTime,
    lastTime: e.lastTime,
    severity: e.severity,
  };
}

/** Told of a record of the agent's own that fails the codec (it is then ignored). */
export type RecordError = (err: DecodeError) => void;

// Through the one codec (schema/v1/): a record the agent cannot trust is ignored, never fatal.
function read<K extends 'node-conditions' | 'node-maintenance' | 'node-event'>(
  kind: K,
  kv: KeyValue | undefined,
  onError: RecordError | undefined,
): RecordTypes[K] | undefined {
  if (!kv) return undefined;
  const r = decodeRecord(kind, kv);
  if (r instanceof DecodeError) {
    onError?.(r);
    return undefined;
  }
  return r;
}

/** A conditions record, or undefined for anything else (absent, or failing schema/v1/node-conditions.json). */
export function decodeConditions(kv: KeyValue | undefined, onError?: RecordError): ConditionsRecord | undefined {
  return read('node-conditions', kv, onError);
}

/** A maintenance record, or undefined (absent, or failing schema/v1/node-maintenance.json). */
export function decodeMaintenance(kv: KeyValue | undefined, onError?: RecordError): MaintenanceRecord | undefined {
  return read('node-maintenance', kv, onError);
}

/** The `lastTime` of an event record in ms, or undefined. */
export function eventLastTime(kv: KeyValue, onError?: RecordError): number | undefined {
  const t = Date.parse(read('node-event', kv, onError)?.lastTime ?? '');
  return Number.isNaN(t) ? undefined : t;
}
