// `beacon nodes` against a real etcd and real agents: the default and wide headers, the CONDITIONS
// cell from an agent's own conditions record (pressure thresholds set so that two turn True), the
// capacity and coarse utilization columns, and the stable JSON fields (with `conditions`).
import test from 'ava';
import os from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '../../src/cli/command.js';
import { conditionsCell } from '../../src/cli/views.js';
import type { NodeView } from '../../src/registry/reader.js';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beacon, writeConfig } from '../helpers/process.js';
import { shortTempDir } from '../agent/health-support.js';

const PREFIX = '/t-nodes';
let etcd: EtcdCluster;
const agents: BeaconProcess[] = [];

function agentConfig(node: string, extra: string[]): string {
  return [
    'etcd:',
    `  endpoints: [${etcd.endpoints}]`,
    `prefix: ${PREFIX}`,
    `node: { name: ${node}, ttl: 10s, address: { address: 127.0.0.1 }, labels: { zone: a } }`,
    'api: { enabled: false }',
    'services:',
    '  - { name: web, port: 8080 }',
    ...extra,
    '',
  ].join('\n');
}

test.before(async () => {
  etcd = await EtcdCluster.start();
  const dir = shortTempDir();
  // Any available memory is below 100 %, any used space above 0 %: both pressures turn True.
  const pressured = agentConfig('n1', [
    'problems:',
    `  kernel: { source: file, path: ${join(dir, 'kern.log')} }`,
    '  pressure: { interval: 1s, memoryAvailablePercent: 100, diskUsedPercent: 0 }',
  ]);
  for (const cfg of [pressured, agentConfig('n2', [])]) {
    const a = new BeaconProcess(['agent', '--config', writeConfig(cfg)]);
    agents.push(a);
    await a.waitLine((l) => l.msg === 'registered', 30_000);
  }
  await waitFor(() => /DiskPressure/.test(etcd.etcdctl(['get', `${PREFIX}/v1/nodes/n1/conditions`, '--print-value-only'])), {
    timeoutMs: 20_000,
    what: 'n1 conditions record with pressure',
  });
});

test.after.always(async () => {
  await Promise.all(agents.map((a) => a.stop('SIGKILL')));
  await etcd?.destroy();
});

const at = () => ['--etcd', etcd.endpoints, '--prefix', PREFIX];

function rows(stdout: string): string[][] {
  return stdout.trimEnd().split('\n').map((l) => l.trim().split(/\s{2,}/));
}

test.serial('the table: NAME STATUS ADDRESS AGE CONDITIONS SERVICES; CONDITIONS lists the abnormal ones, `-` without any', async (t) => {
  const r = await waitFor(
    () => {
      const out = beacon(['nodes', ...at()]);
      return /MemoryPressure/.test(out.stdout) ? out : undefined;
    },
    { timeoutMs: 20_000, what: 'MemoryPressure in the table' },
  );
  t.is(r.code, ExitCode.ok, r.stderr);
  const [header, n1, n2] = rows(r.stdout);
  t.deepEqual(header, ['NAME', 'STATUS', 'ADDRESS', 'AGE', 'CONDITIONS', 'SERVICES']);
  t.like(n1, { 0: 'n1', 1: 'up', 2: '127.0.0.1', 4: 'DiskPressure,MemoryPressure', 5: 'web' });
  t.regex(n1![3]!, /^\d+s$/);
  t.like(n2, { 0: 'n2', 1: 'up', 4: '-', 5: 'web' });
});

