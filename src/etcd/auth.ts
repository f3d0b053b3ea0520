// Apply an RBAC plan (src/rbac/plan.ts) through etcd's auth API, idempotently: create missing roles and users,
// grant what is missing, revoke what the plan no longer holds, optionally enable authentication.
// Passwords go to etcd and nowhere else: changes name users and roles, never a password.
import type { Etcd3 } from 'etcd3';
import type { EtcdConfig } from './options.js';
import { BeaconError } from '../errors.js';
import { createClient } from './client.js';
import { call, translate } from './errors.js';

/** etcd's permission types, spelled as etcdctl spells them. */
export type Access = 'read' | 'write' | 'readwrite';

/** One permission of a role: an exact key, or every key under a prefix. */
export interface Permission {
  access: Access;
  key: string;
  prefix: boolean;
}

/** One role and its permissions, in a stable order. */
export interface RolePlan {
  name: string;
  permissions: Permission[];
}

/** One user and the roles it gets. */
export interface UserPlan {
  name: string;
  roles: string[];
}

/** Roles and users for a fleet; users are named like the role they hold. */
export interface RbacPlan {
  prefix: string;
  roles: RolePlan[];
  users: UserPlan[];
}

/** Name prefix of the per-node roles and users: `beacon-node-<node>`. */
export const NODE_ROLE_PREFIX = 'beacon-node-';

/** One change made to etcd's auth store (for the human report; never holds a secret). */
export interface AuthChange {
  action:
    | 'add-role'
    | 'grant-permission'
    | 'revoke-permission'
    | 'add-user'
    | 'set-password'
    | 'grant-role'
    | 'revoke-role'
    | 'delete-role'
    | 'delete-user'
    | 'add-root'
    | 'enable-auth';
  /** Role or user the change is about. */
  name: string;
  /** What was granted or revoked, e.g. `readwrite /beacon/v1/nodes/a/ (prefix)` or a role name. */
  detail?: string;
}

/** A user's password for the apply: `fresh` ones were just generated and are set even on an existing user. */
export interface PlannedPassword {
  password: string;
  fresh: boolean;
}

/** How to apply a plan. */
export interface ApplyOptions {
  /** Passwords by user name, or `none`: users are created without one (client-certificate auth). */
  passwords: ReadonlyMap<string, PlannedPassword> | 'none';
  /** Delete `beacon-node-*` roles and users that the plan does not hold (nodes gone from the fleet). */
  prune?: boolean;
  /** Enable authentication at the end; a missing root user is created with `rootPassword`. */
  enableAuth?: { rootPassword?: string };
}

/** What the apply did and found. */
export interface ApplyResult {
  changes: AuthChange[];
  /** `beacon-node-*` roles in etcd that the plan does not hold (deleted when `prune`). */
  stale: string[];
  /** Whether authentication was on before the apply (known from whether the credentials were needed). */
  authWasEnabled: boolean;
}

/** An apply that cannot go on (missing root password, auth store refusal); the message names no secret. */
export class RbacApplyError extends BeaconError {}

type EtcdPermType = 'Read' | 'Write' | 'Readwrite';
const PERM_TYPE = { read: 'Read', write: 'Write', readwrite: 'Readwrite' } as const satisfies Record<Access, EtcdPermType>;
const ROOT = 'root';

/** The end of the key range etcd uses for a prefix (etcd's GetPrefixRangeEnd): the prefix with its last byte + 1. */
export function prefixRangeEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i]! += 1;
      return end;
    }
  }
  return Buffer.from([0]); // every key (etcd's "\0")
}

// A permission as etcd stores it: [key, rangeEnd) or the exact key (empty rangeEnd).
interface Range {
  key: Buffer;
  rangeEnd: Buffer;
  type: EtcdPermType;
}

function toRange(p: Permission): Range {
  return { key: Buffer.from(p.key), rangeEnd: p.prefix ? prefixRangeEnd(p.key) : Buffer.alloc(0), type: PERM_TYPE[p.access] };
}

const rangeId = (r: { key: Buffer; rangeEnd: Buffer }) => `${r.key.toString('hex')}:${r.rangeEnd.toString('hex')}`;

function describe(r: Range): string {
  const access = r.type.toLowerCase();
  if (r.rangeEnd.length === 0) return `${access} ${r.key.toString()}`;
  if (prefixRangeEnd(r.key.toString()).equals(r.rangeEnd)) return `${access} ${r.key.toString()} (prefix)`;
  return `${access} [${r.key.toString()}, ${r.rangeEnd.toString()})`;
}

/**
 * Connect with `cfg`'s credentials; when etcd says authentication is off, go on without them
 * (a first apply, before `--enable-auth`). Resolves the client and whether auth was on.
 */
async function connect(cfg: EtcdConfig): Promise<{ client: Etcd3; authEnabled: boolean }> {
  if (cfg.username === undefined) {
    const client = createClient(cfg);
    return { client, authEnabled: false };
  }
  const client = createClient(cfg);
  try {
    await client.auth.roleList();
    return { client, authEnabled: true };
  } catch (err) {
    client.close();
    if (!isAuthNotEnabled(err)) throw translate(err, 'auth role list');
    const { username: _u, password: _p, ...anonymous } = cfg;
    return { client: createClient(anonymous), authEnabled: false };
  }
}

