// Every JSON record example in the docs passes its published schema (schema/v1/) through the codec the
// readers use: an example a reader would skip would teach the wrong format.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Keys } from '../../src/etcd/keys.js';
import { kindOfKey, problemOf, RECORD_KINDS, SCHEMAS } from '../../src/registry/codec.js';
import { REPO_ROOT } from '../helpers/process.js';
import { codeBlocks, readDoc } from './markdown.js';

const keys = new Keys();

// `<prefix>/v1/nodes/<node>/live` → a concrete key → its record kind.
function kindOfPattern(pattern: string) {
  const key = pattern.replace('<prefix>', '/beacon').replace(/<event id>|<[a-z]+>/g, 'x1');
  return kindOfKey(keys.parse(key));
}

test('every json example in docs/keys.md passes the schema of the section it is in', (t) => {
  const blocks = codeBlocks(readDoc('docs/keys.md'), 'json');
  t.true(blocks.length >= 6, 'one example per agent record kind');
  const seen = new Set<string>();
  for (const b of blocks) {
    const pattern = /`(<prefix>\/v1\/[^`]+)`/.exec(b.heading)?.[1];
    const kind = pattern ? kindOfPattern(pattern) : undefined;
    if (!kind) {
      t.fail(`docs/keys.md:${b.line}: not under a record section`);
      continue;
    }
    seen.add(kind);
    t.is(problemOf(kind, JSON.parse(b.body)), undefined, `docs/keys.md:${b.line} (${kind})`);
  }
  t.deepEqual([...seen].sort(), ['endpoint', 'node-conditions', 'node-event', 'node-identity', 'node-live', 'node-maintenance', 'node-usage', 'watcher-history']);
});

test("docs/watcher.md's record examples pass their schemas", (t) => {
  const blocks = codeBlocks(readDoc('docs/watcher.md'), 'json').filter((b) => b.heading === 'Record examples');
  t.is(blocks.length, 2);
  const [status, event] = blocks.map((b) => JSON.parse(b.body) as Record<string, unknown>);
  t.is(problemOf('watcher-status', status), undefined);
  t.is(problemOf('watcher-event', event), undefined);
});

test('schema/v1 holds exactly the published kinds plus defs.json, each named by its $id', (t) => {
  const files = readdirSync(join(REPO_ROOT, 'schema/v1')).sort();
  t.deepEqual(files, ['defs.json', ...RECORD_KINDS.map((k) => `${k}.json`)].sort());
  for (const kind of RECORD_KINDS) {
    const onDisk = JSON.parse(readFileSync(join(REPO_ROOT, `schema/v1/${kind}.json`), 'utf8')) as { $id: string };
    t.is(onDisk.$id, `https://beacon.invalid/schema/v1/${kind}.json`);
    t.deepEqual(onDisk, SCHEMAS[kind] as unknown, `${kind}: the codec uses the file as published`);
  }
});
