// Why a node is in its state (issue #15): one timeline from everything etcd holds about it: its records
// (live, identity, conditions, maintenance, endpoints), its node problem events, the watcher's status,
// history, events and reactions, and the other nodes' statuses (failures in the same window suggest a
// partition rather than a dead machine). Read-only and pure apart from the reads: the CLI and the status
// page call the same function. Every value goes through the one codec; what fails is skipped and counted,
// never shown, and never stops the explanation.
import { DecodeError } from '../errors.js';
import { Keys } from '../etcd/keys.js';
import type { KeyValue, Store } from '../etcd/store.js';
import type { ConditionsRecord, EventRecord, MaintenanceRecord } from '../agent/records.js';
import { decodeKey } from '../registry/codec.js';
import type { EndpointRecord, NodeIdentity, NodeRecord } from '../types.js';
import type { NodeEvent, ReactionRecord, StatusRecord } from '../watcher/records.js';
import { HISTORY_BOUNDS, outcomeText, type HistoryEntry } from '../watcher/history.js';

/** One line of the timeline: when, what (a PascalCase word), and the detail in one line of plain text. */
export interface TimelineEntry {
  time: string;
  what: string;
  detail: string;
}

/** The node's state as explained: `unknown` when its live record exists but fails the schema. */
export type ExplainState = 'up' | 'leaving' | 'left' | 'failed' | 'unknown';

/**
 * What `beacon explain node NAME -o json` prints and `GET /v1/explain/NAME` serves. The field names are an
 * interface (docs/cli.md): `node`, `state`, `verdict` (one sentence), `timeline` (oldest first), and
 * `skipped` (records that failed the codec and were left out).
 */
export interface Explanation {
  node: string;
  state: ExplainState;
  verdict: string;
  timeline: TimelineEntry[];
  skipped: number;
}

/** The reads explainNode needs (a Store has them; timeToLive is optional: without it the lease is not asked). */
export type ExplainStore = Pick<Store, 'list' | 'get'> & Partial<Pick<Store, 'timeToLive'>>;

/** Options of explainNode. */
export interface ExplainOptions {
  /** Told of each record that failed the codec (the CLI prints one warning per key). */
  onSkipped?(err: DecodeError): void;
  /** Failures of other nodes this close to the node's own count as the same window (default 60 s). */
  windowMs?: number;
}

/** The default window for "other nodes failed around the same time" (the mass-failure guard's default). */
export const SAME_WINDOW_MS = 60_000;

/** Everything read about one node, decoded. */
interface Gathered {
  name: string;
  live?: NodeRecord;
  liveKv?: KeyValue;
  liveUnreadable: boolean;
  identity?: NodeIdentity;
  conditions?: ConditionsRecord;
  maintenance?: MaintenanceRecord;
  endpoints: EndpointRecord[];
  problems: EventRecord[];
  status?: StatusRecord;
  others: StatusRecord[];
  history: HistoryEntry[];
  events: NodeEvent[];
  partitions: NodeEvent[];
  reactions: ReactionRecord[];
  lease?: { ttl: number; grantedTtl: number };
  skipped: number;
}

/**
 * Explain one node at `now`; undefined when etcd holds nothing about it (no records, no watcher records).
 * `prefix` is the configured prefix or its Keys.
 */
export async function explainNode(
  store: ExplainStore,
  prefix: string | Keys,
  name: string,
  now: Date = new Date(),
  opts: ExplainOptions = {},
): Promise<Explanation | undefined> {
  const keys = typeof prefix === 'string' ? new Keys(prefix) : prefix;
  const g = await gather(store, keys, name, now, opts);
  const known =
    g.live || g.liveUnreadable || g.identity || g.status || g.history.length > 0 || g.events.length > 0 || g.reactions.length > 0;
  if (!known) return undefined;
  const state = stateOf(g);
  const timeline = buildTimeline(g, state, now, opts.windowMs ?? SAME_WINDOW_MS);
  return { node: name, state, verdict: verdictOf(g, state, opts.windowMs ?? SAME_WINDOW_MS), timeline, skipped: g.skipped };
}

