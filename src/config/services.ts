// The `services` section: what this node offers. `checks` stays raw here; the Health work validates it.
import type { ServiceConfig } from './types.js';
import { nameProblem } from '../etcd/keys.js';
import { ipAddress, mapKey, optionalText, readInteger, readList, readSections, readString, text, type Reader } from './fields.js';
import type { ParseContext } from './sections.js';

const PROTOCOLS = ['tcp', 'udp'] as const;

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
    const tags = f.stringList('tags', text(256)) ?? [];
    const meta = f.stringMap('meta', { key: mapKey, value: optionalText(512) }) ?? {};
    const checks = f.read('checks', readPlainList, undefined) ?? [];
    f.done();
    if (name !== undefined) {
      const first = firstIndex.get(name);
      if (first !== undefined) f.fail('name', `duplicate service name: services[${first}] and services[${i}] are both "${name}"`);
      else firstIndex.set(name, i);
    }
    if (name === undefined || port === undefined) return;
    const svc: ServiceConfig = { name, port, protocol, tags, meta, checks };
    if (address !== undefined) svc.address = address;
    out.push(svc);
  });
  return out;
}

// A copy, so freezing the config never freezes the caller's document.
const readPlainList: Reader<unknown[]> = (p, field, value) => {
  const list = readList(p, field, value, undefined);
  try {
    return list && structuredClone(list);
  } catch {
    return p.add(field, value, 'must be plain data');
  }
};
