// The node usage record (schema/v1/node-usage.json, docs/keys.md) and when it is worth rewriting. Every
// rewrite is an fsynced etcd write and a watch event for every reader, and measured use moves all the
// time, so a figure is republished only when it leaves its band: more than BAND_SHARE of its scale
// (the service's reservation, or the node's capacity when none is declared) away from the published
// value, and then at most once per window (a window average cannot truly move faster). Changes of what
// is declared (services, reservations, sources), errors, and a window filling for the first time are
// published at once. A steady node therefore writes nothing.
import type { NodeUsageRecord, ServiceUsage, UsageFigures } from '../types.js';
export type { NodeUsageRecord, ServiceUsage };

/** A figure moves out of its band when it is more than this share of its scale away from the published one. */
export const BAND_SHARE = 0.1;

/** Figures as published: millicores and whole bytes, so equal states encode to equal strings. */
export function rounded(f: UsageFigures | null): UsageFigures | null {
  return f ? { cpu: Math.round(f.cpu * 1000) / 1000, memoryBytes: Math.round(f.memoryBytes) } : null;
}

function outOfBand(prev: UsageFigures | null, next: UsageFigures | null, scale: { cpu: number; memoryBytes: number }): boolean {
  if (!prev || !next) return false;
  return Math.abs(next.cpu - prev.cpu) > BAND_SHARE * scale.cpu || Math.abs(next.memoryBytes - prev.memoryBytes) > BAND_SHARE * scale.memoryBytes;
}

// The parts that are published at once when they change: everything but the figures' values.
function shape(r: Omit<NodeUsageRecord, 'at'>): string {
  return JSON.stringify({
    window: r.windowSeconds,
    capacity: r.capacity,
    used: r.used !== null,
    services: Object.entries(r.services).map(([n, s]) => [n, s.reserved, s.source, s.used !== null, s.error]),
  });
}

/** Whether `next` (figures as measured now) should replace `prev` (as published), per the file comment. */
export function shouldPublish(prev: NodeUsageRecord | undefined, next: Omit<NodeUsageRecord, 'at'>, sincePublishMs: number, windowMs: number): boolean {
  if (!prev) return true;
  if (shape(prev) !== shape(next)) return true;
  if (sincePublishMs < windowMs) return false;
  if (outOfBand(prev.used, next.used, next.capacity)) return true;
  for (const [name, s] of Object.entries(next.services)) {
    const scale = { cpu: s.reserved.cpu || next.capacity.cpu, memoryBytes: s.reserved.memoryBytes || next.capacity.memoryBytes };
    if (outOfBand(prev.services[name]?.used ?? null, s.used, scale)) return true;
  }
  return false;
}
