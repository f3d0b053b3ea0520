// `beacon nodes`: every known node, registered or gone, read straight from etcd.
import { nodeViews, readRegistry, type NodeView } from '../../registry/reader.js';
import { ExitCode, type Command } from '../command.js';
import { writeSkipped, writeView } from '../output.js';
import { nodeColumns } from '../views.js';
import { withStore } from '../with-store.js';


/** The stable JSON shape of one node (scripts rely on these names). */
export function nodeJson(n: NodeView): Record<string, unknown> {
  return {
    name: n.name,
    status: n.status,
    address: n.address,
    bootId: n.bootId,
    machineId: n.machineId,
    labels: n.labels,
    services: n.services,
    lease: n.lease,
    registeredAt: n.registeredAt,
    conditions: n.conditions,
    ...(n.live ? { facts: n.live.facts, agentVersion: n.live.agentVersion, addresses: n.live.addresses } : {}),
    ...(n.live?.utilization ? { utilization: n.live.utilization } : {}),
  };
}

/** The `nodes` subcommand. */
export const nodesCommand: Command = {
  name: 'nodes',
  summary: 'list nodes (registered, left and failed)',
  usage: 'beacon nodes [-o table|wide|json|yaml] [--etcd URLS] [--prefix P]',
  options: {},
  run: (ctx) =>
    withStore(ctx, async ({ store, keys, format }) => {
      const snap = await readRegistry(store, keys);
      writeSkipped(ctx.stderr, snap.errors);
      writeView(ctx.stdout, format, nodeColumns, nodeViews(snap), nodeJson);
      return ExitCode.ok;
    }),
};
