// `beacon describe node NAME`: everything known about one node, in one place (kubectl describe's job).
import type { CapacityReport } from '../../capacity/report.js';
import { isValidName, type Keys } from '../../etcd/keys.js';
import type { Store } from '../../etcd/store.js';
import { DecodeError } from '../../errors.js';
import type { Condition } from '../../problems/types.js';
import { decodeKey } from '../../registry/codec.js';
import { buildSnapshot, nodeViews, type Snapshot } from '../../registry/reader.js';
import { readEvents, type FleetEvent } from '../../registry/events.js';
import type { EndpointRecord } from '../../types.js';
import type { StatusRecord } from '../../watcher/records.js';
import { ExitCode, type Command } from '../command.js';
import { renderData, renderTable, useColour, writeSkipped } from '../output.js';
import { safeText } from '../safe-text.js';
import { age, checkColumns, conditionColumns, eventColumns, maintenanceText, serviceColumns } from '../views.js';
import { withStore } from '../with-store.js';
import { nodeJson } from './nodes.js';
import { endpointJson } from './services.js';
import { eventJson } from './events.js';
import { nodeCapacityReport, renderNodeCapacity } from './capacity.js';

/** How many of the node's newest events (watcher and node problem events together) are shown. */
const RECENT_EVENTS = 10;

/** What `describe node` gathers (its JSON/YAML shape adds `conditions`, `endpoints`, `events`, `watcherStatus`, `capacity` to the node). */
interface NodeDescription {
  node: ReturnType<typeof nodeViews>[number];
  conditions: Condition[];
  endpoints: EndpointRecord[];
  /** Newest first. */
  events: FleetEvent[];
  status?: StatusRecord;
  errors: DecodeError[];
  /** Capacity, reservations and use (src/cli/commands/capacity.ts), when the node publishes them: the table... */
  capacity?: string;
  /** ...and the same figures and flags as data (`capacity` in JSON and YAML). */
  capacityReport: CapacityReport | null;
}

// Five prefix/key reads at one time: the node's keys, every endpoint, the watcher's status, the watcher's
// events and the node's problem events.
async function describeNode(store: Store, keys: Keys, name: string): Promise<NodeDescription | undefined> {
  const [own, services, status, events] = await Promise.all([
    store.list(keys.node(name)),
    store.list(keys.services),
    store.get(keys.status(name)),
    readEvents(store, keys, { node: name }),
  ]);
  const snap = buildSnapshot(keys, [...own.kvs, ...services.kvs.filter((kv) => kv.key.endsWith(`/${name}`))]);
  const node = nodeViews(snap).find((n) => n.name === name);
  if (!node) return undefined;
  const errors = [...snap.errors];
  // The conditions were decoded with the node's other keys (buildSnapshot): shown while it is registered.
  const conditions: Condition[] = node.conditions;
  let watcherStatus: StatusRecord | undefined;
  if (status) {
    const r = decodeKey(keys, status);
    if (r instanceof DecodeError) errors.push(r);
    else if (r?.kind === 'watcher-status') watcherStatus = r.record;
  }
  errors.push(...events.errors);
  return {
    node,
    conditions,
    endpoints: snap.endpoints.filter((e) => e.node === name),
    // kubectl describe's order: the newest first.
    events: events.events.slice(-RECENT_EVENTS).reverse(),
    ...(watcherStatus ? { status: watcherStatus } : {}),
    errors,
    ...capacityOf(snap, name),
  };
}

// The endpoints as `services` shows them, with the output (the deciding check's) in the narrow view too.
const endpointColumns = serviceColumns.map((c) => (c.header === 'OUTPUT' ? { ...c, wide: false } : c));

function capacityOf(snap: Snapshot, name: string): { capacity?: string; capacityReport: CapacityReport | null } {
  const text = renderNodeCapacity(snap, name);
  return { ...(text === undefined ? {} : { capacity: text }), capacityReport: nodeCapacityReport(snap, name) };
}

function indent(text: string): string {
  return text.trimEnd().split('\n').map((l) => `  ${l}`).join('\n') + '\n';
}

