// Garbage in etcd never throws out of the decoders: it comes back as a DecodeError value.
import test from 'ava';
import { DecodeError } from '../../src/errors.js';
import { decodeEndpoint, decodeIdentity, decodeNode, MAX_VALUE_BYTES } from '../../src/registry/codec.js';
import type { KeyValue } from '../../src/etcd/store.js';

const kv = (value: Buffer | string): KeyValue => ({
  key: '/beacon/v1/nodes/n1/live',
  value: Buffer.isBuffer(value) ? value : Buffer.from(value),
  createRevision: '1',
  modRevision: '1',
  version: '1',
  lease: '',
});

const garbage: [string, Buffer | string, RegExp][] = [
  ['random bytes', Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x7b]), /not JSON/],
  ['invalid JSON', '{"schema":1,', /not JSON/],
  ['a JSON array', '[1,2,3]', /not a JSON object/],
  ['JSON null', 'null', /not a JSON object/],
  ['unknown schema version', '{"schema":2,"name":"n1"}', /unknown schema version 2/],
  ['missing schema', '{"name":"n1"}', /unknown schema version undefined/],
  ['wrong field type', '{"schema":1,"name":"n1","state":"up","bootId":"b","address":7,"labels":{},"lease":"1"}', /field \w+ is not/],
  ['huge value', Buffer.alloc(MAX_VALUE_BYTES + 1, 0x20), /too large/],
  ['deeply nested JSON', `{"schema":1,"labels":${'['.repeat(5000)}${']'.repeat(5000)}}`, /field|not JSON/],
];

for (const [what, value, why] of garbage) {
  test(`${what}: a DecodeError value, never a throw`, (t) => {
    for (const decode of [decodeNode, decodeIdentity, decodeEndpoint]) {
      const r = decode(kv(value));
      t.true(r instanceof DecodeError, decode.name);
      t.regex((r as DecodeError).message, why);
      t.is((r as DecodeError).key, '/beacon/v1/nodes/n1/live');
    }
  });
}

test('a well-formed record decodes', (t) => {
  const rec = { schema: 1, name: 'n1', state: 'up', bootId: 'b', address: '10.0.0.1', labels: {}, lease: 'abc', extra: 'ignored' };
  const r = decodeNode(kv(JSON.stringify(rec)));
  t.false(r instanceof DecodeError);
  t.is((r as { name: string }).name, 'n1');
});
