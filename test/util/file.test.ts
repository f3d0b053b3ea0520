// Bounded reads of the files a config names: regular files only, never past the limit, without blocking.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { MAX_CONFIG_BYTES, formatBytes, readBoundedFile, readBoundedFileSync } from '../../src/util/file.js';
import { MAX_CONFIG_DEPTH, checkShape, refuseDeepYaml } from '../../src/util/shape.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-file-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const what = { field: 'etcd.caFile', shown: '/x', maxBytes: 1024 };

test('a file of exactly the limit is read whole; one byte more is refused, async and sync', async (t) => {
  const dir = tempDir(t);
  const at = join(dir, 'at'), over = join(dir, 'over');
  writeFileSync(at, Buffer.alloc(1024, 'a'));
  writeFileSync(over, Buffer.alloc(1025, 'a'));
  t.is((await readBoundedFile(at, what)).length, 1024);
  t.is(readBoundedFileSync(at, what).length, 1024);
  const message = 'etcd.caFile: is larger than 1 KiB (1025 bytes): not a file beacon reads (got "/x")';
  await t.throwsAsync(readBoundedFile(over, what), { instanceOf: ConfigError, message });
  t.throws(() => readBoundedFileSync(over, what), { instanceOf: ConfigError, message });
});

test('a FIFO, a socket and a directory are refused by kind without blocking', async (t) => {
  const dir = tempDir(t);
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const sock = join(dir, 'sock');
  const server = createServer();
  await new Promise<void>((r) => server.listen(sock, r));
  t.teardown(() => server.close());
  for (const [path, kind] of [[fifo, 'a FIFO'], [sock, 'a socket'], [dir, 'a directory'], ['/dev/zero', 'a device']] as const) {
    const message = `etcd.caFile: is ${kind}, not a regular file (got "/x")`;
    await t.throwsAsync(readBoundedFile(path, what), { instanceOf: ConfigError, message }, path);
    t.throws(() => readBoundedFileSync(path, what), { instanceOf: ConfigError, message }, path);
  }
  await t.throwsAsync(readBoundedFile(join(dir, 'none'), { field: '/c.yaml', maxBytes: 1, unreadable: 'cannot read the config file' }), {
    message: '/c.yaml: cannot read the config file (ENOENT)',
  });
});

test('the config limit is 1 MiB', (t) => {
  t.is(formatBytes(MAX_CONFIG_BYTES), '1 MiB');
});

test('nesting: YAML refused at the first line too deep, parsed values by height (aliases included)', (t) => {
  const ok = `a: ${'['.repeat(MAX_CONFIG_DEPTH - 1)}${']'.repeat(MAX_CONFIG_DEPTH - 1)}\n`;
  t.notThrows(() => refuseDeepYaml('c.yaml', ok));
  const deep = `a: 1\nb: ${'['.repeat(MAX_CONFIG_DEPTH)}${']'.repeat(MAX_CONFIG_DEPTH)}\n`;
  t.throws(() => refuseDeepYaml('c.yaml', deep), { message: `c.yaml:2:${3 + MAX_CONFIG_DEPTH}: nested deeper than 32 levels of lists and mappings` });
  // A shared node counted at its deepest use, and the height of a DAG, not of its first path.
  let chain: unknown = 'x';
  for (let i = 0; i < MAX_CONFIG_DEPTH; i++) chain = [chain];
  t.throws(() => checkShape('c.yaml', { a: chain }), { message: 'c.yaml: not usable: nested deeper than 32 levels of lists and mappings' });
  const shared = { s: 1 };
  let d: unknown = shared;
  for (let i = 0; i < MAX_CONFIG_DEPTH - 2; i++) d = [d];
  t.throws(() => checkShape('c.yaml', [shared, { deep: d }]), { message: /nested deeper than 32/ });
  t.notThrows(() => checkShape('c.yaml', [shared, [shared]]));
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  t.throws(() => checkShape('c.yaml', { cyclic }), { message: 'c.yaml: not usable YAML: an alias refers to a node that contains it' });
});
