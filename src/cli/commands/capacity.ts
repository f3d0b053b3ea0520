// `beacon capacity`: per node capacity, reservations and use; per service reservation against use; and
// the three findings of src/capacity/fit.ts (shortage, waste, mismatch). Reads the registered nodes'
// live and usage records (one prefix read); docs/capacity.md explains how to read it.
import type { Writable } from 'node:stream';
import { DEFAULT_FIT, fit, type Flag, type FitOptions, type NodeFit, type NodeInput, type ServiceFit } from '../../capacity/fit.js';
import { capacityReport, nodeInput, type CapacityReport } from '../../capacity/report.js';
import { readRegistry, type Snapshot } from '../../registry/reader.js';
import { humanBytes, humanCpu } from '../../util/quantity.js';
import { ExitCode, type Command } from '../command.js';
import { renderData, renderTable, useColour, writeSkipped, type Column } from '../output.js';
import { safeText } from '../safe-text.js';
import { withStore } from '../with-store.js';

/** The registered nodes of a snapshot as fit.ts reads them: capacity from facts, the rest from the usage record. */
export function fitInputs(snap: Snapshot): NodeInput[] {
  return [...snap.nodes.values()]
    .filter((e) => e.live && e.live.state === 'up')
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((e) => nodeInput(e.name, e.live!.facts, e.usage));
}

const cpu = (n: number | null | undefined) => (n === null || n === undefined ? '-' : humanCpu(n));
const mem = (n: number | null | undefined) => (n === null || n === undefined ? '-' : humanBytes(n));
const flagsText = (flags: Flag[]) => (flags.length ? [...new Set(flags.map((f) => f.kind))].join(',') : '-');
const share = (used: number | undefined, of: number | null) => (used === undefined || !of ? '' : ` (${Math.round((used / of) * 100)}%)`);

const nodeColumns: Column<NodeFit>[] = [
  { header: 'NODE', get: (n) => n.name },
  { header: 'CPU CAP', get: (n) => cpu(n.capacity.cpu) },
  { header: 'CPU RESERVED', get: (n) => `${cpu(n.reserved.cpu)}${share(n.reserved.cpu, n.capacity.cpu)}` },
  { header: 'CPU USED', get: (n) => cpu(n.used?.cpu) },
  { header: 'MEM CAP', get: (n) => mem(n.capacity.memoryBytes) },
  { header: 'MEM RESERVED', get: (n) => `${mem(n.reserved.memoryBytes)}${share(n.reserved.memoryBytes, n.capacity.memoryBytes)}` },
  { header: 'MEM USED', get: (n) => mem(n.used?.memoryBytes) },
  { header: 'FLAGS', get: (n) => flagsText(n.flags), tone: (n) => (n.flags.length ? 'bad' : undefined) },
];

const serviceColumns: Column<ServiceFit>[] = [
  { header: 'SERVICE', get: (s) => s.service },
  { header: 'NODE', get: (s) => s.node },
  { header: 'CPU RESERVED', get: (s) => cpu(s.reserved.cpu) },
  { header: 'CPU USED', get: (s) => `${cpu(s.used?.cpu)}${share(s.used?.cpu, s.reserved.cpu)}` },
  { header: 'MEM RESERVED', get: (s) => mem(s.reserved.memoryBytes) },
  { header: 'MEM USED', get: (s) => `${mem(s.used?.memoryBytes)}${share(s.used?.memoryBytes, s.reserved.memoryBytes)}` },
  { header: 'FLAGS', get: (s) => (s.error ? 'error' : flagsText(s.flags)), tone: (s) => (s.error || s.flags.length ? 'bad' : undefined) },
  { header: 'SOURCE', get: (s) => s.source ?? '-', wide: true },
];

interface Finding {
  kind: Flag['kind'] | 'error';
  subject: string;
  message: string;
}

function findings(nodes: NodeFit[], services: ServiceFit[]): Finding[] {
  return [
    ...nodes.flatMap((n) => n.flags.map((f) => ({ kind: f.kind, subject: `node ${n.name}`, message: f.message }))),
    ...services.flatMap((s) => [
      ...(s.error ? [{ kind: 'error' as const, subject: `service ${s.service} on ${s.node}`, message: s.error }] : []),
      ...s.flags.map((f) => ({ kind: f.kind, subject: `service ${s.service} on ${s.node}`, message: f.message })),
    ]),
  ];
}

