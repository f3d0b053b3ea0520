// End to end on real systemd: the artifact served over HTTP on loopback, the project's own Ignition
// config applied by the real Ignition to an overlay of a minimal Debian root, each node booted with
// systemd-nspawn on a bridge; etcd on the host. Then what a host does: come up registered with no
// manual step, leave on stop, fail on partition or power loss within TTL + 1 s, come back on heal.
import test from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keys } from '../../src/etcd/keys.js';
import { generateIgnition } from '../../src/ignition/generate.js';
import { loadUnitFiles } from '../../src/ignition/unit-files.js';
import { waitFor } from '../helpers/etcd.js';
import { repoRoot } from '../units/systemd-root.js';
import { E2eHost, type Node } from './cluster.js';
import { ensureRootfs } from './rootfs.js';

const TTL_S = 3;
// Everything of this run (artifact, etcd data, node roots) lives here; the host removes it, and a later
// run removes it if this one is killed.
const work = mkdtempSync(join(tmpdir(), 'beacon-e2e-'));
const host = new E2eHost(work);
const keys = new Keys();
let exe = '';
let n1: Node;
let n2: Node;

/** One event line of the watcher's stdout. */
interface WatcherEvent {
  event: string;
  node: string;
  time: string;
}
const events: WatcherEvent[] = [];
let watcher: ChildProcess | undefined;

/** Wait for an event of `type` about `node`, seen after `since` earlier events; returns its index. */
function eventAfter(since: number, type: string, node: Node): Promise<number> {
  return waitFor(
    () => {
      const i = events.findIndex((e, j) => j >= since && e.event === type && e.node === node.name);
      return i >= 0 ? i + 1 : 0;
    },
    { timeoutMs: 20_000, what: `${type} for ${node.name} (events: ${JSON.stringify(events.slice(since).map((e) => `${e.event} ${e.node}`))})` },
  ).then((i) => i - 1);
}

