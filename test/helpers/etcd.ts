// Test harness: a real etcd process per test file, on free loopback ports, in a temp dir.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Fail loudly when a tool the tests need is missing: a skip would hide it in CI. */
export function requireBinary(name: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (r.status !== 0 || !path) {
    throw new Error(`${name} is not installed: run the README's test command (it installs Debian's etcd-server and etcd-client)`);
  }
  return path;
}

/** A free TCP port on 127.0.0.1 (released before returning; the race is acceptable in tests). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Options of waitFor. */
export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What is awaited, for the timeout's message; a function is asked at the timeout, to tell what was seen by then. */
  what?: string | (() => string);
}

/**
 * Poll `fn` until it returns a truthy value or the deadline passes. Past the deadline, `fn` has one last
 * look after the I/O already waiting is read: a thread blocked past the deadline (a spawnSync, its own or
 * a concurrent test's) wakes in the timers phase, before the poll phase reads what a child printed in time.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 50, what = 'condition' }: WaitOptions = {},
): Promise<NonNullable<Awaited<T>>> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (let last = false; ; ) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<Awaited<T>>;
    } catch (err) {
      lastErr = err;
    }
    if (last) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`, { cause: lastErr });
    }
    if (Date.now() > deadline) {
      last = true;
      // The second immediate runs in the loop's next turn, so a poll phase (pending stdout delivered) comes
      // first whichever phase this thread was blocked in.
      for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
    } else {
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}

/** Put `value` as raw bytes (not necessarily UTF-8 or JSON) with etcdctl, optionally under a lease. */
export function putRaw(etcd: EtcdCluster, key: string, value: Buffer, lease?: string): void {
  const r = spawnSync(requireBinary('etcdctl'), ['--endpoints', etcd.endpoints, ...etcdctlTlsArgs(etcd.tls), 'put', ...(lease ? [`--lease=${lease}`] : []), key], {
    env: { ...process.env, ETCDCTL_API: '3' },
    input: value,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`etcdctl put ${key}: ${r.stderr.toString()}`);
}

/** Options for one etcd member. */
export interface EtcdMemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
}

/** Client TLS of a test etcd: it serves https with cert/key and, with client-cert auth, trusts `caFile`. */
export interface EtcdTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The pair etcdctl presents (the helper's own calls); required when etcd demands client certificates. */
  clientCertFile?: string;
  clientKeyFile?: string;
  /** Start etcd with --client-cert-auth (mutual TLS). */
  clientCertAuth?: boolean;
}

/** etcdctl flags that reach a TLS etcd as the helper's client. */
export function etcdctlTlsArgs(tls: EtcdTls | undefined): string[] {
  if (!tls) return [];
  return [
    '--cacert', tls.caFile,
    ...(tls.clientCertFile ? ['--cert', tls.clientCertFile] : []),
    ...(tls.clientKeyFile ? ['--key', tls.clientKeyFile] : []),
  ];
}

