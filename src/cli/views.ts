// Table views shared by commands (nodes, services, demo): columns for each record kind.
import type { NodeView } from '../registry/reader.js';
import type { EndpointRecord } from '../types.js';
import type { Column } from './output.js';

/** Columns of the nodes table. */
export const nodeColumns: Column<NodeView>[] = [
  { header: 'NAME', get: (n) => n.name },
  { header: 'STATUS', get: (n) => n.status },
  { header: 'ADDRESS', get: (n) => n.address || '-' },
  { header: 'SERVICES', get: (n) => n.services.join(',') || '-' },
  { header: 'LABELS', get: (n) => Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-' },
];

/** Columns of the endpoints table. */
export const serviceColumns: Column<EndpointRecord>[] = [
  { header: 'SERVICE', get: (e) => e.service },
  { header: 'NODE', get: (e) => e.node },
  { header: 'ADDRESS', get: (e) => `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}` },
  { header: 'HEALTH', get: (e) => e.health },
  { header: 'TAGS', get: (e) => e.tags.join(',') || '-' },
];
