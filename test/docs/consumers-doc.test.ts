// docs/consumers.md cannot drift: every sh command runs against a real etcd with a real agent and prints
// something, and the library example runs as a program and prints the service's endpoints.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Keys } from '../../src/etcd/keys.js';
import { EtcdCluster, requireBinary, waitFor } from '../helpers/etcd.js';
import { REPO_ROOT, type BeaconProcess } from '../helpers/process.js';
import { startAgent } from '../client/support.js';
import { codeBlocks, readDoc, shellCommands } from './markdown.js';

const doc = readDoc('docs/consumers.md');
let etcd: EtcdCluster;
let agent: BeaconProcess;

test.before(async () => {
  for (const tool of ['etcdctl', 'jq', 'bash']) requireBinary(tool);
  etcd = await EtcdCluster.start();
  agent = await startAgent(etcd.endpoints, 'node1', { web: [] });
  const ev = { schema: 1, id: 'node1.x.NodeJoined', event: 'NodeJoined', node: 'node1', time: '2024-05-01T10:00:00.000Z', reason: 'Registered', detectedBy: 'watch', lease: '', bootId: '', address: '', previous: 'unknown', hooks: {} };
  // Under a lease, as the watcher writes it: readers skip events without one.
  const lease = /lease ([0-9a-f]+) granted/.exec(etcd.etcdctl(['lease', 'grant', '600']))![1]!;
  etcd.etcdctl(['put', `--lease=${lease}`, new Keys().watcherEvent(ev.id), JSON.stringify(ev)]);
});

test.after.always(async () => {
  await agent?.stop('SIGKILL');
  await etcd?.destroy();
});

test('every sh command in docs/consumers.md runs and prints something', (t) => {
  const commands = codeBlocks(doc, 'sh').flatMap((b) => shellCommands(b.body));
  t.true(commands.length >= 4, 'the page documents commands');
  for (const cmd of commands) {
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3', ETCDCTL_ENDPOINTS: etcd.endpoints }, timeout: 15_000 });
    t.is(r.status, 0, `${cmd}\nexits 0 (stderr: ${r.stderr})`);
    t.not(r.stdout.trim(), '', `${cmd}\nprints something`);
  }
  const passing = spawnSync('bash', ['-c', commands[0]!], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3', ETCDCTL_ENDPOINTS: etcd.endpoints } });
  t.regex(passing.stdout, /^\S+:8000$/m, 'the first recipe prints address:port');
});

test('the library example runs: prints the endpoints, then stops on SIGTERM', async (t) => {
  const block = codeBlocks(doc, 'js').find((b) => b.body.includes("from 'beacon/client'"));
  if (!block) return t.fail('docs/consumers.md has no library example');
  // The example imports the package name; run it from a temp dir against the compiled library.
  const lib = pathToFileURL(join(REPO_ROOT, 'dist/src/client/index.js')).href;
  const file = join(mkdtempSync(join(tmpdir(), 'beacon-example-')), 'example.mjs');
  writeFileSync(file, block.body.replace("'beacon/client'", `'${lib}'`));
  const child = spawn(process.execPath, [file], { env: { ...process.env, BEACON_ETCD_ENDPOINTS: etcd.endpoints }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await waitFor(() => /^web @\d+: \S+:8000$/m.test(out), { timeoutMs: 20_000, what: `a snapshot line (stdout: ${out} stderr: ${err})` });
    t.regex(out, /^web now: \S+:8000$/m);
    child.kill('SIGTERM');
    t.is(await exited, 0, err);
  } finally {
    child.kill('SIGKILL');
  }
});
