// `npm run build:artifact` output: one executable that runs with no node on PATH and no node_modules
// anywhere near it, finds etcd3's protos inside itself, and talks to a real etcd; sums beside it.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { VERSION } from '../../src/version.js';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { repoRoot } from '../units/systemd-root.js';

const work = mkdtempSync(join(tmpdir(), 'beacon-artifact-'));
const out = join(work, 'out');
// The executable runs from here: no node_modules in it or above it, and a PATH with nothing on it.
const host = join(work, 'host');
const emptyPath = join(work, 'empty-bin');
const exe = join(host, 'beacon');
let etcd: EtcdCluster | undefined;

test.before(() => {
  const r = spawnSync(process.execPath, [join(repoRoot, 'scripts/build-artifact.mjs'), '--out', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build-artifact failed:\n${r.stdout}${r.stderr}`);
  mkdirSync(host);
  mkdirSync(emptyPath);
  copyFileSync(join(out, 'beacon'), exe);
});
test.after.always(async () => {
  await etcd?.destroy();
  rmSync(work, { recursive: true, force: true });
});

/** Run the executable with a bare environment: no node reachable, nothing inherited. */
function beacon(args: string[], input?: string) {
  return spawnSync(exe, args, { cwd: host, env: { PATH: emptyPath }, encoding: 'utf8', timeout: 30_000, input });
}

test('nothing but the executable: no node on PATH, no node_modules', (t) => {
  t.not(spawnSync('/bin/sh', ['-c', 'command -v node'], { env: { PATH: emptyPath } }).status, 0);
  t.not(spawnSync('/bin/sh', ['-c', 'cd "$1" && while [ "$PWD" != / ]; do [ -e node_modules ] && exit 0; cd ..; done; exit 1', 'sh', host]).status, 0);
});

test('prints its version and help', (t) => {
  const v = beacon(['--version']);
  t.is(v.status, 0, v.stderr);
  t.is(v.stdout.trim(), VERSION);
  t.is(v.stderr, '', 'no experimental-feature warning');
  const h = beacon(['--help']);
  t.is(h.status, 0, h.stderr);
  t.regex(h.stdout, /^Commands:$/m);
  t.regex(h.stdout, /^ {2}agent /m);
});

test('sums beside it: beacon.sha512 is the executable (what Ignition verifies), beacon.gz.sha512 the download', (t) => {
  const sum = (b: Buffer) => createHash('sha512').update(b).digest('hex');
  const bin = readFileSync(join(out, 'beacon'));
  const gz = readFileSync(join(out, 'beacon.gz'));
  t.true(gunzipSync(gz).equals(bin), 'beacon.gz decompresses to beacon');
  t.is(readFileSync(join(out, 'beacon.sha512'), 'utf8'), `${sum(bin)}  beacon\n`);
  t.is(readFileSync(join(out, 'beacon.gz.sha512'), 'utf8'), `${sum(gz)}  beacon.gz\n`);
  const check = spawnSync('sha512sum', ['-c', 'beacon.sha512', 'beacon.gz.sha512'], { cwd: out, encoding: 'utf8' });
  t.is(check.status, 0, check.stdout + check.stderr);
});

test('the agent from the executable registers in a real etcd and leaves on SIGTERM', async (t) => {
  etcd = await EtcdCluster.start(1);
  const config = join(host, 'agent.yaml');
  writeFileSync(config, `etcd:\n  endpoints: [${etcd.endpoints}]\nnode:\n  name: sea-node\n  ttl: 5s\nservices:\n  - name: web\n    port: 8080\n`);
  const agent = spawn(exe, ['agent', '--config', config, '--log-level', 'warn'], { cwd: host, env: { PATH: emptyPath }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  agent.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
  try {
    const nodes = () => JSON.parse(beacon(['nodes', '-o', 'json', '--etcd', etcd!.endpoints]).stdout || '[]') as { name: string; status: string; services: string[] }[];
    const up = await waitFor(() => nodes().find((n) => n.name === 'sea-node' && n.status === 'up'), { timeoutMs: 20_000, what: `sea-node up (agent stderr: ${stderr})` });
    t.deepEqual(up.services, ['web']);
    const endpoints = JSON.parse(beacon(['services', 'web', '-o', 'json', '--etcd', etcd.endpoints]).stdout) as { node: string; port: number }[];
    t.deepEqual(endpoints.map((e) => [e.node, e.port]), [['sea-node', 8080]]);
    agent.kill('SIGTERM');
    t.is(await exited, 0, stderr);
    t.is(nodes().find((n) => n.name === 'sea-node')?.status, 'left');
  } finally {
    agent.kill('SIGKILL');
  }
});

test('the embedded etcd3 protos define exactly what loading the .proto files does', async (t) => {
  const protos = (await import(pathToFileURL(join(repoRoot, 'scripts/build-artifact-protos.mjs')).href)) as {
    etcd3ProtoPath(): string;
    etcd3ProtoJson(): object;
    ETCD3_PROTO_OPTIONS: object;
  };
  // The proto-loader etcd3 itself resolves.
  const loader = createRequire(createRequire(import.meta.url).resolve('etcd3/package.json'))('@grpc/proto-loader') as {
    loadSync(path: string, opts: object): Record<string, unknown>;
    fromJSON(json: object, opts: object): Record<string, unknown>;
  };
  const fromFile = loader.loadSync(protos.etcd3ProtoPath(), protos.ETCD3_PROTO_OPTIONS);
  const embedded = loader.fromJSON(protos.etcd3ProtoJson(), protos.ETCD3_PROTO_OPTIONS);
  const show = (d: Record<string, unknown>) => JSON.stringify(d, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v));
  t.true(Object.keys(fromFile).includes('etcdserverpb.Lease'));
  t.is(show(embedded), show(fromFile));
});