async function gather(store: ExplainStore, keys: Keys, name: string, now: Date, opts: ExplainOptions): Promise<Gathered> {
  const [own, services, problems, statuses, history, events, reactions] = await Promise.all([
    store.list(keys.node(name)),
    store.list(keys.services),
    store.list(keys.nodeEvents(name)),
    store.list(keys.statuses),
    store.get(keys.history(name)),
    store.list(keys.watcherEvents),
    store.list(keys.reactions),
  ]);
  const g: Gathered = { name, liveUnreadable: false, endpoints: [], problems: [], others: [], history: [], events: [], partitions: [], reactions: [], skipped: 0 };
  const skip = (e: DecodeError) => {
    g.skipped++;
    opts.onSkipped?.(e);
  };
  const decode = (kv: KeyValue) => {
    const r = decodeKey(keys, kv);
    if (r instanceof DecodeError) {
      skip(r);
      return undefined;
    }
    return r;
  };
  for (const kv of own.kvs) {
    const r = decode(kv);
    if (!r) {
      if (keys.parse(kv.key).kind === 'live') g.liveUnreadable = true;
      continue;
    }
    if (r.kind === 'node-live') (g.live = r.record), (g.liveKv = kv);
    else if (r.kind === 'node-identity') g.identity = r.record;
    else if (r.kind === 'node-conditions') g.conditions = r.record;
    else if (r.kind === 'node-maintenance') g.maintenance = r.record;
  }
  // Only this node's endpoints are judged: another node's garbage is not this explanation's business.
  for (const kv of services.kvs) {
    const k = keys.parse(kv.key);
    if (k.kind !== 'endpoint' || k.node !== name) continue;
    const r = decode(kv);
    if (r?.kind === 'endpoint') g.endpoints.push(r.record);
  }
  for (const kv of problems.kvs) {
    const r = decode(kv);
    if (r?.kind === 'node-event') g.problems.push(r.record);
  }
  for (const kv of statuses.kvs) {
    const k = keys.parse(kv.key);
    if (k.kind !== 'status') continue;
    // Other nodes' statuses are only compared by time: a bad one is skipped without a word (it is theirs).
    const r = decodeKey(keys, kv);
    if (r instanceof DecodeError) {
      if (k.node === name) skip(r);
      continue;
    }
    if (r?.kind !== 'watcher-status') continue;
    if (r.record.node === name) g.status = r.record;
    else g.others.push(r.record);
  }
  if (history) {
    const r = decode(history);
    if (r?.kind === 'watcher-history') {
      // The age bound holds for readers too: an old record not rewritten since is not shown beyond it.
      g.history = r.record.entries.filter((e) => now.getTime() - Date.parse(e.time) <= HISTORY_BOUNDS.maxAgeMs);
    }
  }
  for (const kv of events.kvs) {
    // A record id names its node first (`<node>.<lease>.<type>`): other nodes' events are not decoded at all.
    const k = keys.parse(kv.key);
    const mine = k.kind === 'watcher-event' && (k.id.startsWith(`${name}.`) || k.id.startsWith('PartitionSuspected.'));
    if (!mine) continue;
    const r = decode(kv);
    if (r?.kind !== 'watcher-event') continue;
    if (r.record.node === name) g.events.push(r.record);
    else if (r.record.event === 'PartitionSuspected' && r.record.nodes?.includes(name)) g.partitions.push(r.record);
  }
  for (const kv of reactions.kvs) {
    const k = keys.parse(kv.key);
    if (k.kind !== 'reaction' || !k.id.startsWith(`${name}.`)) continue;
    const r = decode(kv);
    if (r?.kind === 'watcher-reaction' && r.record.event.node === name) g.reactions.push(r.record);
  }
  if (g.live && store.timeToLive) {
    // The lease as etcd has it now: remaining seconds (-1: gone although the key is still listed).
    g.lease = await store.timeToLive(g.live.lease).catch(() => undefined);
  }
  return g;
}

function stateOf(g: Gathered): ExplainState {
  if (g.live) return g.live.state === 'leaving' ? 'leaving' : 'up';
  if (g.liveUnreadable) return 'unknown';
  if (g.identity) return g.identity.left && g.identity.left.lease === g.identity.lease ? 'left' : 'failed';
  // No identity (deleted by hand, or unreadable): the watcher's own record is what remains.
  if (g.status) return g.status.state === 'up' || g.status.state === 'leaving' ? 'failed' : g.status.state;
  return 'unknown';
}

const DETECTED: Record<string, string> = {
  watch: 'seen in a watch event',
  resync: 'found when the watcher compared after a start, takeover or gap',
  audit: "found by the lease audit (etcd had not revoked the expired lease; the watcher revoked it)",
};

