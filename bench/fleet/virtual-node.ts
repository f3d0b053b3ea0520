// One virtual node of the simulated fleet: the records come from beacon's own agent code (the records a
// lease carries, so the bytes in etcd are exactly an agent's), the keys are kept by beacon's own Registration.
import type { Logger } from 'pino';
import { leaseRecords, type LocalSetup } from '../../src/agent/lease-records.js';
import type { AgentConfig, ServiceConfig } from '../../src/config/types.js';
import { Keys } from '../../src/etcd/keys.js';
import type { Grant, Store } from '../../src/etcd/store.js';
import { Registration, type Renderer } from '../../src/registry/registration.js';
import type { NodeFacts } from '../../src/types.js';
import { SERVICES, tally, type Counters, type ErrorTally } from './protocol.js';


/** What every virtual node of one run shares. */
export interface FleetBase {
  endpoints: string[];
  prefix: string;
  /** Lease TTL, whole seconds. */
  ttl: number;
  keepaliveIntervalMs: number;
  /** Real facts of this host, gathered once per worker: records have a real agent's size. */
  facts: NodeFacts;
  log: Logger;
}

/** Node name of the virtual node with global index `i`. */
export function nodeName(i: number): string {
  return `sim-${String(i).padStart(5, '0')}`;
}

// A 10.x.y.z address per index, unique up to 16 million nodes.
function address(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

function hex(i: number, salt: number, len: number): string {
  let s = '';
  let x = (i + 1) * 2654435761 + salt;
  while (s.length < len) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    s += x.toString(16).padStart(8, '0');
  }
  return s.slice(0, len);
}

function uuid(i: number): string {
  const h = hex(i, 7, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
}

/** The config a real agent of node `i` would load (five services, no checks, no API, no problems). */
export function agentConfig(i: number, base: FleetBase): AgentConfig {
  const services: ServiceConfig[] = SERVICES.map((name, j) => ({
    name,
    port: 8000 + j,
    protocol: 'tcp',
    tags: ['sim', `v${j}`],
    meta: { team: 'bench' },
    checks: [],
  }));
  return {
    etcd: { endpoints: base.endpoints, requestTimeoutMs: 2_000, dialTimeoutMs: 2_000 },
    prefix: base.prefix,
    node: {
      name: nodeName(i),
      ttl: base.ttl,
      keepaliveIntervalMs: base.keepaliveIntervalMs,
      keepaliveTimeoutMs: Math.min(700, Math.floor(base.keepaliveIntervalMs / 2)),
      labels: { role: 'worker', zone: `zone-${i % 3}` },
      address: { address: address(i), envFiles: [], order: ['config'] },
    },
    services,
    problems: null,
    api: null,
    log: { level: 'warn' },
  };
}

/**
 * The records of node `i` as a real agent writes them (src/agent/lease-records.ts), without starting
 * one: its local setup (identity, facts, address) is filled in as `run` would, and every service is passing.
 */
export function agentRenderer(i: number, base: FleetBase): { config: AgentConfig; render: Renderer } {
  const config = agentConfig(i, base);
  const keys = new Keys(config.prefix);
  const local: LocalSetup = {
    identity: { machineId: hex(i, 1, 32), bootId: uuid(i), warnings: [] },
    facts: base.facts,
    address: { address: config.node.address.address!, source: 'config', addresses: [config.node.address.address!] },
  };
  const since = new Date().toISOString();
  const health = { health: 'passing' as const, output: '', since };
  // As the agent does: a lease keeps the time it was first written, a new lease gets a new one.
  let registered: { lease: string; at: string } | undefined;
  const render: Renderer = (lease, phase) => {
    if (registered?.lease !== lease.id) registered = { lease: lease.id, at: new Date().toISOString() };
    return leaseRecords({ config, keys, local, startedAt: since, registeredAt: registered.at, health: () => health }, lease, phase);
  };
  return { config, render };
}

/**
 * Wrap a store's calls (on this instance only) so the worker can count what the fleet asks of etcd,
 * and tally every failure by message.
 */
export function countCalls(store: Store, c: Counters, errors: ErrorTally): Store {
  const counted = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await fn(...a);
      } catch (err) {
        tally(errors, err);
        throw err;
      }
    };
  const keepAliveOnce = store.keepAliveOnce.bind(store);
  store.keepAliveOnce = async (lease, timeoutMs) => {
    c.keepalives++;
    try {
      return await keepAliveOnce(lease, timeoutMs);
    } catch (err) {
      c.keepaliveErrors++;
      tally(errors, err);
      throw err;
    }
  };
  // getMany goes through txn on the instance, so it is counted (as a read) here.
  const txn = counted(store.txn.bind(store));
  store.txn = (compares, then, otherwise) => {
    const writes = [...then, ...(otherwise ?? [])].some((op) => !('get' in op));
    if (writes) c.writeTxns++;
    else c.reads++;
    return txn(compares, then, otherwise);
  };
  const grant = counted(store.grant.bind(store));
  store.grant = (ttl) => (c.grants++, grant(ttl));
  // Grants under an id of the caller's (the LeaseKeeper's); absent from older Stores the simulator may run against.
  const withId = store as { grantWithId?: (ttl: number, id: string) => Promise<Grant> };
  if (withId.grantWithId) {
    const grantWithId = counted(withId.grantWithId.bind(store));
    withId.grantWithId = (ttl, id) => (c.grants++, grantWithId(ttl, id));
  }
  const put = counted(store.put.bind(store));
  store.put = (key, value, lease) => (c.puts++, put(key, value, lease));
  const revoke = counted(store.revoke.bind(store));
  store.revoke = (lease) => (c.revokes++, revoke(lease));
  const get = counted(store.get.bind(store));
  store.get = (key) => (c.reads++, get(key));
  const list = counted(store.list.bind(store));
  store.list = (prefix) => (c.reads++, list(prefix));
  const watch = counted(store.watch.bind(store));
  store.watch = (prefix, from) => (c.watches++, watch(prefix, from));
  const watchKey = counted(store.watchKey.bind(store));
  store.watchKey = (key, from) => (c.watches++, watchKey(key, from));
  return store;
}

/** A virtual beacon node: the agent's records kept in etcd by beacon's Registration. */
export class BeaconNode {
  readonly registration: Registration;
  private done: Promise<void> | undefined;

  constructor(i: number, base: FleetBase, store: Store, c: Counters) {
    const { config, render } = agentRenderer(i, base);
    const n = config.node;
    this.registration = new Registration(
      store,
      new Keys(config.prefix),
      { node: n.name, ttl: n.ttl, keepaliveIntervalMs: n.keepaliveIntervalMs, keepaliveTimeoutMs: n.keepaliveTimeoutMs },
      // Same pid for every node of a worker: harmless, a stale-registration check only runs on conflicts.
      { machineId: hex(i, 1, 32), bootId: uuid(i), pid: process.pid },
      render,
      base.log.child({ component: 'registration', node: n.name }),
    );
    this.registration.on('lost', () => c.lost++);
  }

  /** Start the registration loop; resolves once registered the first time (or on abort). */
  start(signal: AbortSignal): Promise<void> {
    const registered = new Promise<void>((resolve) => {
      this.registration.once('registered', () => resolve());
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    this.done = this.registration.run(signal);
    return registered;
  }

  /** Whether the node believes itself registered now. */
  isRegistered(): boolean {
    return this.registration.isRegistered();
  }

  /** Resolves when the loop has left (graceful leave: mark leaving, revoke). */
  async stopped(): Promise<void> {
    await this.done;
  }
}
