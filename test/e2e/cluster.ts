// Real systemd nodes for the e2e test: per node an overlay of the cached Debian root, the project's
// Ignition config applied by the real Ignition, then `systemd-nspawn --boot` on a bridge. etcd and the
// artifact's HTTP server run on the host. Everything a run creates is recorded in a run file, so a
// run that died half-way is cleaned up by the next one (teardown() covers the normal case).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, requireBinary, waitFor } from '../helpers/etcd.js';
import type { IgnitionConfig } from '../../src/ignition/types.js';
import { FileServer, runIgnition } from '../ignition/ignition-run.js';
import { E2E_CACHE } from './rootfs.js';

const RUNS = join(E2E_CACHE, 'runs');
/** The bridge's subnet (a /24) unless a test file asks for its own: only this run's containers live on it. */
const SUBNET = '10.231.0';

/** What one run created; enough to remove it all from another process. */
interface RunRecord {
  dir: string;
  bridge: string;
  mounts: string[];
  pids: number[];
}

/** Result of a command run inside a node. */
export interface Exec {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The host side: bridge, etcd, artifact server, and the nodes booted on them. */
export class E2eHost {
  readonly nodes: Node[] = [];
  etcd?: ChildProcess;
  etcdEndpoint = '';
  server?: FileServer;
  private readonly record: RunRecord;
  private readonly recordFile: string;

  /** `subnet`: the first three octets of the bridge's /24; test files that may run at the same time need different ones. */
  constructor(
    readonly dir: string,
    readonly subnet = SUBNET,
  ) {
    const id = `${process.pid}-${Date.now().toString(36)}`;
    this.record = { dir, bridge: `bcn-${id.slice(-9)}`.slice(0, 15), mounts: [], pids: [] };
    this.recordFile = join(RUNS, `${id}.json`);
    // Recorded before anything is created in `dir`, so even a run killed while building is removed later.
    mkdirSync(RUNS, { recursive: true });
    this.save();
  }

  /** The bridge every node's veth is attached to. */
  get bridge(): string {
    return this.record.bridge;
  }

  /** Host address on the bridge (etcd listens here and on loopback). */
  get hostAddress(): string {
    return `${this.subnet}.1`;
  }

  /** Remove what earlier runs left behind, then create the bridge, etcd and the artifact server. */
  async start(artifactGz: Buffer): Promise<void> {
    for (const bin of ['systemd-nspawn', 'nsenter', 'ip', 'mount', 'umount', 'etcd']) requireBinary(bin);
    sweepStaleRuns();
    ip(['link', 'add', this.record.bridge, 'type', 'bridge']);
    ip(['addr', 'add', `${this.hostAddress}/24`, 'dev', this.record.bridge]);
    ip(['link', 'set', this.record.bridge, 'up']);

    const [client, peer] = [await freePort(), await freePort()];
    this.etcdEndpoint = `http://127.0.0.1:${client}`;
    const etcd = spawn(
      'etcd',
      [
        '--data-dir', join(this.dir, 'etcd'),
        '--listen-client-urls', `${this.etcdEndpoint},http://${this.hostAddress}:${client}`,
        '--advertise-client-urls', `http://${this.hostAddress}:${client}`,
        '--listen-peer-urls', `http://127.0.0.1:${peer}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
        '--initial-cluster', `default=http://127.0.0.1:${peer}`,
        '--log-level', 'error',
      ],
      { stdio: 'ignore' },
    );
    this.etcd = etcd;
    this.track(etcd.pid!);
    await waitFor(
      () => spawnSync('etcdctl', ['--endpoints', this.etcdEndpoint, '--command-timeout=1s', 'endpoint', 'health'], { env: { ...process.env, ETCDCTL_API: '3' } }).status === 0,
      { timeoutMs: 20_000, what: 'e2e etcd healthy' },
    );
    this.server = await FileServer.start({ '/beacon.gz': artifactGz });
  }

