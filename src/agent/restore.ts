// What the previous run left: the maintenance marker, the conditions record and the events still in
// etcd, and the local state file. Read before the first registration, retrying until etcd answers:
// maintenance must be known by then, or the endpoints would flash "passing".
import type { Logger } from 'pino';
import type { ProblemsConfig } from '../config/problems.js';
import { EtcdUnavailableError, type DecodeError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import type { Store } from '../etcd/store.js';
import { Backoff, sleep } from '../util/time.js';
import { escapeText } from '../util/text.js';
import type { MaintenanceMarker } from './maintenance.js';
import type { ProblemsRestore } from './problems.js';
import { decodeConditions, decodeMaintenance, eventLastTime } from './records.js';
import { readLocalState } from './state-file.js';

/** Where to read from and what to restore into. */
export interface RestoreOptions {
  store: Store;
  keys: Keys;
  node: string;
  bootId: string;
  problems: ProblemsConfig | null;
  /** Takes the stored marker (or none) with whatever changed meanwhile on top. */
  maintenance: MaintenanceMarker;
  /** The agent's logger (lines go out as its own, component "agent"). */
  log: Logger;
}

/**
 * Restore the maintenance marker and resolve what node problem detection continues from. A record of
 * the agent's own that fails the schema is ignored (said once); an error waiting cannot fix
 * (permissions) starts without the previous state. Resolves undefined when `signal` aborts first.
 */
export async function restorePrevious(o: RestoreOptions, signal: AbortSignal): Promise<ProblemsRestore | undefined> {
  const { store, keys, node, problems } = o;
  const log = o.log.child({ component: 'agent' });
  const local = problems?.stateFile ? await readLocalState(problems.stateFile, node, log) : undefined;
  const backoff = new Backoff(100, 1_000);
  let warned = false;
  while (!signal.aborted) {
    try {
      const [{ kvs }, events] = await Promise.all([
        store.getMany([keys.maintenance(node), keys.conditions(node)]),
        problems ? store.list(keys.nodeEvents(node)) : undefined,
      ]);
      const bad = (err: DecodeError) => log.warn({ key: escapeText(err.key), problem: escapeText(err.problem) }, 'own record ignored: fails the schema');
      const m = decodeMaintenance(kvs[0], bad);
      o.maintenance.restore(m);
      const record = decodeConditions(kvs[1], bad);
      const times = (events?.kvs ?? []).map((kv) => eventLastTime(kv, bad)).filter((t): t is number => t !== undefined);
      log.info(
        { maintenance: m ? o.maintenance.state() : undefined, conditions: record !== undefined, events: events?.kvs.length, bootId: o.bootId },
        'previous state read',
      );
      return {
        ...(record ? { record } : {}),
        ...(times.length ? { eventsWatermarkMs: Math.max(...times) } : {}),
        ...(local ? { local } : {}),
      };
    } catch (err) {
      if (!(err instanceof EtcdUnavailableError)) {
        log.error({ err }, 'previous state not readable; starting without it');
        o.maintenance.restore(undefined);
        return local ? { local } : {};
      }
      if (!warned) log.warn({ err }, 'etcd not answering; waiting to read the previous state');
      warned = true;
      await sleep(backoff.next(), signal);
    }
  }
  return undefined;
}