test.before(async () => {
  const rootfs = await ensureRootfs();
  const out = join(work, 'artifact');
  const b = spawnSync(process.execPath, [join(repoRoot, 'scripts/build-artifact.mjs'), '--out', out], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build-artifact failed:\n${b.stderr}`);
  exe = join(out, 'beacon');
  await host.start(readFileSync(join(out, 'beacon.gz')));
  // The watcher runs on the host side, from the same artifact; its stdout carries one JSON line per event.
  watcher = spawn(exe, ['watcher', '--etcd', host.etcdEndpoint], { stdio: ['ignore', 'pipe', 'ignore'] });
  host.track(watcher.pid!);
  let partial = '';
  watcher.stdout!.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      try {
        const o = JSON.parse(line) as Partial<WatcherEvent>;
        if (typeof o.event === 'string' && typeof o.node === 'string') events.push(o as WatcherEvent);
      } catch {
        // not JSON: ignore
      }
    }
  });
  // web's health is its own systemd unit (web.service, from the operator's part of the config): the
  // agent asks systemd over D-Bus, from inside its sandbox.
  const agentConfig = [
    'etcd:',
    `  endpoints: [${host.nodeEtcdEndpoint}]`,
    'node:',
    `  ttl: ${TTL_S}s`,
    'services:',
    '  - name: web',
    '    port: 8080',
    '    checks:',
    '      - systemd: web.service',
    '        interval: 1s',
    '',
  ].join('\n');
  const sha512 = createHash('sha512').update(readFileSync(exe)).digest('hex');
  [n1, n2] = [host.node(1), host.node(2)];
  await Promise.all(
    [n1, n2].map(async (n) => {
      const config = generateIgnition({
        agentConfig,
        artifact: { url: `${host.server!.base}/beacon.gz`, sha512 },
        units: loadUnitFiles(),
        merge: n.baseConfig(),
      });
      await n.provision(rootfs, config);
      await n.boot();
    }),
  );
});
test.after.always(async () => {
  watcher?.kill('SIGKILL');
  await host.teardown();
});

interface NodeJson {
  name: string;
  status: string;
  address: string;
  services: string[];
}
function nodes(): NodeJson[] {
  const r = spawnSync(exe, ['nodes', '-o', 'json', '--etcd', host.etcdEndpoint], { encoding: 'utf8' });
  return r.status === 0 ? (JSON.parse(r.stdout) as NodeJson[]) : [];
}
const status = (n: Node) => nodes().find((x) => x.name === n.name)?.status;

/** Watch a node's live key with etcdctl; resolves the time its DELETE arrives. */
function liveDeleted(n: Node): { at: Promise<number>; stop: () => void } {
  const w: ChildProcess = spawn('etcdctl', ['--endpoints', host.etcdEndpoint, 'watch', keys.live(n.name)], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const at = new Promise<number>((resolve) => {
    w.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('DELETE')) resolve(Date.now());
    });
  });
  return { at, stop: () => w.kill('SIGKILL') };
}

test.serial('systemd enabled the agent from Ignition\'s presets and it runs hardened, READY', async (t) => {
  for (const n of [n1, n2]) {
    // Type=notify: "active" only after READY=1 reached systemd through systemd-notify. (Before the
    // container's systemd answers, systemctl reads unit files offline: wait for this first.)
    await waitFor(() => n.exec(['systemctl', 'is-active', 'beacon-agent']).stdout.trim() === 'active', { timeoutMs: 60_000, what: `${n.name} agent active` });
    t.is(n.exec(['systemctl', 'is-enabled', 'beacon-agent']).stdout.trim(), 'enabled', n.name);
    const pid = n.exec(['systemctl', 'show', '-p', 'MainPID', '--value', 'beacon-agent']).stdout.trim();
    const uid = n.exec(['stat', '-c', '%u', `/proc/${pid}`]).stdout.trim();
    t.not(uid, '0');
    t.is(uid, n.exec(['id', '-u', 'beacon']).stdout.trim(), `${n.name}: the agent runs as the static user Ignition created`);
    t.regex(n.exec(['grep', '^Seccomp:', `/proc/${pid}/status`]).stdout, /Seccomp:\s+2/, 'system call filter applied');
    t.is(n.exec(['systemctl', 'show', '-p', 'NRestarts', '--value', 'beacon-agent']).stdout.trim(), '0');
  }
});

test.serial('each node registered its veth address and its service', async (t) => {
  const up = await waitFor(
    () => {
      const all = nodes();
      return [n1, n2].every((n) => all.some((x) => x.name === n.name && x.status === 'up')) ? all : undefined;
    },
    { timeoutMs: 30_000, what: 'both nodes up' },
  );
  for (const n of [n1, n2]) {
    const rec = up.find((x) => x.name === n.name)!;
    t.is(rec.address, n.address);
    t.deepEqual(rec.services, ['web']);
  }
  const eps = JSON.parse(spawnSync(exe, ['services', 'web', '-o', 'json', '--etcd', host.etcdEndpoint], { encoding: 'utf8' }).stdout) as { node: string; address: string }[];
  t.deepEqual(eps.map((e) => [e.node, e.address]).sort(), [[n1.name, n1.address], [n2.name, n2.address]]);
  for (const n of [n1, n2]) await eventAfter(0, 'NodeJoined', n);
});

interface EndpointJson {
  node: string;
  health: string;
  output: string;
}
const health = (n: Node) =>
  (JSON.parse(spawnSync(exe, ['services', 'web', '-o', 'json', '--etcd', host.etcdEndpoint], { encoding: 'utf8' }).stdout || '[]') as EndpointJson[]).find(
    (e) => e.node === n.name,
  );

// dbus-daemon refuses dynamic users (systemd #22737): this is why the units name the static user beacon.
test.serial("inside the agent's sandbox (its mounts, its user), systemctl show reads a unit's state over D-Bus", (t) => {
  const pid = n2.exec(['systemctl', 'show', '-p', 'MainPID', '--value', 'beacon-agent']).stdout.trim();
  const [uid, gid] = n2.exec(['stat', '-c', '%u %g', `/proc/${pid}`]).stdout.trim().split(' ');
  const r = n2.exec(['nsenter', '-t', pid, '-m', '-S', uid!, '-G', gid!, '--', 'systemctl', 'show', 'web.service', '-p', 'ActiveState', '--value']);
  t.is(r.stdout.trim(), 'active', r.stderr);
});

test.serial("the service's own unit stopped: its endpoint goes critical (the systemd check, for real); started: passing", async (t) => {
  await waitFor(() => health(n2)?.health === 'passing', { timeoutMs: 20_000, what: `web on ${n2.name} passing (${JSON.stringify(health(n2))})` });
  t.is(n2.exec(['systemctl', 'stop', 'web.service']).status, 0);
  const critical = await waitFor(() => (health(n2)?.health === 'critical' ? health(n2) : undefined), { timeoutMs: 20_000, what: `web on ${n2.name} critical` });
  t.regex(critical.output, /web\.service: inactive/);
  t.is(n2.exec(['systemctl', 'start', 'web.service']).status, 0);
  await waitFor(() => health(n2)?.health === 'passing', { timeoutMs: 20_000, what: `web on ${n2.name} passing again` });
});

test.serial('systemctl stop beacon-agent: NodeLeft, not NodeFailed; start: it is back', async (t) => {
  const since = events.length;
  const r = n1.exec(['systemctl', 'stop', 'beacon-agent']);
  t.is(r.status, 0, r.stderr);
  t.is(status(n1), 'left');
  await eventAfter(since, 'NodeLeft', n1);
  t.is(n1.exec(['systemctl', 'start', 'beacon-agent']).status, 0);
  await waitFor(() => status(n1) === 'up', { timeoutMs: 15_000, what: `${n1.name} up again` });
  t.false(events.slice(since).some((e) => e.event === 'NodeFailed' && e.node === n1.name));
});

test.serial('partition: NodeFailed within TTL + 1 s; heal: registered again, NodeRecovered', async (t) => {
  await waitFor(() => status(n2) === 'up', { timeoutMs: 15_000, what: `${n2.name} up` });
  const since = events.length;
  const watch = liveDeleted(n2);
  try {
    const cut = Date.now();
    n2.link(false);
    const gone = (await watch.at) - cut;
    t.log(`partition to lease expiry: ${gone} ms (TTL ${TTL_S} s)`);
    t.true(gone <= TTL_S * 1000 + 1000, `${gone} ms`);
    t.is(status(n2), 'failed');
    const failed = events[await eventAfter(since, 'NodeFailed', n2)]!;
    t.log(`partition to NodeFailed: ${Date.parse(failed.time) - cut} ms`);
  } finally {
    watch.stop();
    n2.link(true);
  }
  const healed = Date.now();
  await waitFor(() => status(n2) === 'up', { timeoutMs: 15_000, what: `${n2.name} registered again` });
  t.log(`heal to registered: ${Date.now() - healed} ms`);
  await eventAfter(since, 'NodeRecovered', n2);
});

test.serial('node killed: NodeFailed within TTL + 1 s', async (t) => {
  await waitFor(() => status(n1) === 'up', { timeoutMs: 15_000, what: `${n1.name} up` });
  const since = events.length;
  const watch = liveDeleted(n1);
  try {
    const killed = Date.now();
    await n1.kill();
    const gone = (await watch.at) - killed;
    t.log(`power loss to lease expiry: ${gone} ms`);
    t.true(gone <= TTL_S * 1000 + 1000, `${gone} ms`);
    t.is(status(n1), 'failed');
    const failed = events[await eventAfter(since, 'NodeFailed', n1)]!;
    t.log(`power loss to NodeFailed: ${Date.parse(failed.time) - killed} ms`);
  } finally {
    watch.stop();
  }
});
