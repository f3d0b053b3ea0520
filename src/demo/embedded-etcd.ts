// A private, throw-away etcd for `beacon demo`: temp data dir, free loopback ports, removed on stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { BeaconError } from '../errors.js';
import { Store } from '../etcd/store.js';
import { sleep } from '../util/time.js';
import type { ProcessTracker } from './reaper.js';

/** etcd is not installed where we looked. */
export class EtcdNotFoundError extends BeaconError {}

/** Find an executable on PATH. */
export function which(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* keep looking */
    }
  }
  return undefined;
}

/** A loopback port nobody listens on right now (it may be taken before it is used: callers retry). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** A running private etcd. */
export interface EmbeddedEtcd {
  endpoint: string;
  dataDir: string;
  pid: number;
  /** Stop the process and remove its directory. */
  stop(): Promise<void>;
}

/**
 * Start a single-member etcd in a new temp dir and wait until it serves reads. `tracker` is told of the dir
 * and the process as soon as they exist, and of the process's end.
 */
export async function startEmbeddedEtcd(signal: AbortSignal, tracker?: ProcessTracker): Promise<EmbeddedEtcd> {
  const bin = which('etcd');
  if (!bin) throw new EtcdNotFoundError('etcd not found on PATH: run ./scripts/bootstrap.sh (installs Debian\'s etcd-server)');
  const dir = mkdtempSync(join(tmpdir(), 'beacon-demo-'));
  tracker?.dir(dir);
  const [client, peer] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${client}`;
  const proc: ChildProcess = spawn(
    bin,
    [
      '--name', 'demo',
      '--data-dir', join(dir, 'etcd'),
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `demo=http://127.0.0.1:${peer}`,
      '--log-level', 'error',
    ],
    // Its own process group: Ctrl-C reaches the whole terminal group at once, and etcd must
    // outlive the agent's graceful leave; the demo stops it itself afterwards.
    { stdio: 'ignore', detached: true },
  );
  if (proc.pid) tracker?.add(proc.pid);
  const exited = new Promise<void>((r) =>
    proc.once('exit', () => {
      if (proc.pid) tracker?.remove(proc.pid);
      r();
    }),
  );
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const store = Store.connect({ endpoints: [endpoint], requestTimeoutMs: 500, dialTimeoutMs: 500 });
  try {
    for (let i = 0; i < 100 && !signal.aborted; i++) {
      if (proc.exitCode !== null) throw new BeaconError(`etcd exited with code ${proc.exitCode}`);
      if (await store.get('/').then(() => true, () => false)) {
        return { endpoint, dataDir: dir, pid: proc.pid!, stop };
      }
      await sleep(100, signal);
    }
    throw new BeaconError(signal.aborted ? 'interrupted' : 'etcd did not answer within 10 s');
  } catch (err) {
    await stop();
    throw err;
  } finally {
    store.close();
  }
}