/** A running (or stopped) etcd member owned by a test. */
export class EtcdProcess {
  proc: ChildProcess | undefined;
  readonly endpoint: string;
  readonly dataDir: string;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly spec: EtcdMemberSpec,
    private readonly cluster: EtcdMemberSpec[],
    readonly baseDir: string,
    private readonly extraArgs: string[] = [],
    readonly tls?: EtcdTls,
    /** More local addresses to serve clients on, same port (e.g. a veth a network namespace reaches). */
    readonly clientHosts: string[] = [],
  ) {
    this.endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${spec.clientPort}`;
    this.dataDir = join(baseDir, `${spec.name}.etcd`);
  }

  /** Start (or restart on the same data dir) and wait until it answers. */
  async start(): Promise<void> {
    const peer = (m: EtcdMemberSpec) => `http://127.0.0.1:${m.peerPort}`;
    const args = [
      '--name', this.spec.name,
      '--data-dir', this.dataDir,
      '--listen-client-urls', [this.endpoint, ...this.clientHosts.map((h) => this.endpointOn(h))].join(','),
      '--advertise-client-urls', this.endpoint,
      '--listen-peer-urls', peer(this.spec),
      '--initial-advertise-peer-urls', peer(this.spec),
      '--initial-cluster', this.cluster.map((m) => `${m.name}=${peer(m)}`).join(','),
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', `beacon-test-${this.cluster[0]!.clientPort}`,
      '--log-level', 'error',
      ...(this.tls
        ? [
            '--cert-file', this.tls.certFile,
            '--key-file', this.tls.keyFile,
            '--trusted-ca-file', this.tls.caFile,
            ...(this.tls.clientCertAuth ? ['--client-cert-auth'] : []),
          ]
        : []),
      ...this.extraArgs,
    ];
    const proc = spawn(requireBinary('etcd'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code) => {
        // Stopped by a signal is a test's doing; an exit code of its own is etcd failing (a panic, a fatal
        // error): say why, or a test (or a benchmark) only sees every request fail from then on.
        if (code) process.stderr.write(`etcd ${this.spec.name} exited with code ${code}: ${stderr.slice(-2000)}\n`);
        resolve();
      }),
    );
    if (this.cluster.length === 1) await this.waitHealthy(stderr);
  }

  /** This member's client URL on another local address (one of `clientHosts`). */
  endpointOn(host: string): string {
    return this.endpoint.replace('127.0.0.1', host);
  }

  /** Wait until this member serves a linearizable read. */
  async waitHealthy(stderrHint = ''): Promise<void> {
    await waitFor(
      () => {
        const r = spawnSync(requireBinary('etcdctl'), ['--endpoints', this.endpoint, ...etcdctlTlsArgs(this.tls), '--command-timeout=1s', 'endpoint', 'health'], {
          env: { ...process.env, ETCDCTL_API: '3' },
          encoding: 'utf8',
        });
        return r.status === 0;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: `etcd ${this.spec.name} healthy ${stderrHint}` },
    );
  }

  /** Send a signal (SIGSTOP/SIGCONT/SIGKILL/SIGTERM). */
  signal(sig: NodeJS.Signals): void {
    this.proc?.kill(sig);
  }

  /** Stop the process and wait for it to exit. */
  async stop(sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGCONT');
    this.proc.kill(sig);
    await this.exited;
  }
}

/** A single-member etcd or a cluster, with helpers for etcdctl. */
export class EtcdCluster {
  private constructor(
    readonly members: EtcdProcess[],
    readonly baseDir: string,
    readonly tls?: EtcdTls,
  ) {}

  /** Start `size` members on free loopback ports in a new temp dir (https with `tls`). */
  static async start(size = 1, extraArgs: string[] = [], tls?: EtcdTls, clientHosts: string[] = []): Promise<EtcdCluster> {
    const baseDir = mkdtempSync(join(tmpdir(), 'beacon-etcd-'));
    const specs: EtcdMemberSpec[] = [];
    for (let i = 0; i < size; i++) {
      specs.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort() });
    }
    const members = specs.map((s) => new EtcdProcess(s, specs, baseDir, extraArgs, tls, clientHosts));
    await Promise.all(members.map((m) => m.start()));
    if (size > 1) await Promise.all(members.map((m) => m.waitHealthy()));
    return new EtcdCluster(members, baseDir, tls);
  }

  /** Comma-separated client URLs of every member. */
  get endpoints(): string {
    return this.members.map((m) => m.endpoint).join(',');
  }

  /**
   * Run etcdctl against the cluster; returns stdout, throws on failure. With `untilMs`, the
   * command (a watch) is stopped after that long and whatever it printed is returned.
   */
  etcdctl(args: string[], input?: string, untilMs?: number): string {
    const r = spawnSync(requireBinary('etcdctl'), ['--endpoints', this.endpoints, ...etcdctlTlsArgs(this.tls), ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      encoding: 'utf8',
      input,
      ...(untilMs ? { timeout: untilMs, killSignal: 'SIGTERM' as const } : {}),
    });
    if (untilMs && r.signal) return r.stdout;
    if (r.status !== 0) throw new Error(`etcdctl ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  }

  /** The cluster's current revision (from `etcdctl endpoint status`). */
  revision(): number {
    const out = JSON.parse(this.etcdctl(['get', '/', '--prefix', '--keys-only', '--limit=1', '-w', 'json']));
    return Number(out.header.revision);
  }

  /** Stop every member and remove the temp dir. */
  async destroy(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop('SIGKILL')));
    rmSync(this.baseDir, { recursive: true, force: true });
  }
}
