// `beacon explain node NAME`: why a node is in its state, as a timeline. The logic is
// src/explain/explain.ts (the status page serves the same); this file only prints it.
import { isValidName } from '../../etcd/keys.js';
import type { DecodeError } from '../../errors.js';
import { explainNode, type TimelineEntry } from '../../explain/explain.js';
import { ExitCode, type Command } from '../command.js';
import { paint, renderData, renderTable, useColour, writeSkipped, type Column } from '../output.js';
import { safeText } from '../safe-text.js';
import { toneOf } from '../views.js';
import { withStore } from '../with-store.js';

// A timeline row's tone: failures red, leaves and held-back hooks yellow, registrations green.
function toneOfEntry(e: TimelineEntry): ReturnType<typeof toneOf> {
  if (e.what === 'NodeFailed' || e.what === 'FailedTogether' || e.what === 'PartitionSuspected') return 'bad';
  if (e.what === 'NodeLeft' || e.what === 'HookHeld' || e.what === 'Maintenance' || e.detail.includes('held back')) return 'warn';
  if (e.what === 'NodeJoined' || e.what === 'NodeRecovered' || e.what === 'Registered') return 'good';
  return undefined;
}

const timelineColumns: Column<TimelineEntry>[] = [
  { header: 'TIME', get: (e) => e.time },
  { header: 'WHAT', get: (e) => e.what, tone: toneOfEntry },
  { header: 'DETAIL', get: (e) => e.detail },
];

/** The `explain` subcommand (one kind: `node`). */
export const explainCommand: Command = {
  name: 'explain',
  summary: 'why a node is in its state: a timeline of its registration, changes, failure or leave, and hooks',
  usage: 'beacon explain node NAME [-o table|wide|json|yaml] [--etcd URLS] [--prefix P]',
  options: {},
  maxArgs: 2,
  flags: [],
  exits: { usage: 'not "node NAME", or an invalid NAME', notFound: 'etcd holds nothing about the node', etcdUnavailable: 'etcd did not answer' },
  examples: ['beacon explain node node1', 'beacon explain node node1 -o json'],
  run: (ctx) =>
    withStore(ctx, async ({ store, keys, format }) => {
      const [kind, name, ...extra] = ctx.positionals;
      if (kind !== 'node' || name === undefined || extra.length > 0 || !isValidName(name)) {
        ctx.stderr.write(`beacon explain: expected "node NAME"\nusage: ${explainCommand.usage}\n`);
        return ExitCode.usage;
      }
      const skipped: DecodeError[] = [];
      const x = await explainNode(store, keys, name, new Date(), { onSkipped: (e) => skipped.push(e) });
      writeSkipped(ctx.stderr, skipped);
      if (!x) {
        ctx.stderr.write(`beacon explain: node ${JSON.stringify(name)} not found\n`);
        return ExitCode.notFound;
      }
      if (format === 'json' || format === 'yaml') {
        ctx.stdout.write(renderData(format, x));
        return ExitCode.ok;
      }
      const colour = useColour(ctx.stdout);
      // Record text throughout: escaped; the detail is not cut in `-o wide` (the whole story), cut to a cell otherwise.
      ctx.stdout.write(`${safeText(x.node)}: ${paint(x.state, toneOf(x.state), colour)}\n${safeText(x.verdict)}\n\n`);
      ctx.stdout.write(
        renderTable(timelineColumns, x.timeline, { colour, ...(format === 'wide' ? { maxCellWidth: Infinity } : { maxCellWidth: 160 }) }),
      );
      if (x.skipped > 0) ctx.stdout.write(`\n${x.skipped} record${x.skipped === 1 ? '' : 's'} skipped (they fail the schema; see the warnings)\n`);
      return ExitCode.ok;
    }),
};
