// Issue #17 end to end on this machine's real cgroup v1 (cpuacct + memory): real processes moved into
// groups the test makes, two real agents measuring them, real etcd, and `beacon capacity` naming each
// case: a CPU burner (measured, not wasteful), an idler reserving much (waste) on a node whose CPU is
// stranded by a big memory reservation (mismatch), a memory hog (measured against the kernel's own
// figure), a reservation no node can hold (shortage), and sources that cannot be read (a missing cgroup,
// a path that is not a cgroup, a unit without systemd): errors naming them while the agent runs on.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { EtcdCluster, freePort, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beacon, writeConfig } from '../helpers/process.js';

const ROOT = '/sys/fs/cgroup';
const TAG = `beacon-test-${randomBytes(4).toString('hex')}`;
const WINDOW_S = 8;

interface Group {
  name: string;
  path: string;
  proc: ChildProcess;
}

const groups: Group[] = [];
let etcd: EtcdCluster;
const agents: BeaconProcess[] = [];

function makeGroup(name: string, argv: string[]): Group {
  const path = `/${TAG}-${name}`;
  for (const ctl of ['cpuacct', 'memory']) mkdirSync(`${ROOT}/${ctl}${path}`);
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  for (const ctl of ['cpuacct', 'memory']) writeFileSync(`${ROOT}/${ctl}${path}/cgroup.procs`, String(proc.pid));
  const g = { name, path, proc };
  groups.push(g);
  return g;
}

const kernelCpuNs = (g: Group) => Number(readFileSync(`${ROOT}/cpuacct${g.path}/cpuacct.usage`, 'utf8'));
const kernelMemory = (g: Group) => Number(readFileSync(`${ROOT}/memory${g.path}/memory.usage_in_bytes`, 'utf8'));

async function scrape(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  return r.text();
}

function metric(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((p) => l.includes(p)));
  return line ? Number(line.split(' ').pop()) : undefined;
}

test.after.always(async () => {
  await Promise.all(agents.map((a) => a.stop('SIGKILL')));
  await etcd?.destroy();
  for (const g of groups) {
    g.proc.kill('SIGKILL');
    await waitFor(() => g.proc.exitCode !== null || g.proc.signalCode !== null, { timeoutMs: 10_000, what: `${g.name} exit` }).catch(() => undefined);
  }
  // A group can be removed once its processes are gone (v1 moves leftover page charges to the parent).
  for (const g of groups) {
    for (const ctl of ['cpuacct', 'memory']) {
      const dir = `${ROOT}/${ctl}${g.path}`;
      await waitFor(() => {
        if (existsSync(dir)) rmdirSync(dir);
        return true;
      }, { timeoutMs: 10_000, what: `rmdir ${dir}` }).catch(() => undefined);
    }
  }
});