// Entries the watcher's events give (when no history entry already tells the same event).
function eventEntries(e: NodeEvent): TimelineEntry[] {
  const reg = `lease ${e.lease || '-'}, boot id ${e.bootId || '-'}, address ${e.address || '-'}`;
  const how = DETECTED[e.detectedBy] ?? e.detectedBy;
  let detail: string;
  switch (e.event) {
    case 'NodeJoined':
      detail = `${e.reason === 'Rejoined' ? 'registered again after a leave' : 'registered'}: ${reg}; ${how}`;
      break;
    case 'NodeRecovered':
      detail = `registered again after ${Math.round((e.downtimeMs ?? 0) / 1000)} s failed: ${reg}; ${how}`;
      break;
    case 'NodeFailed':
      detail =
        e.reason === 'LeaseOverdue'
          ? `lease ${e.lease} expired without a leave marker; ${how}`
          : `lease ${e.lease} expired (or was revoked) without a leave marker; ${how}`;
      break;
    case 'NodeLeft':
      detail = `left gracefully: its agent marked the leave and revoked lease ${e.lease}; ${how}`;
      break;
    case 'NodeRebooted':
      detail = `boot id changed from ${e.previousBootId || '-'} to ${e.bootId || '-'}`;
      break;
    case 'LeaseRevoked': {
      const ev = e.evidence;
      detail = `etcd, not the node, ended lease ${e.lease}${ev ? ` (${ev.witnessesRevoked} witness leases revoked too${ev.termChangedMsBefore !== undefined ? `, etcd leader changed ${ev.termChangedMsBefore} ms before` : ''})` : ''}; no remedy`;
      break;
    }
    default:
      detail = `${e.reason}; ${how}`;
  }
  const out: TimelineEntry[] = [{ time: e.time, what: e.event, detail }];
  return out;
}

function hookEntries(e: NodeEvent, reactions: Map<string, ReactionRecord>, told: Set<string>): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  for (const [hook, outcome] of Object.entries(e.hooks)) {
    const rid = `${e.id}.${hook}`;
    if (told.has(rid)) continue;
    const r = reactions.get(rid);
    // The reaction record is the authority (the event's copy is best effort).
    const o = r && r.outcome.state !== 'pending' ? r.outcome : outcome;
    if (o.state === 'pending' && r) {
      const why = r.state === 'running' ? `running (attempt ${r.attempts.length + 1})` : `pending, not before ${r.notBefore}`;
      out.push({ time: r.updatedAt, what: 'Hook', detail: `${hook} for ${e.event}: ${why}` });
    } else {
      out.push({ time: r?.updatedAt ?? e.time, what: 'Hook', detail: `${hook} for ${e.event}: ${outcomeText(o)}` });
    }
  }
  return out;
}

