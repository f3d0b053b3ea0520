import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, waitFor } from './etcd.js';

test('harness starts a real etcd and etcdctl reaches it', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  etcd.etcdctl(['put', '/x', 'y']);
  t.is(etcd.etcdctl(['get', '/x', '--print-value-only']).trim(), 'y');
  t.true(etcd.revision() >= 2);
});

// What a test that runs spawnSync does to another one waiting on a child's output (test/cli/garbage.test.ts).
test('waitFor sees output a child printed while this thread was blocked past the whole deadline', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-wait-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const printed = join(dir, 'printed');
  const child = spawn('sh', ['-c', `echo ready; : > '${printed}'`], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const waiting = waitFor(() => out.includes('ready'), { timeoutMs: 100, what: "the child's line" });
  // Blocked until the child has printed, and then past the deadline.
  const block = spawnSync('sh', ['-c', `while [ ! -e '${printed}' ]; do sleep 0.05; done; sleep 0.3`], { timeout: 30_000 });
  t.is(block.status, 0, 'the child printed within 30 s');
  t.true(await waiting);
});

test("waitFor's message is asked at the timeout, so it tells what was seen by then", async (t) => {
  let seen = 'nothing';
  const waiting = waitFor(() => false, { timeoutMs: 100, what: () => `a line (seen: ${seen})` });
  seen = 'two lines';
  await t.throwsAsync(waiting, { message: 'timed out after 100 ms waiting for a line (seen: two lines)' });
});