  /** etcd endpoint as the nodes see it. */
  get nodeEtcdEndpoint(): string {
    return this.etcdEndpoint.replace('127.0.0.1', this.hostAddress);
  }

  /** A node with the given index (address <subnet>.10+index; the index also names its host veth, which must be unique on the host). */
  node(index: number): Node {
    const n = new Node(this, `bcn-n${index}`, `${this.subnet}.${10 + index}`);
    this.nodes.push(n);
    return n;
  }

  /** Record a mount or pid (saved at once, for sweepStaleRuns). */
  track(pid: number): void {
    this.record.pids.push(pid);
    this.save();
  }

  trackMount(path: string): void {
    this.record.mounts.push(path);
    this.save();
  }

  /** Stop everything, whatever state it is in. */
  async teardown(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.destroy()));
    await this.server?.close();
    if (this.etcd && this.etcd.exitCode === null) {
      this.etcd.kill('SIGKILL');
      await new Promise((r) => this.etcd!.once('exit', r));
    }
    cleanup(this.record);
    rmSync(this.recordFile, { force: true });
  }

  private save(): void {
    writeFileSync(this.recordFile, JSON.stringify(this.record));
  }
}

/** One booted container. */
export class Node {
  readonly dir: string;
  readonly merged: string;
  nspawn?: ChildProcess;
  leader = 0;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: E2eHost,
    readonly name: string,
    readonly address: string,
  ) {
    this.dir = join(host.dir, name);
    this.merged = join(this.dir, 'merged');
  }

  /** Host end of this node's veth (nspawn names it vb-<machine>). */
  get hostVeth(): string {
    return `vb-${this.name}`.slice(0, 15);
  }

  /** The operator's part of the config: hostname, a static address on host0, and a service unit. */
  baseConfig(): IgnitionConfig {
    const file = (path: string, text: string) => ({ path, mode: 0o644, overwrite: true, contents: { source: `data:,${encodeURIComponent(text)}` } });
    return {
      ignition: { version: '3.3.0' },
      storage: {
        files: [
          file('/etc/hostname', `${this.name}\n`),
          // Sorts before Debian's 80-container-host0.network (DHCP), so this one applies.
          file('/etc/systemd/network/10-host0.network', `[Match]\nName=host0\n\n[Network]\nAddress=${this.address}/24\n`),
        ],
      },
      systemd: {
        units: [{ name: 'web.service', enabled: true, contents: '[Unit]\nDescription=stand-in web server\n\n[Service]\nExecStart=/bin/sleep infinity\n\n[Install]\nWantedBy=multi-user.target\n' }],
      },
    };
  }

  /** Overlay the cached root and let the real Ignition apply `config` to it, as at first boot. */
  async provision(rootfs: string, config: IgnitionConfig): Promise<void> {
    for (const d of ['upper', 'work', 'merged']) mkdirSync(join(this.dir, d), { recursive: true });
    run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${rootfs},upperdir=${join(this.dir, 'upper')},workdir=${join(this.dir, 'work')}`, this.merged]);
    this.host.trackMount(this.merged);
    // "uninitialized": systemd treats the boot as the first one and applies Ignition's presets.
    writeFileSync(join(this.merged, 'etc/machine-id'), 'uninitialized\n');
    const r = await runIgnition(config, this.merged);
    if (!r.ok) throw new Error(`Ignition failed for ${this.name}:\n${r.output}`);
  }

  /** `systemd-nspawn --boot` on the host's bridge; resolves once the container's init runs. */
  async boot(): Promise<void> {
    const log = join(this.dir, 'console.log');
    // No machined or system bus on this host (PID 1 is not systemd): --register=no --keep-unit.
    const p = spawn(
      'systemd-nspawn',
      ['-D', this.merged, '--boot', '--register=no', '--keep-unit', '--console=pipe', `--network-bridge=${this.host.bridge}`, '-M', this.name],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    p.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    this.exited = new Promise((resolve) =>
      p.once('exit', () => {
        writeFileSync(log, out);
        resolve();
      }),
    );
    this.nspawn = p;
    this.host.track(p.pid!);
    this.leader = await waitFor(() => containerInit(p.pid!), { timeoutMs: 15_000, what: `${this.name} container init` });
    this.host.track(this.leader);
  }

  /** Run a command inside the node (all its namespaces). */
  exec(cmd: string[]): Exec {
    const r = spawnSync('nsenter', ['-t', String(this.leader), '-a', ...cmd], { encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Cut the node off the network (its veth's host end down), or reconnect it. */
  link(up: boolean): void {
    ip(['link', 'set', this.hostVeth, up ? 'up' : 'down']);
  }

  /** Kill the whole container at once, as a power loss would. */
  async kill(): Promise<void> {
    if (this.leader) process.kill(this.leader, 'SIGKILL');
    await this.exited;
  }

  /** Stop the container (politely first), unmount and remove its files. */
  async destroy(): Promise<void> {
    if (this.nspawn && this.nspawn.exitCode === null && this.nspawn.signalCode === null) {
      this.nspawn.kill('SIGTERM'); // nspawn asks the container's systemd to power off
      const done = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
      if (!done) {
        if (this.leader) killIfAlive(this.leader);
        this.nspawn.kill('SIGKILL');
        await this.exited;
      }
    }
    if (this.leader) killIfAlive(this.leader);
  }
}

/** The container's init: the descendant of nspawn that is PID 1 of its own PID namespace (NSpid ends in 1). */
function containerInit(nspawnPid: number): number {
  const queue = [nspawnPid];
  while (queue.length) {
    const pid = queue.shift()!;
    try {
      const nspid = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.trim().split(/\s+/) ?? [];
      if (pid !== nspawnPid && nspid.length > 1 && nspid.at(-1) === '1') return pid;
      queue.push(...readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      // exited meanwhile
    }
  }
  return 0;
}

function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function ip(args: string[]): void {
  run('ip', args);
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** Remove what a run created: its processes (only if they still belong to it), mounts, bridge, files. */
function cleanup(rec: RunRecord): void {
  for (const pid of rec.pids) {
    if (belongsTo(pid, rec.dir)) killIfAlive(pid);
  }
  // A killed container's processes go with its PID namespace; give the kernel a moment, then unmount.
  const deadline = Date.now() + 10_000;
  for (const m of [...rec.mounts].reverse()) {
    while (isMounted(m)) {
      const r = spawnSync('umount', [m]);
      if (r.status === 0) break;
      if (Date.now() > deadline) {
        spawnSync('umount', ['-l', m]);
        break;
      }
      spawnSync('sleep', ['0.2']);
    }
  }
  spawnSync('ip', ['link', 'del', rec.bridge], { stdio: 'ignore' });
  rmSync(rec.dir, { recursive: true, force: true });
}

/** Whether a pid is still one of this run's: its command line or its root points into the run dir. */
function belongsTo(pid: number, dir: string): boolean {
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) return true;
    return readlinkSync(`/proc/${pid}/root`).startsWith(dir);
  } catch {
    return false;
  }
}

function isMounted(path: string): boolean {
  return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === path);
}

/** Clean up runs whose process is gone (a crash or a killed test worker left them). */
function sweepStaleRuns(): void {
  if (!existsSync(RUNS)) return;
  for (const f of readdirSync(RUNS)) {
    const ownerPid = Number(f.split('-')[0]);
    if (ownerPid && existsSync(`/proc/${ownerPid}`)) continue; // a live run (another test process)
    try {
      cleanup(JSON.parse(readFileSync(join(RUNS, f), 'utf8')) as RunRecord);
    } finally {
      rmSync(join(RUNS, f), { force: true });
    }
  }
}
