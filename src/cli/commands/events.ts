// `beacon events [--follow]`: the watcher's node events (joined, failed, left, recovered, rebooted, partition).
import { follow } from '../../client/follow.js';
import type { Keys } from '../../etcd/keys.js';
import type { KeyValue } from '../../etcd/store.js';
import { DecodeError } from '../../errors.js';
import { decodeKey } from '../../registry/codec.js';
import type { NodeEvent } from '../../watcher/events.js';
import { ExitCode, type Command } from '../command.js';
import { renderData, renderTable, toJson, useColour, writeSkipped, writeView, type Format } from '../output.js';
import { safeText } from '../safe-text.js';
import { eventColumns } from '../views.js';
import { withStore } from '../with-store.js';

/** The stable JSON shape of one event: the record as the watcher stores it (docs/watcher.md). */
export function eventJson(e: NodeEvent): Record<string, unknown> {
  return { ...e };
}

// Through the codec's key binding too: an event not under the watcher's lease, or under another id, is not shown.
function decodeAll(keys: Keys, kvs: Iterable<KeyValue>, warn: (e: DecodeError) => void): NodeEvent[] {
  const out: NodeEvent[] = [];
  for (const kv of kvs) {
    const r = decodeKey(keys, kv);
    if (r instanceof DecodeError) warn(r);
    else if (r?.kind === 'watcher-event') out.push(r.record);
  }
  return out.sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
}

// One event as one line: a JSON line for scripts, else a table row without its header.
function line(format: Format, e: NodeEvent, colour: boolean): string {
  if (format === 'json') return `${toJson(eventJson(e))}\n`;
  if (format === 'yaml') return `---\n${renderData('yaml', eventJson(e))}`;
  return renderTable(eventColumns, [e], { wide: format === 'wide', colour }).split('\n')[1]! + '\n';
}

/** The `events` subcommand. */
export const eventsCommand: Command = {
  name: 'events',
  summary: "the watcher's node events, oldest first (--follow: keep printing new ones)",
  usage: 'beacon events [--follow] [-o table|wide|json|yaml] [--etcd URLS] [--prefix P]',
  options: { follow: { type: 'boolean', short: 'f' } },
  run: (ctx) =>
    withStore(ctx, async ({ store, keys, format }) => {
      const warned = new Set<string>();
      const warn = (e: DecodeError) => {
        if (!warned.has(e.message)) writeSkipped(ctx.stderr, [e]);
        warned.add(e.message);
      };
      // The first listing also tells an unreachable etcd (exit 4) from an empty journal.
      const first = await store.list(keys.watcherEvents);
      const events = decodeAll(keys, first.kvs, warn);
      if (ctx.values.follow !== true) {
        writeView(ctx.stdout, format, eventColumns, events, eventJson);
        return ExitCode.ok;
      }
      // Following: one line per event, oldest first, each event once (a put to a known id is a hook outcome update).
      const colour = useColour(ctx.stdout);
      const seen = new Set<string>();
      if (format === 'table' || format === 'wide') ctx.stdout.write(renderTable(eventColumns, [], { wide: format === 'wide' }));
      const print = (list: NodeEvent[]) => {
        for (const e of list) {
          if (seen.has(e.id)) continue;
          seen.add(e.id);
          ctx.stdout.write(line(format, e, colour));
        }
      };
      print(events);
      await follow(
        store,
        keys.watcherEvents,
        {
          requestTimeoutMs: store.requestTimeoutMs,
          onState: (kvs) => print(decodeAll(keys, kvs.values(), warn)),
          onOutage: (err) => ctx.stderr.write(err ? `warning: etcd not answering (${safeText(err.message)}); retrying\n` : 'etcd answering again\n'),
        },
        ctx.signal,
      );
      return ExitCode.ok;
    }),
};
