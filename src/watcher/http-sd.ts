// Prometheus HTTP service discovery (`http_sd_configs`) from the watcher: an in-memory view of every
// endpoint, kept current by list-then-watch over the services prefix (src/client/follow.ts: listed
// again after any gap), rendered as the full target list on every request. A request never reads etcd.
import type { Logger } from 'pino';
import { follow, type FollowStore } from '../client/follow.js';
import { DecodeError } from '../errors.js';
import { isValidName, type Keys } from '../etcd/keys.js';
import type { KeyValue } from '../etcd/store.js';
import { decodeKey } from '../registry/codec.js';
import { escapeText } from '../util/text.js';
import type { EndpointHealth, EndpointRecord } from '../types.js';

/** One target group of the http_sd format. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** Which endpoints a request wants: empty lists mean "all". */
export interface SdFilter {
  services: string[];
  health: EndpointHealth[];
}

/** A query string that is not a valid filter: the message says what is wrong. */
export class SdQueryError extends Error {}

const HEALTH: readonly EndpointHealth[] = ['passing', 'warning', 'critical', 'maintenance'];
const PARAMS = ['service', 'health'];

/** Parse `?service=NAME&health=passing` (each repeatable); throws SdQueryError naming the bad parameter. */
export function parseSdQuery(query: URLSearchParams): SdFilter {
  for (const key of new Set(query.keys())) {
    if (!PARAMS.includes(key)) throw new SdQueryError(`unknown query parameter ${JSON.stringify(key)}: use service=NAME or health=${HEALTH.join('|')}`);
  }
  const services = query.getAll('service');
  for (const s of services) {
    if (!isValidName(s)) throw new SdQueryError(`service=${JSON.stringify(s)} is not a valid service name`);
  }
  const health = query.getAll('health');
  for (const h of health) {
    if (!(HEALTH as readonly string[]).includes(h)) throw new SdQueryError(`health=${JSON.stringify(h)} must be one of ${HEALTH.join(', ')}`);
  }
  return { services, health: health as EndpointHealth[] };
}

/** A label name made of [a-zA-Z0-9_] (anything else becomes `_`), as Prometheus requires. */
export function sanitizeLabelName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** `host:port`, with an IPv6 host in brackets. */
export function targetOf(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The target group of one endpoint, with its node's labels (if the node is registered). */
export function targetGroup(e: EndpointRecord, nodeLabels: Readonly<Record<string, string>> | undefined): TargetGroup {
  const labels: Record<string, string> = {
    __meta_beacon_node: e.node,
    __meta_beacon_service: e.service,
    __meta_beacon_health: e.health,
    // Consul SD's convention: commas around the list, so `.*,tag,.*` matches whole tags.
    __meta_beacon_tags: e.tags.length > 0 ? `,${e.tags.join(',')},` : '',
    __meta_beacon_address: e.address,
    __meta_beacon_port: String(e.port),
    __meta_beacon_protocol: e.protocol,
  };
  for (const [k, v] of Object.entries(e.meta)) labels[`__meta_beacon_service_meta_${sanitizeLabelName(k)}`] = v;
  for (const [k, v] of Object.entries(nodeLabels ?? {})) labels[`__meta_beacon_node_label_${sanitizeLabelName(k)}`] = v;
  return { targets: [targetOf(e.address, e.port)], labels };
}

/** Options of EndpointView. */
export interface EndpointViewOptions {
  store: FollowStore;
  keys: Keys;
  /** A node's labels now (the watcher's own copy of the live records). */
  nodeLabels: (node: string) => Readonly<Record<string, string>> | undefined;
  log: Logger;
  /** Told of endpoint values the codec refuses (logged and counted once per key and revision) and of keys valid again. */
  rejections?: { reject(err: DecodeError, kv: KeyValue): void; clear(key: string): void; clearAll(keep: (key: string) => boolean): void };
  probeIntervalMs?: number;
  requestTimeoutMs?: number;
  /** Called (synchronously, must not throw) after each listing and each batch of watch events. */
  onChange?: () => void;
}

/** Every endpoint of every service, in memory, kept current from etcd. */
export class EndpointView {
  private readonly endpoints = new Map<string, EndpointRecord>();
  private listed = false;
  private readonly log: Logger;

  constructor(private readonly opts: EndpointViewOptions) {
    this.log = opts.log.child({ component: 'http-sd' });
  }

  /** Whether a listing has been taken (before it, there is nothing to serve). */
  get synced(): boolean {
    return this.listed;
  }

  /** How many endpoints the view holds. */
  get size(): number {
    return this.endpoints.size;
  }

  /** Every endpoint record held (valid ones only), in no particular order. */
  records(): IterableIterator<EndpointRecord> {
    return this.endpoints.values();
  }

  /** The target groups matching `filter`, sorted by service, then node. */
  groups(filter: SdFilter = { services: [], health: [] }): TargetGroup[] {
    const out: TargetGroup[] = [];
    const eps = [...this.endpoints.values()].sort((a, b) => (a.service === b.service ? cmp(a.node, b.node) : cmp(a.service, b.service)));
    for (const e of eps) {
      if (filter.services.length > 0 && !filter.services.includes(e.service)) continue;
      if (filter.health.length > 0 && !filter.health.includes(e.health)) continue;
      out.push(targetGroup(e, this.opts.nodeLabels(e.node)));
    }
    return out;
  }

  /** Follow the services prefix until `signal` aborts; resolves once the watch and probe are released. */
  async run(signal: AbortSignal): Promise<void> {
    const { store, keys } = this.opts;
    await follow(
      store,
      keys.services,
      {
        ...(this.opts.probeIntervalMs !== undefined ? { probeIntervalMs: this.opts.probeIntervalMs } : {}),
        ...(this.opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: this.opts.requestTimeoutMs } : {}),
        onState: (kvs, cause) => {
          // After events, they were applied one by one already.
          if (cause === 'list') {
            this.endpoints.clear();
            this.opts.rejections?.clearAll((key) => !key.startsWith(keys.services));
            for (const kv of kvs.values()) this.put(kv);
            this.listed = true;
          }
          this.opts.onChange?.();
        },
        onEvent: (ev) => {
          if (ev.type === 'put') this.put(ev.kv);
          else {
            this.endpoints.delete(ev.kv.key);
            this.opts.rejections?.clear(ev.kv.key);
          }
        },
        onOutage: (err) => {
          // The last view stays the best knowledge (Prometheus keeps its targets too) until a fresh listing.
          if (err) this.log.warn({ err }, 'endpoint view not current: etcd not answering');
          else this.log.info({ endpoints: this.endpoints.size }, 'endpoint view current again');
        },
      },
      signal,
    );
  }

  // Only records the codec accepts (schema and key binding) become targets: every label value is validated.
  private put(kv: KeyValue): void {
    const r = decodeKey(this.opts.keys, kv);
    if (r === undefined || r instanceof DecodeError || r.kind !== 'endpoint') {
      this.endpoints.delete(kv.key);
      const err = r instanceof DecodeError ? r : new DecodeError(kv.key, 'not a key beacon writes');
      if (this.opts.rejections) this.opts.rejections.reject(err, kv);
      else this.log.debug({ key: escapeText(kv.key), problem: escapeText(err.problem) }, 'key skipped');
      return;
    }
    this.opts.rejections?.clear(kv.key);
    this.endpoints.set(kv.key, r.record);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
