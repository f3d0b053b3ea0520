// The codec: every record kind against its published schema (schema/v1/). Good records pass; each wrong
// type, missing field, out-of-range number, bad charset or oversized value fails with a reason that names
// the JSON pointer, and garbage never throws out of it: it comes back as a DecodeError value.
import test from 'ava';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { DecodeError } from '../../src/errors.js';
import { Keys } from '../../src/etcd/keys.js';
import type { KeyValue } from '../../src/etcd/store.js';
import { decodeEndpoint, decodeIdentity, decodeKey, decodeNode, decodeRecord, MAX_VALUE_BYTES, problemOf, RECORD_KINDS } from '../../src/registry/codec.js';
import { endpointRecord, identityRecord, LEASE, liveRecord } from '../helpers/records.js';

const kv = (value: Buffer | string | object, key = '/beacon/v1/nodes/node1/live', lease = ''): KeyValue => ({
  key,
  value: Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  createRevision: '1',
  modRevision: '1',
  version: '1',
  lease,
});

const garbage: [string, Buffer | string, RegExp][] = [
  ['random bytes', Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x7b]), /not JSON/],
  ['invalid JSON', '{"schema":1,', /not JSON/],
  ['a JSON array', '[1,2,3]', /not a JSON object/],
  ['JSON null', 'null', /not a JSON object/],
  ['unknown schema version', '{"schema":2,"name":"n1"}', /unknown schema version 2/],
  ['missing schema', '{"name":"n1"}', /unknown schema version undefined/],
  ['wrong field type', '{"schema":1,"name":"n1","state":"up","bootId":"b","address":7,"labels":{},"lease":"1"}', /must/],
  ['huge value', Buffer.alloc(MAX_VALUE_BYTES + 1, 0x20), /too large/],
  ['deeply nested JSON', `{"schema":1,"labels":${'['.repeat(5000)}${']'.repeat(5000)}}`, /must|not JSON/],
];

for (const [what, value, why] of garbage) {
  test(`${what}: a DecodeError value, never a throw`, (t) => {
    for (const decode of [decodeNode, decodeIdentity, decodeEndpoint]) {
      const r = decode(kv(value));
      t.true(r instanceof DecodeError, decode.name);
      t.regex((r as DecodeError).message, why);
      t.is((r as DecodeError).key, '/beacon/v1/nodes/node1/live');
    }
  });
}

test('a value etcd would not hand over (tooLarge) is "value too large", unread', (t) => {
  const r = decodeNode({ ...kv(''), tooLarge: true });
  t.true(r instanceof DecodeError);
  t.is((r as DecodeError).problem, 'value too large');
});

test('records as beacon writes them decode, unknown fields included (forward compatibility)', (t) => {
  t.false(decodeNode(kv({ ...liveRecord(), futureField: { x: 1 } })) instanceof DecodeError);
  t.false(decodeIdentity(kv(identityRecord({ left: { lease: LEASE, at: '2024-05-01T11:30:12.241Z' } }))) instanceof DecodeError);
  t.false(decodeEndpoint(kv(endpointRecord({ address: 'fd00::21', port: 65535, protocol: 'udp' }))) instanceof DecodeError);
  t.false(decodeNode(kv(liveRecord({ utilization: { load1: 0.3, memoryUsedPercent: 40, diskUsedPercent: null, at: '2024-05-01T10:00:00.150Z' } }))) instanceof DecodeError);
});

