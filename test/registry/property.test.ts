// Property-based: whatever bytes sit under any key, the decoders return a record with the field types
// readers rely on, or a DecodeError value for that key; they never throw.
import test from 'ava';
import fc from 'fast-check';
import { DecodeError } from '../../src/errors.js';
import { decodeEndpoint, decodeIdentity, decodeNode, decodeRecord, MAX_VALUE_BYTES, problemOf, RECORD_KINDS } from '../../src/registry/codec.js';
import type { KeyValue } from '../../src/etcd/store.js';
import { endpointRecord, identityRecord, liveRecord } from '../helpers/records.js';

// BEACON_PROP_RUNS=5000 for a longer hunt; CI keeps the default fast.
const RUNS = Number(process.env.BEACON_PROP_RUNS ?? 300);

const kv = (key: string, value: Buffer): KeyValue => ({ key, value, createRevision: '1', modRevision: '1', version: '1', lease: '' });

const decoders = [
  [decodeNode, { name: 'string', state: 'string', bootId: 'string', address: 'string', labels: 'object', lease: 'string' }],
  [decodeIdentity, { name: 'string', bootId: 'string', lease: 'string', left: 'object?' }],
  [decodeEndpoint, { service: 'string', node: 'string', address: 'string', port: 'number', health: 'string' }],
] as const;

// One object that is a valid live record, identity and endpoint at once (each schema allows the others'
// fields): a mutation of it exercises every decoder's accept path as well as its refusals.
const VALID: Record<string, unknown> = { ...endpointRecord(), ...identityRecord(), ...liveRecord(), id: 'node1/web', node: 'node1' };

function typeOk(v: unknown, type: string): boolean {
  if (type === 'object') return typeof v === 'object' && v !== null && !Array.isArray(v);
  if (type === 'object?') return v === null || (typeof v === 'object' && !Array.isArray(v));
  return typeof v === type;
}

/** Decode with every decoder; fail unless each gives a well-typed record or a DecodeError naming the key. */
function check(key: string, value: Buffer): void {
  for (const [decode, fields] of decoders) {
    const r = decode(kv(key, value));
    if (r instanceof DecodeError) {
      if (r.key !== key) throw new Error(`DecodeError names ${r.key}, not ${key}`);
      continue;
    }
    const rec = r as unknown as Record<string, unknown>;
    if (rec.schema !== 1) throw new Error(`decoded with schema ${String(rec.schema)}`);
    for (const [f, type] of Object.entries(fields)) {
      if (!typeOk(rec[f], type)) throw new Error(`${decode.name}: field ${f} is ${JSON.stringify(rec[f])}, not ${type}`);
    }
  }
}

const anyKey = fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.constantFrom('/beacon/v1/nodes/n1/live', '', '/', '\u0000', '/beacon/v1/../../etc'));

test('arbitrary bytes under any key: a record or a DecodeError, never a throw', (t) => {
  fc.assert(fc.property(anyKey, fc.uint8Array({ maxLength: 512 }), (key, bytes) => check(key, Buffer.from(bytes))), { numRuns: RUNS });
  t.pass();
});

test('arbitrary JSON and JSON-looking text: a record or a DecodeError', (t) => {
  const text = fc.oneof(fc.json(), fc.string({ unit: 'grapheme', maxLength: 200 }), fc.json().map((j) => `${j}${j}`));
  fc.assert(fc.property(anyKey, text, (key, s) => check(key, Buffer.from(s, 'utf8'))), { numRuns: RUNS });
  t.pass();
});

test('almost-valid records (one field dropped or replaced by anything): a well-typed record or a DecodeError', (t) => {
  const mutation = fc.record({
    field: fc.constantFrom(...Object.keys(VALID), '__proto__', 'constructor'),
    value: fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }),
  });
  fc.assert(
    fc.property(anyKey, fc.array(mutation, { minLength: 1, maxLength: 3 }), (key, muts) => {
      const rec: Record<string, unknown> = { ...VALID };
      for (const m of muts) {
        if (m.value === undefined) delete rec[m.field];
        else rec[m.field] = m.value;
      }
      // JSON.stringify drops a `__proto__` own key set this way; write it as text so the decoder sees it.
      const text = JSON.stringify(rec).replace(/^\{/, muts.some((m) => m.field === '__proto__') ? '{"__proto__":{"schema":2},' : '{');
      check(key, Buffer.from(text));
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('the merged fixture is accepted by every decoder (so the mutations start from valid)', (t) => {
  for (const [decode] of decoders) t.false(decode(kv('/beacon/v1/nodes/node1/live', Buffer.from(JSON.stringify(VALID)))) instanceof DecodeError, decode.name);
});

test('oversized and deeply nested values are refused as values', (t) => {
  const key = '/beacon/v1/nodes/n1/live';
  const huge = Buffer.alloc(MAX_VALUE_BYTES + 1, 0x7b);
  const deep = Buffer.from(`{"schema":1,"labels":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`);
  for (const v of [huge, deep]) {
    for (const [decode] of decoders) t.true(decode(kv(key, v)) instanceof DecodeError, decode.name);
  }
});

test('every record kind: arbitrary JSON values never throw, and what decodes passes its schema', (t) => {
  fc.assert(
    fc.property(fc.constantFrom(...RECORD_KINDS), fc.jsonValue({ maxDepth: 4 }), fc.boolean(), (kind, value, withSchema) => {
      const v = withSchema && typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...value, schema: 1 } : value;
      const r = decodeRecord(kind, kv('/k', Buffer.from(JSON.stringify(v) ?? 'null')));
      if (!(r instanceof DecodeError) && problemOf(kind, r) !== undefined) throw new Error(`${kind}: decoded a value its schema refuses`);
    }),
    { numRuns: RUNS },
  );
  t.pass();
});
