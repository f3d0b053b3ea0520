// `beacon watch`: every change under the prefix as it happens, one line each. After a gap (reconnect,
// compaction, hung etcd) it lists again and prints the difference, marked `resync`, so nothing is missed.
import { follow } from '../../client/follow.js';
import type { Keys } from '../../etcd/keys.js';
import type { KeyValue } from '../../etcd/store.js';
import { DecodeError } from '../../errors.js';
import { decodeKey, type KeyedRecord } from '../../registry/codec.js';
import { ExitCode, type Command } from '../command.js';
import { MAX_CELL_WIDTH, paint, renderData, toJson, useColour, writeSkipped } from '../output.js';
import { safeText } from '../safe-text.js';
import { toneOf } from '../views.js';
import { withStore } from '../with-store.js';

/** One change as `beacon watch -o json` prints it (one JSON object per line). */
export interface ChangeLine {
  time: string;
  type: 'put' | 'delete';
  /** What the key is (docs/keys.md): live, identity, conditions, maintenance, endpoint, event, status, watcher-event, reaction, election, unknown. */
  kind: string;
  /** `node`, `service/node`, or the record id, depending on the kind. */
  name: string;
  key: string;
  revision: string;
  /** The new value (parsed JSON when it is JSON); null for a delete. */
  value: unknown;
  /** True when the change was found by listing again after a gap, not seen as a watch event. */
  resync: boolean;
}

function describeKey(keys: Keys, key: string): { kind: string; name: string } {
  const k = keys.parse(key);
  switch (k.kind) {
    case 'endpoint':
      return { kind: k.kind, name: `${k.service}/${k.node}` };
    case 'event':
      return { kind: k.kind, name: `${k.node}/${k.id}` };
    case 'watcher-event':
    case 'reaction':
    case 'election':
      return { kind: k.kind, name: k.id };
    case 'unknown':
      return { kind: k.kind, name: key.startsWith(keys.root) ? key.slice(keys.root.length) : key };
    default:
      return { kind: k.kind, name: k.node };
  }
}

// An unknown key's value as it is (JSON when it parses): shown in -o json/yaml only, never summarised.
function parseValue(kv: KeyValue): unknown {
  const text = kv.value.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// A short summary of a record for the one-line view: the field a human looks for first (validated records only).
function summary(r: KeyedRecord | undefined): string {
  if (!r) return '';
  switch (r.kind) {
    case 'endpoint':
      return `${r.record.health} ${r.record.address}:${r.record.port}`;
    case 'node-live':
    case 'watcher-status':
      return `${r.record.state} ${r.record.address}`.trim();
    case 'watcher-event':
      return `${r.record.event} ${r.record.node}`;
    case 'node-conditions':
      return r.record.conditions.filter((c) => c.status === 'True').map((c) => c.type).join(',') || 'no problems';
    case 'watcher-reaction':
      return r.record.state;
    default:
      return '';
  }
}

/** The `watch` subcommand. */
export const watchCommand: Command = {
  name: 'watch',
  summary: 'print every change under the prefix as it happens, one line each',
  usage: 'beacon watch [-o table|wide|json|yaml] [--etcd URLS] [--prefix P]',
  options: {},
  maxArgs: 0,
  flags: [],
  exits: { etcdUnavailable: 'etcd did not answer (at start)' },
  examples: ['beacon watch', 'beacon watch -o json | jq .kind'],
  run: (ctx) =>
    withStore(ctx, async ({ store, keys, format }) => {
      const colour = useColour(ctx.stdout);
      const warned = new Set<string>();
      const print = (type: 'put' | 'delete', key: string, kv: KeyValue | undefined, revision: string, resync: boolean) => {
        const { kind, name } = describeKey(keys, key);
        // A value that fails the codec is not shown: one warning per key and revision, as the other views.
        const decoded = type === 'put' && kv ? decodeKey(keys, kv) : undefined;
        if (decoded instanceof DecodeError) {
          const id = `${key}@${revision}`;
          if (!warned.has(id)) writeSkipped(ctx.stderr, [decoded]);
          warned.add(id);
          return;
        }
        const value = type === 'put' && kv ? (decoded ? decoded.record : parseValue(kv)) : null;
        const line: ChangeLine = { time: new Date().toISOString(), type, kind, name, key, revision, value, resync };
        if (format === 'json' || format === 'yaml') {
          ctx.stdout.write(format === 'json' ? `${toJson(line)}\n` : `---\n${renderData('yaml', line)}`);
          return;
        }
        // The name, the summary and the key come from etcd: escaped (and cut) like table cells.
        const word = safeText(summary(decoded), MAX_CELL_WIDTH);
        const what = type === 'delete' ? paint('DELETE', 'bad', colour) : paint('PUT   ', undefined, colour);
        const cols = [line.time, what, kind.padEnd(13), safeText(name, MAX_CELL_WIDTH), paint(word, toneOf(word.split(' ')[0]!), colour)];
        if (format === 'wide') cols.push(`rev=${revision}`, safeText(key));
        if (resync) cols.push('(resync)');
        ctx.stdout.write(`${cols.filter(Boolean).join('  ')}\n`);
      };
      // The baseline: changes are printed relative to it (and an unreachable etcd exits 4 here).
      const first = await store.list(keys.root);
      let known = new Map(first.kvs.map((kv) => [kv.key, kv]));
      await follow(
        store,
        keys.root,
        {
          requestTimeoutMs: store.requestTimeoutMs,
          onEvent: (ev) => {
            print(ev.type, ev.kv.key, ev.kv, ev.kv.modRevision, false);
          },
          onState: (kvs, cause, revision) => {
            if (cause === 'list') {
              // Level-triggered: whatever changed while nobody was watching, printed as a difference.
              for (const [key, kv] of kvs) {
                if (known.get(key)?.modRevision !== kv.modRevision) print('put', key, kv, kv.modRevision, true);
              }
              for (const key of known.keys()) if (!kvs.has(key)) print('delete', key, undefined, revision, true);
            }
            known = new Map(kvs);
          },
          onOutage: (err) => ctx.stderr.write(err ? `warning: etcd not answering (${safeText(err.message)}); retrying\n` : 'etcd answering again\n'),
        },
        ctx.signal,
      );
      return ExitCode.ok;
    }),
};
