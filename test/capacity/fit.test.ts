// The three findings (pure): shortage, waste, mismatch, and what is not flagged.
import test from 'ava';
import { fit, type NodeInput } from '../../src/capacity/fit.js';
import type { ServiceUsage } from '../../src/usage/record.js';

const GiB = 2 ** 30;

function svc(cpu: number | null, mem: number | null, used: [number, number] | null = null): ServiceUsage {
  return { reserved: { cpu, memoryBytes: mem }, source: used ? 'cgroup:/x' : null, used: used ? { cpu: used[0], memoryBytes: used[1] } : null, error: null };
}

function node(name: string, cpu: number, memGiB: number, services: Record<string, ServiceUsage> = {}): NodeInput {
  return { name, capacity: { cpu, memoryBytes: memGiB * GiB }, used: null, windowSeconds: 300, services };
}

const kinds = (flags: { kind: string; resource?: string }[]) => flags.map((f) => `${f.kind}${f.resource ? `:${f.resource}` : ''}`).sort();

test('shortage: a reservation that fits on no node, and a node over-reserved', (t) => {
  const r = fit([node('a', 4, 8, { big: svc(6, null), small: svc(1, GiB) }), node('b', 4, 8)]);
  t.deepEqual(kinds(r.nodes[0]!.flags), ['shortage:cpu']);
  t.deepEqual(kinds(r.services.find((s) => s.service === 'big')!.flags), ['shortage']);
  t.deepEqual(kinds(r.services.find((s) => s.service === 'small')!.flags), [], 'fits on b');
  t.deepEqual(r.nodes[0]!.free, { cpu: -3, memoryBytes: 7 * GiB });
});

test('a reservation fits when one node has both resources free, its own node counted without it', (t) => {
  // 3 cpu free on a, 3 GiB on b, never both: the service needs 2 cpu and 2 GiB together.
  const nodes = [node('a', 4, 4, { x: svc(1, 3 * GiB) }), node('b', 4, 4, { y: svc(3, GiB) }), node('c', 4, 4, { s: svc(2, 2 * GiB), z: svc(2, 2 * GiB) })];
  t.deepEqual(kinds(fit(nodes).services.find((s) => s.service === 's')!.flags), [], 'fits where it is');
  const r = fit([node('a', 4, 4, { x: svc(1, 3 * GiB) }), node('b', 4, 4, { y: svc(3, GiB) }), node('c', 2, 1, { s: svc(2, 2 * GiB) })]);
  t.deepEqual(kinds(r.services.find((s) => s.service === 's')!.flags), ['shortage']);
});

test('waste: use below the share of the reservation, per resource, only once measured', (t) => {
  const r = fit([node('a', 8, 32, { idle: svc(2, 4 * GiB, [0.1, 3 * GiB]), busy: svc(1, GiB, [0.9, 0.5 * GiB]), new: svc(2, 4 * GiB) })]);
  const flags = (n: string) => kinds(r.services.find((s) => s.service === n)!.flags);
  t.deepEqual(flags('idle'), ['waste:cpu']);
  t.deepEqual(flags('busy'), []);
  t.deepEqual(flags('new'), [], 'not measured yet: no verdict');
  t.deepEqual(kinds(fit([node('a', 8, 32, { busy: svc(1, GiB, [0.9, 0.5 * GiB]) })], { wasteBelow: 0.6, mismatchGap: 0.5 }).services[0]!.flags), ['waste:memory']);
});

test('mismatch: free cpu and memory far apart strand the freer one; not on an empty or a short node', (t) => {
  const cpuHeavy = fit([node('a', 4, 64, { crunch: svc(3.8, GiB) })]);
  t.deepEqual(kinds(cpuHeavy.nodes[0]!.flags), ['mismatch:memory']);
  t.regex(cpuHeavy.nodes[0]!.flags[0]!.message, /^5% of cpu and 98% of memory free: memory stranded$/);
  const memHeavy = fit([node('a', 16, 8, { cache: svc(1, 7.5 * GiB) })]);
  t.deepEqual(kinds(memHeavy.nodes[0]!.flags), ['mismatch:cpu']);
  t.deepEqual(kinds(fit([node('a', 4, 8)]).nodes[0]!.flags), [], 'nothing reserved');
  t.deepEqual(kinds(fit([node('a', 4, 8, { even: svc(2, 4 * GiB) })]).nodes[0]!.flags), [], 'balanced');
  t.deepEqual(kinds(fit([node('a', 4, 64, { over: svc(5, GiB) })]).nodes[0]!.flags), ['shortage:cpu'], 'shortage first');
});
