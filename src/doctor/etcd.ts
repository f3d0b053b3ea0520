// What the node's etcd user can do, tried for real: authenticate, read and write (in a transaction that
// changes nothing) its own keys, and be refused another node's; the TTL etcd grants; who holds the name.
import { readFile } from 'node:fs/promises';
import { Keys } from '../etcd/keys.js';
import { isPermissionDenied } from '../etcd/errors.js';
import { decodeNode } from '../registry/codec.js';
import { DecodeError } from '../errors.js';
import { failed, ok, warning, type ConfiguredContext, type DoctorCheck, type Finding } from './types.js';

// A node name no agent uses (names are etcd key segments; "." and "_" are allowed, this one is unlikely).
const OTHER_NODE = 'beacon-doctor.probe_other-node';

/** A transaction whose compare is false and whose branches hold `puts`: etcd checks their permission, writes nothing. */
function writeProbe(key: string) {
  // A key's create revision is never negative: the compare is false, the `then` branch never runs.
  return [[{ key, target: 'Create' as const, op: '<' as const, value: 0 }], [{ put: key, value: '' }]] as const;
}

/** Authentication and permissions on the node's own keys and on another node's. */
export const permissions: DoctorCheck<ConfiguredContext> = async (ctx) => {
  const keys = new Keys(ctx.config.prefix);
  const name = ctx.config.node.name;
  const user = ctx.config.etcd.username;
  const out: Finding[] = [];
  try {
    await ctx.store.get(keys.live(name));
    out.push(ok('etcd user', user ? `"${user}" authenticates` : 'no user configured, and etcd asks for none'));
  } catch (err) {
    if (isPermissionDenied(err)) {
      out.push(ok('etcd user', `"${user}" authenticates`));
      out.push(failed('permission: read own keys', `etcd refuses ${keys.live(name)}`, `grant the node's role readwrite on ${keys.node(name)} (beacon rbac apply, docs/security.md)`));
      return out;
    }
    return [failed('etcd user', (err as Error).message, user ? 'check etcd.username and etcd.password' : 'set etcd.username and etcd.password (or $ETCDCTL_USER)')];
  }
  out.push(ok('permission: read own keys', keys.node(name)));
  const [cmp, then] = writeProbe(keys.live(name));
  try {
    await ctx.store.txn([...cmp], [...then]);
    out.push(ok('permission: write own keys', `${keys.node(name)} (a transaction that changes nothing)`));
  } catch (err) {
    out.push(
      isPermissionDenied(err)
        ? failed('permission: write own keys', `etcd refuses writes to ${keys.live(name)}`, `grant the node's role readwrite on ${keys.node(name)} (beacon rbac apply, docs/security.md)`)
        : failed('permission: write own keys', (err as Error).message, 'check etcd'),
    );
  }
  const [ocmp, othen] = writeProbe(keys.live(OTHER_NODE));
  try {
    await ctx.store.txn([...ocmp], [...othen]);
    out.push(
      user
        ? warning('permission: other nodes\' keys', `"${user}" may write ${keys.node(OTHER_NODE)}: one node's credentials can rewrite every node`, 'give each node a role with write on its own keys only (beacon rbac apply, docs/security.md)')
        : warning('permission: other nodes\' keys', 'etcd authentication is off: any client can rewrite every node', 'turn etcd auth on with a role per node (beacon rbac apply, docs/security.md)'),
    );
  } catch (err) {
    out.push(isPermissionDenied(err) ? ok('permission: other nodes\' keys', 'writes to another node\'s keys are refused') : failed('permission: other nodes\' keys', (err as Error).message, 'check etcd'));
  }
  return out;
};

/** node.ttl against the smallest TTL etcd grants (1.5 × its election timeout) and the measured round trip. */
export const ttl: DoctorCheck<ConfiguredContext> = async (ctx) => {
  const node = ctx.config.node;
  let minTtl: number;
  try {
    // Ask for 1 s: etcd grants its minimum, ceil(1.5 × election timeout) (ETCD-NOTES.md).
    const g = await ctx.store.grant(1);
    minTtl = g.ttl;
    await ctx.store.revoke(g.id).catch(() => undefined);
  } catch (err) {
    return [failed('ttl', `cannot grant a lease: ${(err as Error).message}`, 'the etcd user needs no key permission for leases: check the endpoint findings above')];
  }
  const electionMs = Math.round((minTtl / 1.5) * 1000);
  if (node.ttl < minTtl) {
    return [failed('ttl', `node.ttl is ${node.ttl}s, but etcd grants at least ${minTtl}s (its election timeout is about ${electionMs} ms)`, `set node.ttl to at least ${minTtl * 2}s: a new leader resets leases, and keepalives need room`)];
  }
  // A keepalive must get through within the TTL while a leader election (electionMs) stalls etcd.
  const rtt = ctx.measured.rttMs ?? 0;
  const needMs = node.keepaliveIntervalMs + electionMs + 2 * rtt;
  if (node.ttl * 1000 < needMs) {
    return [warning('ttl', `node.ttl ${node.ttl}s leaves no room: keepalive every ${node.keepaliveIntervalMs} ms + election ${electionMs} ms + round trips ${2 * rtt} ms = ${needMs} ms`, `raise node.ttl to ${Math.ceil((needMs * 1.5) / 1000)}s or more`)];
  }
  return [ok('ttl', `node.ttl ${node.ttl}s (etcd's minimum ${minTtl}s, election ≈ ${electionMs} ms, round trip ${rtt} ms)`)];
};

/** Who holds the node name in etcd now: this machine's agent, nobody, or another machine. */
export const registration: DoctorCheck<ConfiguredContext> = async (ctx) => {
  const keys = new Keys(ctx.config.prefix);
  const name = ctx.config.node.name;
  let kv;
  try {
    kv = await ctx.store.get(keys.live(name));
  } catch (err) {
    return [failed('registration', (err as Error).message, 'see the etcd findings above')];
  }
  if (!kv) return [warning('registration', `no live record for "${name}" in etcd`, 'start the agent (systemctl start beacon-agent) and read its log (journalctl -u beacon-agent)')];
  const rec = decodeNode(kv);
  if (rec instanceof DecodeError) return [failed('registration', `${keys.live(name)} holds a record beacon cannot read`, `find who writes it: etcdctl get ${keys.live(name)}`)];
  const bootId = await readBootId();
  if (bootId !== undefined && rec.bootId !== bootId) {
    return [failed('registration', `"${name}" is held by another machine (address ${rec.address}, lease ${rec.lease})`, 'two machines use one node name: set node.name on one of them')];
  }
  // Same boot: the holder should be an agent process this host can see (not one in another container).
  const cmdline = await readFile(`/proc/${rec.pid}/cmdline`, 'utf8').catch(() => '');
  if (!/beacon/.test(cmdline) || !/\bagent\b/.test(cmdline.replaceAll('\0', ' '))) {
    return [failed('registration', `"${name}" is held by lease ${rec.lease} of an agent (pid ${rec.pid} in its own PID namespace) that is not this host's agent`, 'another agent (a container, or a copy of this config) uses this node name: give each its own node.name')];
  }
  return [ok('registration', `"${name}" registered by pid ${rec.pid} under lease ${rec.lease} (TTL ${rec.ttl}s)`)];
};

async function readBootId(): Promise<string | undefined> {
  return readFile('/proc/sys/kernel/random/boot_id', 'utf8').then((s) => s.trim(), () => undefined);
}
