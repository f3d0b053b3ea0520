// Table views shared by commands (nodes, services, demo): columns for each record kind. Cells are raw record
// text here; renderTable escapes and caps them (src/cli/safe-text.ts).
import { eventTime, type FleetEvent } from '../registry/events.js';
import type { NodeMaintenance, NodeView } from '../registry/reader.js';
import type { Condition } from '../problems/types.js';
import type { EndpointCheck, EndpointRecord } from '../types.js';
import type { Column, Tone } from './output.js';

/** Tone of a node status or an endpoint health word. */
export function toneOf(word: string): Tone | undefined {
  if (word === 'up' || word === 'passing') return 'good';
  if (word === 'leaving' || word === 'left' || word === 'warning' || word === 'maintenance') return 'warn';
  if (word === 'failed' || word === 'critical') return 'bad';
  return undefined;
}

/** Age of an ISO 8601 time as kubectl prints it (`45s`, `12m`, `3h`, `5d`); `-` when unknown. */
export function age(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** Bytes in binary units (`3.8Gi`). */
export function bytes(n: number | undefined): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '-';
  const units = ['B', 'Ki', 'Mi', 'Gi', 'Ti'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)}${units[i]}`;
}

/**
 * The CONDITIONS cell, kubectl-style: the node's abnormal conditions (status True, or `Type=Unknown`
 * when it cannot tell), else `Ready` when it reports conditions and none is abnormal, else `-`
 * (not registered, or no node problem detection configured).
 */
export function conditionsCell(n: NodeView): string {
  const bad = n.conditions.filter((c) => c.status !== 'False').map((c) => (c.status === 'True' ? c.type : `${c.type}=Unknown`));
  if (bad.length > 0) return bad.join(',');
  return n.conditions.length > 0 ? 'Ready' : '-';
}

/** A percentage cell (`40%`), `-` when unknown. */
function percent(p: number | null | undefined): string {
  return typeof p === 'number' && Number.isFinite(p) ? `${p}%` : '-';
}

/** The STATUS cell: the node's status, `,maintenance` when the whole node is in maintenance (kubectl's `Ready,SchedulingDisabled`). */
export function statusCell(n: NodeView): string {
  return n.maintenance?.reason != null ? `${n.status},maintenance` : n.status;
}

/** The SERVICES cell: each service offered, `(maintenance)` after one in maintenance on its own. */
export function servicesCell(n: NodeView): string {
  return n.services.map((s) => (n.maintenance?.services[s] !== undefined ? `${s}(maintenance)` : s)).join(',') || '-';
}

/** What is in maintenance and why, on one line: `node: REASON; web: REASON`; `-` when nothing is. */
export function maintenanceText(m: NodeMaintenance | null): string {
  if (!m) return '-';
  return [...(m.reason !== null ? [`node: ${m.reason}`] : []), ...Object.entries(m.services).map(([s, r]) => `${s}: ${r}`)].join('; ');
}

/** Columns of the nodes table: capacity and coarse utilization (docs/keys.md) only in `-o wide`. */
export const nodeColumns: Column<NodeView>[] = [
  { header: 'NAME', get: (n) => n.name },
  { header: 'STATUS', get: statusCell, tone: (n) => (n.maintenance?.reason != null && n.status === 'up' ? 'warn' : toneOf(n.status)) },
  { header: 'ADDRESS', get: (n) => n.address || '-' },
  { header: 'AGE', get: (n) => age(n.registeredAt) },
  {
    header: 'CONDITIONS',
    get: conditionsCell,
    tone: (n) => (n.conditions.some((c) => c.status === 'True') ? 'bad' : n.conditions.some((c) => c.status === 'Unknown') ? 'warn' : undefined),
  },
  { header: 'SERVICES', get: servicesCell },
  { header: 'CPUS', wide: true, get: (n) => String(n.live?.facts?.cpus ?? '-') },
  { header: 'MEMORY', wide: true, get: (n) => bytes(n.live?.facts?.memoryBytes) },
  { header: 'DISK', wide: true, get: (n) => bytes(n.live?.facts?.diskBytes) },
  { header: 'LOAD', wide: true, get: (n) => (typeof n.live?.utilization?.load1 === 'number' ? n.live.utilization.load1.toFixed(1) : '-') },
  { header: 'MEM-USED', wide: true, get: (n) => percent(n.live?.utilization?.memoryUsedPercent) },
  { header: 'DISK-USED', wide: true, get: (n) => percent(n.live?.utilization?.diskUsedPercent) },
  { header: 'LABELS', wide: true, get: (n) => Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-' },
  { header: 'OS', wide: true, get: (n) => [n.live?.facts?.os, n.live?.facts?.osRelease].filter(Boolean).join(' ') || '-' },
  { header: 'KERNEL', wide: true, get: (n) => n.live?.facts?.kernel || '-' },
  { header: 'AGENT', wide: true, get: (n) => n.live?.agentVersion || '-' },
  { header: 'MAINTENANCE', wide: true, get: (n) => maintenanceText(n.maintenance) },
];

/** Columns of the endpoints table. */
export const serviceColumns: Column<EndpointRecord>[] = [
  { header: 'SERVICE', get: (e) => e.service },
  { header: 'NODE', get: (e) => e.node },
  { header: 'ADDRESS', get: (e) => `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}` },
  { header: 'HEALTH', get: (e) => e.health, tone: (e) => toneOf(e.health) },
  { header: 'TAGS', get: (e) => e.tags.join(',') || '-' },
  { header: 'SINCE', wide: true, get: (e) => age(e.since) },
  { header: 'PROTOCOL', wide: true, get: (e) => e.protocol },
  { header: 'META', wide: true, get: (e) => Object.entries(e.meta ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '-' },
  { header: 'CHECKS', wide: true, get: (e) => (e.checks ?? []).map((c) => `${c.id}=${c.status}`).join(',') || '-' },
  // The whole output, escaped on one line (a newline shows as \n) and cut with an ellipsis by renderTable.
  { header: 'OUTPUT', wide: true, get: (e) => e.output || '-' },
];

/** One check of one endpoint, as `describe node` lists them. */
export interface CheckRow {
  service: string;
  check: EndpointCheck;
}

/** Columns of the checks table (describe node): each check's own status and output. */
export const checkColumns: Column<CheckRow>[] = [
  { header: 'SERVICE', get: (r) => r.service },
  { header: 'CHECK', get: (r) => r.check.id },
  { header: 'STATUS', get: (r) => r.check.status, tone: (r) => toneOf(r.check.status) },
  { header: 'SINCE', get: (r) => age(r.check.since) },
  { header: 'NAME', wide: true, get: (r) => r.check.name },
  { header: 'OUTPUT', get: (r) => r.check.output || '-' },
];

/** The SOURCE cell of an event: `watcher`, or `node/<monitor>` for a node problem event (`node/kernel-monitor`). */
export function eventSource(e: FleetEvent): string {
  return e.origin === 'watcher' ? 'watcher' : `node/${e.record.source}`;
}

// Tone of an event: a node failing or a problem (warn severity) is bad, a leave a warning, the rest good.
function eventTone(e: FleetEvent): Tone | undefined {
  if (e.origin === 'node') return e.record.severity === 'warn' ? 'bad' : undefined;
  const t = e.record.event;
  return t === 'NodeFailed' || t === 'PartitionSuspected' ? 'bad' : t === 'NodeLeft' ? 'warn' : 'good';
}

/**
 * Columns of the events table, both kinds in one (docs/cli.md, `beacon events`): EVENT is the watcher's
 * event type or the problem's reason (`OOMKilling`), REASON the watcher's reason or the problem's message;
 * a coalesced problem event shows how many times it happened in COUNT with `-o wide`.
 */
export const eventColumns: Column<FleetEvent>[] = [
  { header: 'TIME', get: eventTime },
  { header: 'SOURCE', get: eventSource },
  { header: 'EVENT', get: (e) => (e.origin === 'watcher' ? e.record.event : e.record.reason), tone: eventTone },
  { header: 'NODE', get: (e) => e.record.node },
  { header: 'REASON', get: (e) => (e.origin === 'watcher' ? e.record.reason : e.record.message) || '-' },
  { header: 'COUNT', wide: true, get: (e) => (e.origin === 'node' ? String(e.record.count) : '1') },
  { header: 'DETECTED', wide: true, get: (e) => (e.origin === 'watcher' ? e.record.detectedBy : '-') },
  { header: 'LEASE', wide: true, get: (e) => (e.origin === 'watcher' ? e.record.lease || '-' : '-') },
  {
    header: 'HOOKS',
    wide: true,
    get: (e) => (e.origin === 'watcher' ? Object.entries(e.record.hooks ?? {}).map(([k, v]) => `${k}=${v.state}`).join(',') || '-' : '-'),
  },
];

/** Columns of the conditions table (describe node). */
export const conditionColumns: Column<Condition>[] = [
  { header: 'TYPE', get: (c) => c.type },
  { header: 'STATUS', get: (c) => c.status, tone: (c) => (c.status === 'True' ? 'bad' : c.status === 'False' ? 'good' : 'warn') },
  { header: 'REASON', get: (c) => c.reason || '-' },
  { header: 'SINCE', get: (c) => age(c.lastTransitionTime) },
  { header: 'MESSAGE', get: (c) => c.message.split('\n')[0]! || '-' },
];
