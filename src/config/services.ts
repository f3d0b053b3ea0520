// The `services` section: what this node offers, each with its health checks (parsed by src/checks/spec.ts).
import type { ServiceConfig } from './types.js';
import { nameProblem } from '../etcd/keys.js';
import { assertUniqueCheckIds, readChecks } from '../checks/spec.js';
import type { CheckSpec } from '../checks/types.js';
import { ipAddress, mapKey, optionalText, readBoundedStringList, readInteger, readList, readSections, readString, text } from '../util/fields.js';
import type { ParseContext } from './sections.js';
import { parseResources, parseUsageSource } from './resources.js';

const PROTOCOLS = ['tcp', 'udp'] as const;

/** Bounds of what one endpoint record carries from the config (Consul's service-meta limits: 64 keys, 512-character values). */
export const MAX_TAGS = 64;
export const MAX_TAG_LENGTH = 256;
export const MAX_META = 64;
export const MAX_META_VALUE = 512;
/** Most checks per service: each is a timer and a probe; a service needing more wants an exec check that combines them. */
export const MAX_CHECKS = 32;

/** The `services` list; names must be unique (each is one endpoint key per node). */
export function parseServices(raw: unknown, ctx: ParseContext): ServiceConfig[] {
  const list = raw === undefined ? [] : (readSections(ctx.problems, 'services', raw, undefined) ?? []);
  const out: ServiceConfig[] = [];
  const firstIndex = new Map<string, number>();
  list.forEach((f, i) => {
    const name = f.required('name', readString, nameProblem);
    const port = f.required('port', readInteger, { min: 1, max: 65535 });
    const protocol = f.oneOf('protocol', PROTOCOLS) ?? 'tcp';
    const address = f.string('address', ipAddress);
    const tags = f.read('tags', readBoundedStringList, { max: MAX_TAGS, check: text(MAX_TAG_LENGTH) }) ?? [];
    const meta = f.stringMap('meta', { key: mapKey, value: optionalText(MAX_META_VALUE), maxEntries: MAX_META }) ?? {};
    const rawChecks = f.read('checks', readList, undefined) ?? [];
    const resources = parseResources(f);
    const usage = parseUsageSource(f);
    f.done();
    // Every bad check, and every bad field in it, is reported with its own field named (`services[0].checks[1].timeout`).
    const checks =
      rawChecks.length > MAX_CHECKS
        ? (f.fail('checks', `must have at most ${MAX_CHECKS} checks`, `${rawChecks.length} checks`) ?? [])
        : (readChecks(ctx.problems, f.at('checks'), rawChecks, name ?? `services[${i}]`) ?? []);
    if (name !== undefined) {
      const first = firstIndex.get(name);
      if (first !== undefined) f.fail('name', `duplicate service name: services[${first}] and services[${i}] are both "${name}"`);
      else firstIndex.set(name, i);
    }
    if (name === undefined || port === undefined) return;
    const svc: ServiceConfig = { name, port, protocol, tags, meta, checks };
    if (address !== undefined) svc.address = address;
    if (resources !== undefined) svc.resources = resources;
    if (usage !== undefined) svc.usage = usage;
    out.push(svc);
  });
  // ttl reports address a check by id alone: ids must be unique across services too.
  ctx.problems.catch(() => assertUniqueCheckIds(out.flatMap((s): readonly CheckSpec[] => s.checks)));
  return out;
}
