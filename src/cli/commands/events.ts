// `beacon events [NODE] [--follow]`: node events from both writers, oldest first: the watcher's lifecycle
// events (joined, failed, left, recovered, rebooted, partition) and the agents' node problem events
// (OOMKilling, KernelOops... from the problem monitors), each saying its source (src/registry/events.ts).
import { follow } from '../../client/follow.js';
import { nameProblem } from '../../etcd/keys.js';
import type { DecodeError } from '../../errors.js';
import { decodeEvents, eventIdentity, eventPrefixes, isAbout, readEvents, type FleetEvent } from '../../registry/events.js';
import { ExitCode, type Command } from '../command.js';
import { renderData, renderTable, toJson, useColour, writeSkipped, writeView, type Format } from '../output.js';
import { safeText } from '../safe-text.js';
import { eventColumns } from '../views.js';
import { withStore } from '../with-store.js';

/**
 * The stable JSON shape of one event: the record as stored (docs/watcher.md for the watcher's, docs/keys.md
 * for a node problem event) with `origin`: `watcher` or `node`.
 */
export function eventJson(e: FleetEvent): Record<string, unknown> {
  return { origin: e.origin, ...e.record };
}

// One event as one line: a JSON line for scripts, else a table row without its header.
function line(format: Format, e: FleetEvent, colour: boolean): string {
  if (format === 'json') return `${toJson(eventJson(e))}\n`;
  if (format === 'yaml') return `---\n${renderData('yaml', eventJson(e))}`;
  return renderTable(eventColumns, [e], { wide: format === 'wide', colour }).split('\n')[1]! + '\n';
}

/** The `events` subcommand. */
export const eventsCommand: Command = {
  name: 'events',
  summary: "node events, oldest first: the watcher's (NodeFailed...) and the nodes' problems (OOMKilling...)",
  usage: 'beacon events [NODE] [--follow] [-o table|wide|json|yaml] [--etcd URLS] [--prefix P] [-c FILE]',
  options: { follow: { type: 'boolean', short: 'f' } },
  maxArgs: 1,
  flags: [['-f, --follow', 'keep running and print each new event once, as it is written (Ctrl-C to stop)']],
  exits: { usage: 'invalid NODE', etcdUnavailable: 'etcd did not answer (at start)' },
  examples: ['beacon events', 'beacon events node3 -o wide', 'beacon events --follow -o json'],
  run: (ctx) =>
    withStore(ctx, async ({ store, keys, config, format }) => {
      const node = ctx.positionals[0];
      const problem = node === undefined ? undefined : nameProblem(node);
      if (problem) {
        ctx.stderr.write(`beacon events: invalid node name "${safeText(node!)}": ${problem}\n`);
        return ExitCode.usage;
      }
      const warned = new Set<string>();
      const warn = (e: DecodeError) => {
        if (!warned.has(e.message)) writeSkipped(ctx.stderr, [e]);
        warned.add(e.message);
      };
      // The first listing also tells an unreachable etcd (exit 4) from an empty journal.
      const first = await readEvents(store, keys, node === undefined ? {} : { node });
      first.errors.forEach(warn);
      const under = config.prefix || '/';
      if (ctx.values.follow !== true) {
        const message = node === undefined ? `no events found under ${under}` : `no events about node "${node}" found under ${under}`;
        writeView(ctx.stdout, format, eventColumns, first.events, eventJson, { stderr: ctx.stderr, message });
        return ExitCode.ok;
      }
      // Following: one line per event, each event once (see eventIdentity), in the order they are seen.
      const colour = useColour(ctx.stdout);
      const seen = new Set<string>();
      if (format === 'table' || format === 'wide') ctx.stdout.write(renderTable(eventColumns, [], { wide: format === 'wide' }));
      const print = (list: FleetEvent[]) => {
        for (const e of list) {
          if (seen.has(eventIdentity(e)) || (node !== undefined && !isAbout(e, node))) continue;
          seen.add(eventIdentity(e));
          ctx.stdout.write(line(format, e, colour));
        }
      };
      print(first.events);
      // Two prefixes, two followers: the watcher's events and the nodes' (or one node's) problem events.
      const outage = (err: Error | undefined) =>
        ctx.stderr.write(err ? `warning: etcd not answering (${safeText(err.message)}); retrying\n` : 'etcd answering again\n');
      const prefixes = eventPrefixes(keys, node);
      await Promise.all(
        [prefixes.watcher, prefixes.node].map((prefix) =>
          follow(
            store,
            prefix,
            { requestTimeoutMs: store.requestTimeoutMs, onState: (kvs) => print(decodeEvents(keys, kvs.values(), warn)), onOutage: outage },
            ctx.signal,
          ),
        ),
      );
      return ExitCode.ok;
    }),
};