// The human view: `Key: value` lines, then one small table per section (kubectl describe's layout).
function renderDescription(d: NodeDescription, colour: boolean, wide: boolean): string {
  const n = d.node;
  const facts = n.live?.facts;
  const fields: [string, string][] = [
    ['Name', n.name],
    ['Status', n.status],
    ['Address', n.address || '-'],
    ['Addresses', n.live?.addresses.join(', ') || '-'],
    ['Labels', Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '-'],
    ['Machine ID', n.machineId || '-'],
    ['Boot ID', n.bootId || '-'],
    ['Lease', n.lease || '-'],
    ['Registered', n.registeredAt ? `${n.registeredAt} (${age(n.registeredAt)} ago)` : '-'],
    ['Agent', n.live ? `${n.live.agentVersion} (pid ${n.live.pid})` : '-'],
    ['OS', facts ? `${facts.os} ${facts.osRelease} (${facts.kernel}, ${facts.arch})` : '-'],
    ['Capacity', facts ? `${facts.cpus} CPUs, ${(facts.memoryBytes / 2 ** 30).toFixed(1)} GiB memory` : '-'],
    ['Watcher', d.status ? `${d.status.state} since ${d.status.since} (${d.status.reason || 'no reason'})` : '-'],
    ['Maintenance', n.maintenance ? `${maintenanceText(n.maintenance)} (since ${n.maintenance.updatedAt})` : '-'],
  ];
  const w = Math.max(...fields.map(([k]) => k.length)) + 1;
  // Every value is record text: escaped like a table cell (not cut: this is the detailed view).
  let out = fields.map(([k, v]) => `${`${k}:`.padEnd(w)}  ${safeText(v)}`).join('\n') + '\n';
  const section = (title: string, body: string | undefined) => {
    out += `${title}:\n${body === undefined ? '  <none>\n' : indent(body)}`;
  };
  const opts = { colour, wide };
  section('Conditions', d.conditions.length ? renderTable(conditionColumns, d.conditions, opts) : undefined);
  section('Endpoints', d.endpoints.length ? renderTable(endpointColumns, d.endpoints, opts) : undefined);
  const checks = d.endpoints.flatMap((e) => (e.checks ?? []).map((check) => ({ service: e.service, check })));
  section('Checks', checks.length ? renderTable(checkColumns, checks, opts) : undefined);
  section('Events', d.events.length ? renderTable(eventColumns, d.events, opts) : undefined);
  if (d.capacity !== undefined) section('Capacity', d.capacity);
  return out;
}

/** The `describe` subcommand (one kind for now: `node`). */
export const describeCommand: Command = {
  name: 'describe',
  summary: 'show one node in detail: facts, conditions, endpoints, recent events',
  usage: 'beacon describe node NAME [-o table|wide|json|yaml] [--etcd URLS] [--prefix P]',
  options: {},
  maxArgs: 2,
  flags: [],
  exits: { usage: 'not "node NAME", or an invalid NAME', notFound: 'beacon has never seen the node', etcdUnavailable: 'etcd did not answer' },
  examples: ['beacon describe node node1', 'beacon describe node node1 -o yaml'],
  run: (ctx) =>
    withStore(ctx, async ({ store, keys, format }) => {
      const [kind, name, ...extra] = ctx.positionals;
      if (kind !== 'node' || name === undefined || extra.length > 0 || !isValidName(name)) {
        ctx.stderr.write(`beacon describe: expected "node NAME"\nusage: ${describeCommand.usage}\n`);
        return ExitCode.usage;
      }
      const d = await describeNode(store, keys, name);
      if (!d) {
        ctx.stderr.write(`beacon describe: node ${JSON.stringify(name)} not found\n`);
        return ExitCode.notFound;
      }
      writeSkipped(ctx.stderr, d.errors);
      if (format === 'json' || format === 'yaml') {
        const data = {
          ...nodeJson(d.node),
          conditions: d.conditions,
          endpoints: d.endpoints.map(endpointJson),
          events: d.events.map(eventJson),
          watcherStatus: d.status ?? null,
          capacity: d.capacityReport,
        };
        ctx.stdout.write(renderData(format, data));
      } else {
        ctx.stdout.write(renderDescription(d, useColour(ctx.stdout), format === 'wide'));
      }
      return ExitCode.ok;
    }),
};
