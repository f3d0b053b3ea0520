// Add beacon's files and units to an operator's own Ignition config, refusing to overwrite anything.
import { posix } from 'node:path';
import { ConfigError } from '../errors.js';
import type { IgnitionConfig, IgnitionNode, IgnitionUnit, IgnitionUser } from './types.js';

const SPEC = /^3\.(\d+)\.(\d+)$/;

/**
 * `base` (parsed JSON) plus `ours`: users, files, directories, links and units appended, every other
 * section kept as is; the spec version is the higher of the two. Throws ConfigError on a 2.x or
 * experimental base, and on any path, unit or user name both configs define.
 */
export function mergeIgnition(base: unknown, ours: IgnitionConfig): IgnitionConfig {
  const theirVersion = isObject(base) && isObject(base.ignition) ? base.ignition.version : undefined;
  if (typeof theirVersion !== 'string') {
    throw new ConfigError('--merge', shape(base), 'must be an Ignition config (a JSON object with ignition.version)');
  }
  if (!SPEC.test(theirVersion)) {
    throw new ConfigError('--merge ignition.version', theirVersion, 'must be a released 3.x spec (convert older configs with ign-converter, or Butane)');
  }
  const out = structuredClone(base) as IgnitionConfig;
  out.ignition.version = higher(theirVersion, ours.ignition.version);

  const theirs = out.storage ?? {};
  const taken = new Map<string, string>();
  for (const kind of ['files', 'directories', 'links'] as const) {
    for (const node of listOf<IgnitionNode>(theirs[kind], `storage.${kind}`)) {
      const path = posix.normalize(node.path);
      // Remember a file or link over a directory at the same path: that is the entry beacon cannot live with.
      if (taken.get(path) === undefined || kind !== 'directories') taken.set(path, kind);
    }
  }
  for (const kind of ['files', 'directories', 'links'] as const) {
    for (const node of ours.storage?.[kind] ?? []) {
      const path = posix.normalize(node.path);
      const clash = taken.get(path);
      if (clash) throw new ConfigError('--merge', path, `already defines this path in storage.${clash}; beacon writes it too (remove it from the existing config)`);
      // A file or link of theirs where we need a directory is just as fatal.
      for (let dir = posix.dirname(path); dir !== '/'; dir = posix.dirname(dir)) {
        const kindThere = taken.get(dir);
        if (kindThere && kindThere !== 'directories') {
          throw new ConfigError('--merge', dir, `is in storage.${kindThere} but beacon needs a directory there for ${path}`);
        }
      }
    }
  }
  const users = listOf<IgnitionUser>(out.passwd?.users, 'passwd.users');
  for (const u of ours.passwd?.users ?? []) {
    if (users.some((x) => x.name === u.name)) {
      throw new ConfigError('--merge', u.name, 'already defines this user in passwd.users; beacon creates it (remove it from the existing config)');
    }
  }
  const units = listOf<IgnitionUnit>(out.systemd?.units, 'systemd.units');
  const names = new Set(units.map((u) => u.name));
  for (const u of ours.systemd?.units ?? []) {
    if (names.has(u.name)) throw new ConfigError('--merge', u.name, 'already defines this unit in systemd.units; beacon installs it (remove it from the existing config)');
  }

  const add = ours.storage ?? {};
  const storage = { ...theirs };
  if (add.files?.length) storage.files = [...(theirs.files ?? []), ...add.files];
  if (add.directories?.length) storage.directories = [...(theirs.directories ?? []), ...add.directories];
  if (add.links?.length) storage.links = [...(theirs.links ?? []), ...add.links];
  out.storage = storage;
  if (ours.passwd?.users?.length) out.passwd = { ...(out.passwd ?? {}), users: [...users, ...ours.passwd.users] };
  out.systemd = { ...(out.systemd ?? {}), units: [...units, ...(ours.systemd?.units ?? [])] };
  return out;
}

/** The higher of two 3.x versions. */
function higher(a: string, b: string): string {
  const [, amin, apat] = SPEC.exec(a)!.map(Number);
  const [, bmin, bpat] = SPEC.exec(b)!.map(Number);
  return amin! > bmin! || (amin === bmin && apat! >= bpat!) ? a : b;
}

function listOf<T extends { name?: string; path?: string }>(v: unknown, where: string): T[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => isObject(x) && typeof (x.path ?? x.name) === 'string')) {
    throw new ConfigError(`--merge ${where}`, shape(v), 'must be a list of objects with a path (or, for units and users, a name)');
  }
  return v as T[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function shape(v: unknown): string {
  return Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v;
}