test('beacon capacity names shortage, waste and mismatch from real cgroups, and the figures agree with the kernel', async (t) => {
  for (const ctl of ['cpuacct', 'memory']) t.true(existsSync(`${ROOT}/${ctl}/cgroup.procs`), `cgroup v1 ${ctl} is mounted at ${ROOT}/${ctl}`);
  const cpus = os.cpus().length;
  const total = os.totalmem();
  const burner = makeGroup('burner', ['sh', '-c', 'while :; do :; done']);
  const idler = makeGroup('idler', ['sleep', '1000']);
  const hog = makeGroup('hog', [process.execPath, '-e', 'const b = Buffer.alloc(200 * 2 ** 20, 1); setInterval(() => b[0]++, 1000)']);

  // The test's own record of the burner's counter, to compare window averages with.
  const burnerCounter: [number, number][] = [];
  const tick = setInterval(() => burnerCounter.push([Date.now(), kernelCpuNs(burner)]), 250);
  t.teardown(() => clearInterval(tick));

  etcd = await EtcdCluster.start();
  const [portA, portB] = [await freePort(), await freePort()];
  const base = (node: string, port: number) => [
    'etcd:',
    `  endpoints: [${etcd.endpoints}]`,
    'prefix: /t-capacity',
    `node: { name: ${node}, ttl: 5s }`,
    `metrics: { listen: "127.0.0.1:${port}" }`,
    `capacity: { interval: 1s, window: ${WINDOW_S}s }`,
    'services:',
  ];
  const cfgA = [
    ...base('cap-a', portA),
    `  - { name: burner, port: 8001, cgroup: ${burner.path}, resources: { cpu: ${(cpus / 8).toFixed(3)} } }`,
    // 90 % of the node's memory, a little CPU, used by a process that sleeps.
    `  - { name: idler, port: 8002, cgroup: ${idler.path}, resources: { cpu: 100m, memory: ${Math.floor(total * 0.9)} } }`,
    '',
  ].join('\n');
  const cfgB = [
    ...base('cap-b', portB),
    `  - { name: hog, port: 8003, cgroup: ${hog.path}, resources: { memory: 256Mi } }`,
    `  - { name: huge, port: 8004, resources: { cpu: ${cpus * 4} } }`,
    `  - { name: ghost, port: 8005, cgroup: /${TAG}-nonexistent }`,
    '  - { name: notcg, port: 8006, cgroup: /cgroup.procs }',
    '  - { name: unitless, port: 8007, unit: no-such-thing.service }',
    '',
  ].join('\n');
  agents.push(new BeaconProcess(['agent', '--config', writeConfig(cfgA)]), new BeaconProcess(['agent', '--config', writeConfig(cfgB)]));
  for (const a of agents) await a.waitLine((l) => l.msg === 'registered', 30_000);

  type Out = {
    nodes: { name: string; flags: { kind: string; resource?: string }[]; used: unknown }[];
    services: { service: string; node: string; used: { cpu: number; memoryBytes: number } | null; error: string | null; flags: { kind: string; resource?: string }[] }[];
  };
  const capacity = (): Out => {
    const r = beacon(['capacity', '-o', 'json', '--etcd', etcd.endpoints, '--prefix', '/t-capacity']);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as Out;
  };
  const out = await waitFor(
    () => {
      const o = capacity();
      const used = (s: string) => o.services.find((x) => x.service === s)?.used;
      return used('burner') && used('idler') && used('hog') && o.nodes.every((n) => n.used) ? o : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 1_000, what: 'window averages in the usage records' },
  );
  const svc = (name: string) => out.services.find((s) => s.service === name)!;
  const node = (name: string) => out.nodes.find((n) => n.name === name)!;
  const kinds = (flags: { kind: string; resource?: string }[]) => flags.map((f) => `${f.kind}${f.resource ? `:${f.resource}` : ''}`).sort();
  t.log(JSON.stringify(out.services.map((s) => [s.service, s.used, kinds(s.flags), s.error])));

  t.deepEqual(kinds(node('cap-a').flags), ['mismatch:cpu'], 'cap-a: a big memory reservation strands its CPU');
  t.deepEqual(kinds(svc('idler').flags), ['waste:cpu', 'waste:memory'], 'the idler reserves much and uses little');
  t.deepEqual(kinds(svc('burner').flags), [], 'the burner uses what it reserves');
  t.deepEqual(kinds(svc('huge').flags), ['shortage'], 'a reservation no node can hold');
  t.deepEqual(kinds(node('cap-b').flags), ['shortage:cpu'], 'cap-b reserves more CPU than it has');
  t.deepEqual(kinds(svc('hog').flags), []);
  // Bad sources: errors that name them, the agent still registered and measuring the rest.
  t.regex(svc('ghost').error ?? '', /^cgroup \/beacon-test-\w+-nonexistent: no such cgroup/);
  t.regex(svc('notcg').error ?? '', /^cgroup \/cgroup\.procs: not a cgroup/);
  t.regex(svc('unitless').error ?? '', /^unit no-such-thing\.service: systemctl show failed/);
  t.is(agents[1]!.withMsg('usage source not readable').length, 3);
  t.is(agents[1]!.proc.exitCode, null);

  // The table names each case.
  const table = beacon(['capacity', '--etcd', etcd.endpoints, '--prefix', '/t-capacity']);
  t.is(table.code, 0, table.stderr);
  t.log(`\n${table.stdout}`);
  t.regex(table.stdout, /mismatch\s+node cap-a\s+\d+% of cpu and \d+% of memory free: cpu stranded/);
  t.regex(table.stdout, /waste\s+service idler on cap-a\s+uses/);
  t.regex(table.stdout, /shortage\s+service huge on cap-b\s+reservation of \d+ cpu fits on no node's free capacity/);
  t.regex(table.stdout, /error\s+service ghost on cap-b\s+cgroup/);

  // describe node shows the same for one node.
  const described = beacon(['describe', 'node', 'cap-a', '--etcd', etcd.endpoints, '--prefix', '/t-capacity']);
  t.is(described.code, 0, described.stderr);
  t.regex(described.stdout, /Capacity:\n  CPU CAP .*\n/);
  t.regex(described.stdout, /mismatch: node cap-a: \d+% of cpu and \d+% of memory free: cpu stranded/);
  t.regex(described.stdout, /waste: service idler on cap-a: uses/);

  // Figures against the kernel. Memory: the hog's charge now (it does not change) within 10 %.
  const metricsB = await scrape(portB);
  const hogMem = metric(metricsB, 'beacon_service_memory_bytes', 'service="hog"')!;
  const kernelHog = kernelMemory(hog);
  t.true(Math.abs(hogMem - kernelHog) <= 0.1 * kernelHog, `hog memory ${hogMem} vs kernel ${kernelHog}`);
  t.true(kernelHog >= 200 * 2 ** 20, `the hog's 200 MiB are charged to its group (${kernelHog})`);
  // CPU: the last sampled counter is the kernel's, at most one interval (plus scheduling) behind.
  const metricsA = await scrape(portA);
  const burnerSeconds = metric(metricsA, 'beacon_service_cpu_seconds', 'service="burner"')!;
  const kernelBurner = kernelCpuNs(burner) / 1e9;
  t.true(burnerSeconds <= kernelBurner && kernelBurner - burnerSeconds <= 3 * cpus, `burner cpu seconds ${burnerSeconds} vs kernel ${kernelBurner}`);
  t.is(metric(metricsA, 'beacon_service_resource_reserved', 'service="idler",resource="memory"'), Math.floor(total * 0.9));
  t.is(metric(metricsA, 'beacon_node_resource_capacity', 'resource="cpu"'), cpus);
  // The window average against the test's own samples over the same window (±0.15 core or 25 %). The
  // CLI runs above block this process's timers (spawnSync): a whole window of free event loop first.
  await new Promise((r) => setTimeout(r, (WINDOW_S + 2) * 1000));
  const avg = metric(await scrape(portA), 'beacon_service_resource_used', 'service="burner",resource="cpu"')!;
  const now = Date.now();
  const inWindow = burnerCounter.filter(([at]) => at >= now - WINDOW_S * 1000);
  t.true(inWindow.length >= WINDOW_S, `the test sampled the burner through the window (${inWindow.length} samples)`);
  const [t0, c0] = inWindow[0]!;
  const [t1, c1] = inWindow[inWindow.length - 1]!;
  const mine = (c1 - c0) / ((t1 - t0) * 1e6);
  t.log(`burner: agent ${avg.toFixed(3)} cores, kernel over the test's window ${mine.toFixed(3)} cores`);
  t.true(Math.abs(avg - mine) <= Math.max(0.15, 0.25 * mine), `burner average ${avg} vs ${mine}`);

  // Writes stay rare: whatever the load does to the figures, at most one rewrite per window per node
  // (plus one for a window boundary falling inside the span).
  const version = (node: string) => {
    const out = JSON.parse(etcd.etcdctl(['get', `/t-capacity/v1/nodes/${node}/usage`, '-w', 'json'])) as { kvs?: { version: number }[] };
    return out.kvs?.[0]?.version ?? 0;
  };
  const before = [version('cap-a'), version('cap-b')];
  await new Promise((r) => setTimeout(r, 3 * WINDOW_S * 1000));
  const writes = [version('cap-a') - before[0]!, version('cap-b') - before[1]!];
  t.log(`usage key writes over ${3 * WINDOW_S} s (3 windows): cap-a ${writes[0]}, cap-b ${writes[1]}`);
  for (const w of writes) t.true(w <= 4, `${w} writes in 3 windows`);
  for (const a of agents) t.is(a.withMsg('registration lost').length, 0);
});