// Each case: a change to a valid record, and the pointer and words the reason must contain.
const cases: [string, 'node-live' | 'node-identity' | 'endpoint', Record<string, unknown>, RegExp][] = [
  ['state outside the enum', 'node-live', { state: 'exploding' }, /^\/state: must be one of "up", "leaving"/],
  ['address not an IP', 'node-live', { address: 'example.com' }, /^\/address: must be a valid ip/],
  ['address with brackets', 'node-live', { address: '[fd00::1]' }, /^\/address: must be a valid ip/],
  ['address with a zone id', 'node-live', { address: 'fe80::1%eth0' }, /^\/address: must be a valid ip/],
  ['IPv4 with a leading zero', 'node-live', { address: '10.0.0.01' }, /^\/address: must be a valid ip/],
  ['one of addresses not an IP', 'node-live', { addresses: ['10.0.0.1', '../x'] }, /^\/addresses\/1: must be a valid ip/],
  ['addresses missing', 'node-live', { addresses: undefined }, /^\/: must have required property 'addresses'/],
  ['a label value not a string', 'node-live', { labels: { rack: { a: 1 } } }, /^\/labels\/rack: must be string/],
  ['a label key with an escape', 'node-live', { labels: { '\u001b[31m': 'x' } }, /^\/labels: has a key that is not a valid mapKey/],
  ['too many labels', 'node-live', { labels: Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k${i}`, 'v'])) }, /^\/labels: must NOT have more than 256 properties/],
  ['a label value too long', 'node-live', { labels: { a: 'x'.repeat(513) } }, /^\/labels\/a: must NOT have more than 512 characters/],
  ['lease not hex', 'node-live', { lease: 'zz-not-hex' }, /^\/lease: must be a valid lease/],
  ['lease a path', 'node-live', { lease: '../../x' }, /^\/lease: must be a valid lease/],
  ['lease uppercase', 'node-live', { lease: LEASE.toUpperCase() }, /^\/lease: must be a valid lease/],
  ['lease too short', 'node-live', { lease: '1a' }, /^\/lease: must be a valid lease/],
  ['name with ..', 'node-live', { name: 'a..b' }, /^\/name: must be a valid name/],
  ['name too long', 'node-live', { name: 'a'.repeat(254) }, /^\/name: must NOT have more than 253 characters/],
  ['pid a float', 'node-live', { pid: 1.5 }, /^\/pid: must be integer/],
  ['facts.cpus a string', 'node-live', { facts: { ...liveRecord().facts, cpus: '2' } }, /^\/facts\/cpus: must be integer/],
  ['a time that is not ISO 8601', 'node-live', { startedAt: 'yesterday' }, /^\/startedAt: must be a valid time/],
  ['left without at', 'node-identity', { left: { lease: LEASE } }, /^\/left: must have required property 'at'/],
  ['left.lease not hex', 'node-identity', { left: { lease: 'x', at: '2024-05-01T10:00:00.000Z' } }, /^\/left\/lease: must be a valid lease/],
  ['tags missing', 'endpoint', { tags: undefined }, /^\/: must have required property 'tags'/],
  ['a tag with a newline', 'endpoint', { tags: ['a\nb'] }, /^\/tags\/0: must be a valid tag/],
  ['an empty tag', 'endpoint', { tags: [''] }, /^\/tags\/0: must NOT have fewer than 1 characters/],
  ['meta value a number', 'endpoint', { meta: { n: 1 } }, /^\/meta\/n: must be string/],
  ['port 0', 'endpoint', { port: 0 }, /^\/port: must be >= 1/],
  ['port 65536', 'endpoint', { port: 65536 }, /^\/port: must be <= 65535/],
  ['port a string', 'endpoint', { port: '80' }, /^\/port: must be integer/],
  ['health outside the enum', 'endpoint', { health: 'fine' }, /^\/health: must be one of "passing", "warning", "critical", "maintenance"/],
  ['protocol outside the enum', 'endpoint', { protocol: 'sctp' }, /^\/protocol: must be one of "tcp", "udp"/],
  ['output over 8192 characters', 'endpoint', { output: 'x'.repeat(8193) }, /^\/output: must NOT have more than 8192 characters/],
];

for (const [what, kind, change, why] of cases) {
  test(`${kind}: ${what} fails with a reason naming the field`, (t) => {
    const base = kind === 'node-live' ? liveRecord() : kind === 'node-identity' ? identityRecord() : endpointRecord();
    const rec: Record<string, unknown> = { ...base, ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete rec[k];
    const r = decodeRecord(kind, kv(rec));
    t.true(r instanceof DecodeError);
    t.regex((r as DecodeError).problem, why);
  });
}

test('a port of 1e400 (Infinity once parsed) is refused', (t) => {
  const text = JSON.stringify(endpointRecord()).replace('"port":8080', '"port":1e400');
  const r = decodeEndpoint(kv(text, '/beacon/v1/services/web/node1'));
  t.true(r instanceof DecodeError);
  t.regex((r as DecodeError).problem, /^\/port: /);
});

test('the reason never echoes the value, and the key is escaped and capped', (t) => {
  const secret = '\u001b]0;owned\u0007 SECRET';
  const r = decodeNode(kv({ ...liveRecord(), address: secret, state: secret }, `/beacon/v1/nodes/\u001b[2J${'x'.repeat(1000)}/live`));
  t.true(r instanceof DecodeError);
  const msg = (r as DecodeError).message;
  t.false(msg.includes('SECRET'));
  t.false(/[\u0000-\u001f\u007f]/.test(msg), msg);
  t.true(msg.length < 700, `${msg.length}`);
});

test('decodeKey binds a record to its key: names, ids, and the watcher lease of a watcher event', (t) => {
  const keys = new Keys();
  t.regex((decodeKey(keys, kv(liveRecord({ name: 'other' }), keys.live('node1'))) as DecodeError).problem, /name does not match key/);
  t.regex((decodeKey(keys, kv(endpointRecord({ node: 'other' }), keys.endpoint('web', 'node1'))) as DecodeError).problem, /does not match key/);
  t.regex((decodeKey(keys, kv(endpointRecord({ id: 'x/y' }), keys.endpoint('web', 'node1'))) as DecodeError).problem, /id does not match key/);
  const ev = {
    schema: 1, id: 'node1.390da21e114c7205.NodeFailed', event: 'NodeFailed', node: 'node1', time: '2024-05-01T10:00:00.000Z', reason: 'LeaseExpired',
    detectedBy: 'watch', lease: LEASE, bootId: 'b', address: '10.0.0.21', previous: 'up', hooks: { remedy: { state: 'pending' } },
  };
  t.regex((decodeKey(keys, kv(ev, keys.watcherEvent(ev.id))) as DecodeError).problem, /not bound to a lease/);
  t.like(decodeKey(keys, kv(ev, keys.watcherEvent(ev.id), '0000000000000abc')), { kind: 'watcher-event' });
  t.is(decodeKey(keys, kv(ev, '/beacon/v1/elsewhere')), undefined);
});

test('every published schema compiles and refuses an empty object', (t) => {
  for (const kind of RECORD_KINDS) t.regex(problemOf(kind, { schema: 1 }) ?? '', /required property/, kind);
});

// The `ip` definition is a pattern (so that any JSON Schema validator enforces it): it must agree with
// node:net's isIP on every string without a zone id.
test('the ip pattern accepts exactly what net.isIP accepts (zone ids aside)', (t) => {
  const rec = liveRecord();
  const accepted = (s: string) => problemOf('node-live', { ...rec, address: s }) === undefined;
  const hex = fc.stringMatching(/^[0-9a-fA-F]{1,5}$/);
  const v4 = fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)).map((p) => p.join('.'));
  const v6 = fc.array(fc.oneof(hex, fc.constant(''), v4), { minLength: 1, maxLength: 9 }).map((p) => p.join(':'));
  const odd = fc.string({ unit: fc.constantFrom('0', '1', 'f', 'F', ':', '.', 'g', '2', '5'), maxLength: 45 });
  const ip = fc.oneof(v4, v6, odd, fc.constantFrom('::', '::1', '::ffff:1.2.3.4', '1::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '01.2.3.4', '256.1.1.1'));
  fc.assert(fc.property(ip, (s) => accepted(s) === (isIP(s) !== 0 && s.length <= 45)), { numRuns: 3000 });
  t.pass();
});
