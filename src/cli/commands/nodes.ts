// `beacon nodes [NAME...]`: every known node (or the named ones), registered or gone, read straight from etcd.
import { nameProblem } from '../../etcd/keys.js';
import { nodeViews, readRegistry, type NodeView } from '../../registry/reader.js';
import { ExitCode, type Command } from '../command.js';
import { writeSkipped, writeView } from '../output.js';
import { safeText } from '../safe-text.js';
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
    maintenance: n.maintenance,
    ...(n.live ? { facts: n.live.facts, agentVersion: n.live.agentVersion, addresses: n.live.addresses } : {}),
    ...(n.live?.utilization ? { utilization: n.live.utilization } : {}),
  };
}

/** The `nodes` subcommand. */
export const nodesCommand: Command = {
  name: 'nodes',
  summary: 'list nodes (registered, left and failed), all or the named ones',
  usage: 'beacon nodes [NAME...] [-o table|wide|json|yaml] [--etcd URLS] [--prefix P] [-c FILE]',
  options: {},
  maxArgs: Infinity,
  flags: [],
  exits: { usage: 'an invalid NAME', notFound: 'a NAME given is not a known node (the others are still shown)', etcdUnavailable: 'etcd did not answer' },
  examples: ['beacon nodes', 'beacon nodes node1 node2 -o wide', 'beacon nodes -o json'],
  run: (ctx) =>
    withStore(ctx, async ({ store, keys, config, format }) => {
      const names = [...new Set(ctx.positionals)];
      for (const name of names) {
        const problem = nameProblem(name);
        if (problem) {
          ctx.stderr.write(`beacon nodes: invalid node name "${safeText(name)}": ${problem}\n`);
          return ExitCode.usage;
        }
      }
      const snap = await readRegistry(store, keys);
      writeSkipped(ctx.stderr, snap.errors);
      const all = nodeViews(snap);
      // Named nodes, as kubectl get nodes A B: the ones found are shown, each missing one is named (exit 3).
      const shown = names.length === 0 ? all : all.filter((n) => names.includes(n.name));
      const missing = names.filter((name) => !shown.some((n) => n.name === name));
      const under = config.prefix || '/';
      if (names.length === 0) writeView(ctx.stdout, format, nodeColumns, shown, nodeJson, { stderr: ctx.stderr, message: `no nodes found under ${under}` });
      // Every name missing: the not-found lines say it all (no bare header), except in JSON/YAML (an empty list).
      else if (shown.length > 0 || format === 'json' || format === 'yaml') writeView(ctx.stdout, format, nodeColumns, shown, nodeJson);
      for (const name of missing) ctx.stderr.write(`beacon nodes: node "${name}" not found under ${under}\n`);
      return missing.length > 0 ? ExitCode.notFound : ExitCode.ok;
    }),
};