// etcd answers FAILED_PRECONDITION "etcdserver: authentication is not enabled" to credentials it does not use.
function isAuthNotEnabled(err: unknown): boolean {
  return err instanceof Error && /authentication is not enabled/.test(err.message);
}

/** Make etcd's roles and users match `plan`; safe to run again (a second run changes nothing). */
export async function applyRbac(cfg: EtcdConfig, plan: RbacPlan, opts: ApplyOptions): Promise<ApplyResult> {
  const { client, authEnabled } = await connect(cfg);
  const changes: AuthChange[] = [];
  const auth = client.auth;
  try {
    const roles = new Set((await call('auth role list', () => auth.roleList())).roles);
    for (const role of plan.roles) {
      if (!roles.has(role.name)) {
        await call(`auth role add ${role.name}`, () => auth.roleAdd({ name: role.name }));
        changes.push({ action: 'add-role', name: role.name });
      }
      const have = roles.has(role.name) ? (await call(`auth role get ${role.name}`, () => auth.roleGet({ role: role.name }))).perm : [];
      const want = new Map(role.permissions.map(toRange).map((r) => [rangeId(r), r]));
      const haveById = new Map(have.map((p) => [rangeId({ key: p.key, rangeEnd: p.range_end }), p]));
      for (const [id, p] of haveById) {
        if (want.has(id)) continue;
        const r: Range = { key: p.key, rangeEnd: p.range_end, type: p.permType };
        await call(`auth role revoke-permission ${role.name}`, () =>
          auth.roleRevokePermission({ role: role.name, key: p.key, range_end: p.range_end }),
        );
        changes.push({ action: 'revoke-permission', name: role.name, detail: describe(r) });
      }
      for (const [id, r] of want) {
        if (haveById.get(id)?.permType === r.type) continue;
        await call(`auth role grant-permission ${role.name}`, () =>
          auth.roleGrantPermission({ name: role.name, perm: { permType: r.type, key: r.key, range_end: r.rangeEnd } }),
        );
        changes.push({ action: 'grant-permission', name: role.name, detail: describe(r) });
      }
    }

    const users = new Set((await call('auth user list', () => auth.userList())).users);
    for (const user of plan.users) {
      const pw = opts.passwords === 'none' ? undefined : opts.passwords.get(user.name);
      if (!users.has(user.name)) {
        if (opts.passwords !== 'none' && !pw) throw new RbacApplyError(`no password for new user ${user.name}`);
        await call(`auth user add ${user.name}`, () =>
          auth.userAdd(pw ? { name: user.name, password: pw.password } : { name: user.name, options: { no_password: true } }),
        );
        changes.push({ action: 'add-user', name: user.name });
      } else if (pw?.fresh) {
        await call(`auth user passwd ${user.name}`, () => auth.userChangePassword({ name: user.name, password: pw.password }));
        changes.push({ action: 'set-password', name: user.name });
      }
      const held = users.has(user.name) ? (await call(`auth user get ${user.name}`, () => auth.userGet({ name: user.name }))).roles : [];
      for (const r of held) {
        if (user.roles.includes(r)) continue;
        await call(`auth user revoke-role ${user.name}`, () => auth.userRevokeRole({ name: user.name, role: r }));
        changes.push({ action: 'revoke-role', name: user.name, detail: r });
      }
      for (const r of user.roles) {
        if (held.includes(r)) continue;
        await call(`auth user grant-role ${user.name}`, () => auth.userGrantRole({ user: user.name, role: r }));
        changes.push({ action: 'grant-role', name: user.name, detail: r });
      }
    }

    const planned = new Set(plan.roles.map((r) => r.name));
    const stale = [...roles].filter((r) => r.startsWith(NODE_ROLE_PREFIX) && !planned.has(r)).sort();
    if (opts.prune) {
      for (const name of stale) {
        if (users.has(name)) {
          await call(`auth user delete ${name}`, () => auth.userDelete({ name }));
          changes.push({ action: 'delete-user', name });
        }
        await call(`auth role delete ${name}`, () => auth.roleDelete({ role: name }));
        changes.push({ action: 'delete-role', name });
      }
    }

    if (opts.enableAuth) {
      if (!users.has(ROOT)) {
        const password = opts.enableAuth.rootPassword;
        if (!password) {
          throw new RbacApplyError(
            'enabling authentication needs a root user: give its new password with --root-password-file FILE or $BEACON_ROOT_PASSWORD',
          );
        }
        await call('auth user add root', () => auth.userAdd({ name: ROOT, password }));
        changes.push({ action: 'add-root', name: ROOT });
      }
      const rootRoles = users.has(ROOT) ? (await call('auth user get root', () => auth.userGet({ name: ROOT }))).roles : [];
      if (!rootRoles.includes(ROOT)) {
        await call('auth user grant-role root', () => auth.userGrantRole({ user: ROOT, role: ROOT }));
        changes.push({ action: 'grant-role', name: ROOT, detail: ROOT });
      }
      if (!authEnabled) {
        await call('auth enable', () => auth.authEnable());
        changes.push({ action: 'enable-auth', name: ROOT });
      }
    }
    return { changes, stale: opts.prune ? [] : stale, authWasEnabled: authEnabled };
  } finally {
    client.close();
  }
}
