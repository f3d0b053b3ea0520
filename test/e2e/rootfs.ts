// The minimal Debian root every e2e node boots from: debootstrap once, then reuse (each node gets an
// overlay on top, so the cached root is never written to).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireBinary } from '../helpers/etcd.js';

/** Where the cached root and the run records live (outside the work tree, shared by clones). */
export const E2E_CACHE = process.env.BEACON_E2E_CACHE ?? '/var/cache/beacon-e2e';
/** Bump when the package list changes, so a stale cache is not reused. */
const ROOTFS_NAME = 'rootfs-bookworm-v1';
const PACKAGES = ['systemd', 'systemd-sysv', 'dbus'];
const MIRROR = process.env.BEACON_E2E_MIRROR ?? 'http://deb.debian.org/debian';

/** The cached root, built with debootstrap when missing (about 40 s and 250 MB once). */
export async function ensureRootfs(): Promise<string> {
  const root = join(E2E_CACHE, ROOTFS_NAME);
  if (existsSync(join(root, '.beacon-complete'))) return root;
  const debootstrap = requireBinary('debootstrap');
  mkdirSync(E2E_CACHE, { recursive: true });
  const tmp = `${root}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const args = ['--variant=minbase', `--include=${PACKAGES.join(',')}`, 'bookworm', tmp, MIRROR];
  const output = await new Promise<string>((resolve, reject) => {
    const p = spawn(debootstrap, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    p.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`debootstrap ${args.join(' ')} failed (${code}):\n${out}`))));
  });
  writeFileSync(join(tmp, '.beacon-complete'), output);
  if (existsSync(root)) rmSync(tmp, { recursive: true, force: true });
  else renameSync(tmp, root);
  return root;
}