function buildTimeline(g: Gathered, state: ExplainState, now: Date, windowMs: number): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  // What the watcher's history tells is not repeated from the events and reactions it came from.
  const told = new Set(g.history.flatMap((h) => (h.id ? [h.id] : [])));
  for (const h of g.history) {
    out.push({ time: h.time, what: h.what, detail: h.revision ? `${h.detail} (etcd revision ${h.revision})` : h.detail });
  }
  const byId = new Map(g.reactions.map((r) => [r.id, r]));
  const eventIds = new Set(g.events.map((e) => e.id));
  for (const e of g.events) {
    if (!told.has(e.id)) out.push(...eventEntries(e));
    out.push(...hookEntries(e, byId, told));
  }
  // Reactions whose event expired (or never decoded): still say what became of the hook.
  for (const r of g.reactions) {
    if (eventIds.has(r.event.id) || told.has(r.id)) continue;
    out.push({ time: r.updatedAt, what: 'Hook', detail: `${r.hook} for ${r.event.event}: ${r.state === 'pending' || r.state === 'running' ? r.state : outcomeText(r.outcome)}` });
  }
  for (const p of g.partitions) {
    if (told.has(p.id)) continue;
    out.push({
      time: p.time,
      what: 'PartitionSuspected',
      detail: `${p.failed ?? p.nodes?.length ?? 0} of ${p.known ?? '?'} known nodes failed within the window (${(p.nodes ?? []).join(', ')}): remedy hooks suspended`,
    });
  }
  // The registration as the records have it now (or last had it).
  const reg = g.live ?? g.identity;
  if (reg && !out.some((e) => (e.what === 'NodeJoined' || e.what === 'NodeRecovered') && e.detail.includes(reg.lease))) {
    const ttl = g.live ? `, TTL ${g.live.ttl} s` : '';
    const addr = g.live ? `, address ${g.live.address}` : '';
    out.push({ time: reg.registeredAt, what: 'Registered', detail: `lease ${reg.lease}${ttl}, boot id ${reg.bootId}${addr}` });
  }
  if (g.identity?.left && !out.some((e) => e.what === 'NodeLeft' && e.detail.includes(g.identity!.left!.lease))) {
    out.push({ time: g.identity.left.at, what: 'NodeLeft', detail: `left gracefully: its agent marked the leave and revoked lease ${g.identity.left.lease}` });
  }
  if (g.live?.state === 'leaving') out.push({ time: now.toISOString(), what: 'Leaving', detail: `the agent marked lease ${g.live.lease} leaving; its revoke follows` });
  // Conditions: every one that is not in its default state, and every change since the registration.
  const since = Date.parse(reg?.registeredAt ?? '') || 0;
  for (const c of g.conditions?.conditions ?? []) {
    if (c.status === 'False' && Date.parse(c.lastTransitionTime) <= since + 1_000) continue;
    out.push({ time: c.lastTransitionTime, what: 'Condition', detail: `${c.type} ${c.status} (${c.reason})${c.message ? `: ${c.message}` : ''}` });
  }
  for (const p of g.problems) {
    const what = p.severity === 'info' ? 'ConditionChanged' : 'NodeProblem';
    out.push({ time: p.firstTime, what, detail: `${p.reason}${p.count > 1 ? ` ×${p.count} until ${p.lastTime}` : ''}: ${p.message}` });
  }
  for (const ep of g.endpoints) {
    if (ep.health === 'passing' && Date.parse(ep.since) <= since + 1_000) continue;
    out.push({ time: ep.since, what: 'Health', detail: `${ep.service}: ${ep.health}${ep.output ? `: ${ep.output}` : ''}` });
  }
  if (g.maintenance) {
    const m = g.maintenance;
    const parts = [
      ...(m.reason !== null ? [`node in maintenance: ${m.reason}`] : []),
      ...Object.entries(m.services).map(([s, why]) => `${s} in maintenance: ${why}`),
    ];
    out.push({ time: m.updatedAt, what: 'Maintenance', detail: parts.join('; ') || 'maintenance marker without a reason' });
  }
  const failedAt = failureTime(g, state);
  if (failedAt !== undefined) {
    const together = sameWindow(g, failedAt, windowMs);
    if (together.length > 0) {
      out.push({
        time: new Date(failedAt).toISOString(),
        what: 'FailedTogether',
        detail: `${together.length} other node${together.length === 1 ? '' : 's'} failed within ${Math.round(windowMs / 1000)} s: ${together.map((s) => `${s.node} (${s.since})`).join(', ')}; a probable partition or shared cause`,
      });
    }
  }
  // The watcher's conclusion, when nothing else tells it.
  if (g.status && !out.some((e) => e.time === g.status!.since)) {
    out.push({ time: g.status.since, what: 'Watcher', detail: `the watcher recorded ${g.status.state} (${g.status.reason}), lease ${g.status.lease || '-'}, last seen ${g.status.lastSeen}` });
  }
  // The last change etcd recorded for the registration, and its lease now.
  if (g.liveKv && g.live) {
    const lease = g.lease ? (g.lease.ttl < 0 ? `lease ${g.live.lease} is gone although the key is still listed` : `lease ${g.live.lease} has ${g.lease.ttl} s of ${g.lease.grantedTtl} s left`) : `lease ${g.live.lease}`;
    out.push({ time: now.toISOString(), what: 'Now', detail: `live record last written at etcd revision ${g.liveKv.modRevision} (version ${g.liveKv.version}); ${lease}` });
  }
  return out
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.time.localeCompare(b.e.time) || a.i - b.i)
    .map((x) => x.e);
}

function failureTime(g: Gathered, state: ExplainState): number | undefined {
  if (state !== 'failed') return undefined;
  if (g.status?.state === 'failed') return Date.parse(g.status.since);
  const ev = [...g.events].reverse().find((e) => e.event === 'NodeFailed');
  return ev ? Date.parse(ev.time) : undefined;
}

function sameWindow(g: Gathered, at: number, windowMs: number): StatusRecord[] {
  return g.others
    .filter((s) => s.state === 'failed' && Math.abs(Date.parse(s.since) - at) <= windowMs)
    .sort((a, b) => a.since.localeCompare(b.since) || a.node.localeCompare(b.node));
}

