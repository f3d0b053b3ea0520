// What a service reserves (`resources: {cpu: 500m, memory: 256Mi}`, Kubernetes quantities) and where its
// processes live for measuring (`unit: web.service` or `cgroup: /system.slice/web.service`), read for
// src/config/services.ts; docs/capacity.md describes them. Errors name the field and the value.
import { parseCpu, parseMemory } from '../util/quantity.js';
import type { Fields, Reader } from '../util/fields.js';
import type { ServiceResources, UsageSource } from './types.js';

/** A systemd unit name that owns processes (a service or a scope; a slice holds other units' processes). */
const UNIT_RE = /^[A-Za-z0-9:_.\\@-]{1,250}\.(?:service|scope|slice)$/;

/** Why `unit` cannot be measured through systemd, or undefined. */
export function unitProblem(unit: string): string | undefined {
  return UNIT_RE.test(unit) ? undefined : 'must be a systemd unit name ending in .service, .scope or .slice (e.g. web.service)';
}

/** Why `path` is not a cgroup path as /proc/<pid>/cgroup and systemd's ControlGroup print it, or undefined. */
export function cgroupPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute cgroup path such as /system.slice/web.service';
  if (path.length > 4096) return 'must be at most 4096 characters';
  // Control characters, and segments that would leave the cgroup filesystem.
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'must not contain control characters';
  if (path.split('/').some((s) => s === '.' || s === '..')) return 'must not contain "." or ".." segments';
  return undefined;
}

// YAML reads 1e400 as Infinity, which JSON would show as null: the message shows it as text.
const shown = (value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value);

const readCpu: Reader<number> = (p, field, value) => {
  const r = parseCpu(value);
  return 'problem' in r ? p.add(field, shown(value), r.problem) : r.value;
};

const readMemory: Reader<number> = (p, field, value) => {
  const r = parseMemory(value);
  return 'problem' in r ? p.add(field, shown(value), r.problem) : r.value;
};

/** The `resources` mapping of one service; undefined when absent. */
export function parseResources(f: Fields): ServiceResources | undefined {
  if (!f.has('resources')) {
    f.get('resources');
    return undefined;
  }
  const r = f.section('resources');
  const cpu = r.read('cpu', readCpu, undefined);
  const memory = r.read('memory', readMemory, undefined);
  r.done();
  if (r.ok && !r.has('cpu') && !r.has('memory')) return f.fail('resources', 'must declare cpu, memory or both');
  return { cpu: cpu ?? null, memoryBytes: memory ?? null };
}

/** Where the service's processes are measured: `unit` or `cgroup`, not both; undefined when neither. */
export function parseUsageSource(f: Fields): UsageSource | undefined {
  const unit = f.string('unit', unitProblem);
  const cgroup = f.string('cgroup', cgroupPathProblem);
  if (unit !== undefined && cgroup !== undefined) {
    return f.fail('cgroup', `must not be set together with ${f.at('unit')} (a unit names its own cgroup): unit=${unit} cgroup=${cgroup}`);
  }
  if (unit !== undefined) return { kind: 'unit', unit };
  if (cgroup !== undefined) return { kind: 'cgroup', path: cgroup };
  return undefined;
}