// One node's part of the fleet's figures, from a snapshot holding that node's keys; undefined when it
// publishes no usage record. Whether a reservation fits on no node is a fleet question (it needs every
// node): left to `beacon capacity`, so its shortage flags are dropped here.
function nodeFit(snap: Snapshot, node: string, opts: FitOptions): { node: NodeFit; services: ServiceFit[] } | undefined {
  if (!snap.nodes.get(node)?.usage) return undefined;
  const { nodes, services } = fit(fitInputs(snap).filter((n) => n.name === node), opts);
  const n = nodes[0];
  if (!n) return undefined;
  return { node: n, services: services.map((s) => ({ ...s, flags: s.flags.filter((f) => f.kind !== 'shortage') })) };
}

/** The human view of one node's capacity for `describe node` (src/cli/commands/describe.ts); undefined without a usage record. */
export function renderNodeCapacity(snap: Snapshot, node: string, opts: FitOptions = DEFAULT_FIT): string | undefined {
  const f = nodeFit(snap, node, opts);
  if (!f) return undefined;
  let out = renderTable(nodeColumns.slice(1), [f.node]);
  if (f.services.length) out += renderTable(serviceColumns.filter((c) => c.header !== 'NODE'), f.services);
  // Record text (an error from the node's agent): escaped like any table cell.
  for (const x of findings([f.node], f.services)) out += `${x.kind}: ${safeText(`${x.subject}: ${x.message}`, 300)}\n`;
  return out;
}

/** `describe node -o json`'s `capacity`: the node's part of `beacon capacity -o json` (same shape), or null without a usage record. */
export function nodeCapacityReport(snap: Snapshot, node: string, opts: FitOptions = DEFAULT_FIT): CapacityReport | null {
  const f = nodeFit(snap, node, opts);
  return f ? capacityReport([f.node], f.services) : null;
}

function readShare(ctx: { stderr: Writable }, name: string, value: unknown, fallback: number): number | undefined {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && /^(?:0|1|0?\.\d+|1\.0*)$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n)) {
    ctx.stderr.write(`beacon capacity: --${name} must be a share from 0 to 1, such as 0.2 (got ${JSON.stringify(String(value)).slice(0, 40)})\n`);
    return undefined;
  }
  return n;
}

/** The `capacity` subcommand. */
export const capacityCommand: Command = {
  name: 'capacity',
  summary: 'capacity, reservations and use per node and service: shortage, waste, mismatch',
  usage: 'beacon capacity [--waste-below SHARE] [--mismatch-gap SHARE] [-o table|wide|json|yaml] [--etcd URLS] [--prefix P]',
  options: { 'waste-below': { type: 'string' }, 'mismatch-gap': { type: 'string' } },
  maxArgs: 0,
  flags: [
    ['--waste-below SHARE', 'a service using under this share of its reservation over the window is waste (default 0.2)'],
    ['--mismatch-gap SHARE', 'a node whose free CPU and free memory shares differ by this much strands one of them (default 0.5)'],
  ],
  exits: { usage: 'a share outside 0–1, or an argument', etcdUnavailable: 'etcd did not answer' },
  examples: ['beacon capacity', 'beacon capacity -o wide', 'beacon capacity --waste-below 0.1 -o json'],
  run: async (ctx) => {
    const wasteBelow = readShare(ctx, 'waste-below', ctx.values['waste-below'], DEFAULT_FIT.wasteBelow);
    const mismatchGap = readShare(ctx, 'mismatch-gap', ctx.values['mismatch-gap'], DEFAULT_FIT.mismatchGap);
    if (wasteBelow === undefined || mismatchGap === undefined || ctx.positionals.length > 0) {
      if (ctx.positionals.length > 0) ctx.stderr.write(`beacon capacity: takes no arguments\nusage: ${capacityCommand.usage}\n`);
      return ExitCode.usage;
    }
    return withStore(ctx, async ({ store, keys, format }) => {
      const snap = await readRegistry(store, keys);
      writeSkipped(ctx.stderr, snap.errors);
      const { nodes, services } = fit(fitInputs(snap), { wasteBelow, mismatchGap });
      if (format === 'json' || format === 'yaml') {
        ctx.stdout.write(renderData(format, capacityReport(nodes, services)));
        return ExitCode.ok;
      }
      const opts = { colour: useColour(ctx.stdout), wide: format === 'wide' };
      ctx.stdout.write(renderTable(nodeColumns, nodes, opts));
      if (services.length) ctx.stdout.write(`\n${renderTable(serviceColumns, services, opts)}`);
      const list = findings(nodes, services);
      if (list.length) {
        ctx.stdout.write(`\n${renderTable<Finding>([
          { header: 'FINDING', get: (f) => f.kind, tone: () => 'bad' },
          { header: 'SUBJECT', get: (f) => f.subject },
          { header: 'DETAIL', get: (f) => f.message },
        ], list, { ...opts, maxCellWidth: 200 })}`);
      }
      return ExitCode.ok;
    });
  },
};