function hooksSummary(g: Gathered, type: string): string {
  const ev = [...g.events].reverse().find((e) => e.event === type);
  if (!ev) return '';
  const byId = new Map(g.reactions.map((r) => [r.id, r]));
  const parts = Object.entries(ev.hooks).map(([hook, o]) => {
    const r = byId.get(`${ev.id}.${hook}`);
    const out = r && r.outcome.state !== 'pending' ? r.outcome : o;
    return `${hook} ${out.state === 'suppressed' ? `held back (${out.why})` : out.state}`;
  });
  return parts.length ? `; hooks: ${parts.join(', ')}` : '; no hook ran';
}

// Hook outcomes of one event as the history tells them (`remedy for NodeFailed: ok after ...`).
function historyHooks(g: Gathered, eventId: string): string {
  const parts = g.history
    .filter((h) => h.what === 'Hook' && h.id?.startsWith(`${eventId}.`))
    .map((h) => /^(\S+) for \S+: (?:held back: ([a-z-]+)|(\w+))/.exec(h.detail))
    .flatMap((m) => (m ? [`${m[1]} ${m[2] ? `held back (${m[2]})` : m[3]}`] : []));
  return parts.length ? `; hooks: ${parts.join(', ')}` : '';
}

function verdictOf(g: Gathered, state: ExplainState, windowMs: number): string {
  const n = g.name;
  switch (state) {
    case 'up':
    case 'leaving': {
      const l = g.live!;
      const extra: string[] = [];
      if (g.maintenance?.reason != null) extra.push(`in maintenance (${g.maintenance.reason})`);
      else if (g.maintenance && Object.keys(g.maintenance.services).length) extra.push(`services in maintenance: ${Object.keys(g.maintenance.services).sort().join(', ')}`);
      const bad = (g.conditions?.conditions ?? []).filter((c) => c.status !== 'False').map((c) => `${c.type}=${c.status}`);
      if (bad.length) extra.push(`conditions ${bad.join(', ')}`);
      const sick = g.endpoints.filter((e) => e.health === 'critical' || e.health === 'warning').map((e) => `${e.service} ${e.health}`);
      if (sick.length) extra.push(sick.join(', '));
      const what = state === 'leaving' ? 'is leaving gracefully' : 'is up';
      return `${n} ${what}: registered at ${l.registeredAt} with lease ${l.lease} (TTL ${l.ttl} s)${extra.length ? `; ${extra.join('; ')}` : ''}.`;
    }
    case 'left': {
      const left = g.identity!.left!;
      return `${n} left gracefully at ${left.at}: its agent marked the leave and revoked lease ${left.lease}; no remedy runs for a leave.`;
    }
    case 'failed': {
      const ev = [...g.events].reverse().find((e) => e.event === 'NodeFailed');
      const lease = ev?.lease || g.status?.lease || g.identity?.lease || '-';
      const at = g.status?.state === 'failed' ? g.status.since : ev?.time;
      // The events expire with the retention lease; the history (kept longer) says the same in its words.
      const told = g.history.find((h) => h.what === 'NodeFailed' && h.id === `${n}.${lease}.NodeFailed`);
      const by = ev?.detectedBy ?? (told ? (/lease audit/.test(told.detail) ? 'audit' : /watch event/.test(told.detail) ? 'watch' : 'resync') : undefined);
      const how = by ? ` (${by === 'watch' ? 'seen in a watch event' : by === 'audit' ? 'found by the lease audit' : 'found on a resync'})` : '';
      const hooks = ev ? hooksSummary(g, 'NodeFailed') : historyHooks(g, `${n}.${lease}.NodeFailed`);
      const when = at ? ` at ${at}` : '';
      const failedAt = failureTime(g, state);
      const together = failedAt !== undefined ? sameWindow(g, failedAt, windowMs) : [];
      const partition = together.length
        ? `; ${together.length} other node${together.length === 1 ? '' : 's'} failed in the same window (${together.map((s) => s.node).sort().join(', ')}): a probable partition`
        : '';
      return `${n} failed${when}: its lease ${lease} expired without a leave marker${how}${hooks}${partition}.`;
    }
    case 'unknown':
      return g.liveUnreadable
        ? `${n} is in an unknown state: its live record fails the schema, so whether it is registered cannot be told.`
        : `${n} is in an unknown state: only watcher records remain of it.`;
  }
}