test.serial('-o wide adds capacity (CPUS MEMORY DISK) and coarse utilization (LOAD MEM-USED DISK-USED), keeps LABELS OS KERNEL AGENT, then MAINTENANCE', (t) => {
  const r = beacon(['nodes', '-o', 'wide', ...at()]);
  t.is(r.code, ExitCode.ok, r.stderr);
  const [header, , n2] = rows(r.stdout);
  t.deepEqual(header, [
    'NAME', 'STATUS', 'ADDRESS', 'AGE', 'CONDITIONS', 'SERVICES',
    'CPUS', 'MEMORY', 'DISK', 'LOAD', 'MEM-USED', 'DISK-USED', 'LABELS', 'OS', 'KERNEL', 'AGENT', 'MAINTENANCE',
  ]);
  const cell = (name: string) => n2![header!.indexOf(name)]!;
  t.is(cell('CPUS'), String(os.cpus().length || os.availableParallelism()));
  t.regex(cell('MEMORY'), /^\d+(\.\d)?(Mi|Gi|Ti)$/);
  t.regex(cell('DISK'), /^\d+(\.\d)?(Mi|Gi|Ti)$/);
  t.regex(cell('LOAD'), /^\d+\.\d$/);
  t.regex(cell('MEM-USED'), /^\d+0%$|^0%$/);
  t.regex(cell('DISK-USED'), /^\d+0%$|^0%$/);
  t.is(cell('LABELS'), 'zone=a');
  t.is(cell('KERNEL'), os.release());
  t.is(cell('MAINTENANCE'), '-');
});

test.serial('-o json: the stable fields, plus `conditions`, `maintenance` and `utilization`', (t) => {
  const r = beacon(['nodes', '-o', 'json', ...at()]);
  t.is(r.code, ExitCode.ok, r.stderr);
  const [n1, n2] = JSON.parse(r.stdout) as Record<string, unknown>[];
  for (const n of [n1!, n2!]) {
    t.deepEqual(Object.keys(n), [
      'name', 'status', 'address', 'bootId', 'machineId', 'labels', 'services', 'lease', 'registeredAt',
      'conditions', 'maintenance', 'facts', 'agentVersion', 'addresses', 'utilization',
    ]);
    t.is(n.maintenance, null, 'nothing in maintenance');
    const facts = n.facts as Record<string, unknown>;
    t.true(Number.isInteger(facts.diskBytes) && (facts.diskBytes as number) > 0, 'facts.diskBytes');
    const u = n.utilization as Record<string, unknown>;
    t.is(typeof u.load1, 'number');
    t.is((u.memoryUsedPercent as number) % 10, 0, 'memory use in steps of 10');
    t.true(u.diskUsedPercent === null || (u.diskUsedPercent as number) % 10 === 0, 'disk use in steps of 10');
    t.false(Number.isNaN(Date.parse(u.at as string)));
  }
  const conds = n1!.conditions as { type: string; status: string; reason: string }[];
  t.like(conds.find((c) => c.type === 'MemoryPressure'), { status: 'True', reason: 'NodeHasInsufficientMemory' });
  t.like(conds.find((c) => c.type === 'KernelDeadlock'), { status: 'False' });
  t.deepEqual(n2!.conditions, [], 'no node problem detection: no conditions');
});

test.serial('CONDITIONS cell: Ready when all are False, Type=Unknown when unknown, `-` for a node that is gone', (t) => {
  const c = (type: string, status: 'True' | 'False' | 'Unknown') => ({ type, status, reason: 'R', message: '', lastTransitionTime: '' });
  const view = (conditions: ReturnType<typeof c>[]) => ({ conditions }) as unknown as NodeView;
  t.is(conditionsCell(view([c('KernelDeadlock', 'False'), c('MemoryPressure', 'False')])), 'Ready');
  t.is(conditionsCell(view([c('KernelDeadlock', 'True'), c('DiskPressure', 'Unknown')])), 'KernelDeadlock,DiskPressure=Unknown');
  t.is(conditionsCell(view([])), '-');
  // A node whose lease is gone shows no (stale) conditions, even if a record were left behind.
  etcd.etcdctl(['put', `${PREFIX}/v1/nodes/gone/identity`, JSON.stringify({ schema: 1, name: 'gone', machineId: 'm', bootId: 'b', lease: '0000000000000001', registeredAt: '2024-05-01T10:00:00.000Z', left: null })]);
  etcd.etcdctl(['put', `${PREFIX}/v1/nodes/gone/conditions`, JSON.stringify({ schema: 1, node: 'gone', bootId: 'b', watermark: null, conditions: [c('KernelDeadlock', 'True')] })]);
  const gone = (JSON.parse(beacon(['nodes', '-o', 'json', ...at()]).stdout) as Record<string, unknown>[]).find((n) => n.name === 'gone')!;
  t.like(gone, { status: 'failed', conditions: [] });
  t.false('utilization' in gone);
  etcd.etcdctl(['del', '--prefix', `${PREFIX}/v1/nodes/gone/`]);
});
