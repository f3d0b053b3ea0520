// Benchmark: what resource accounting costs (docs/capacity.md). Two agents side by side with the same
// three services, one measuring them (a CPU burner, an idler, a 200 MiB memory hog in real cgroup v1
// groups, with reservations) and one not; for the measuring agent: etcd writes to its usage key
// (the key's version) and per node-hour, and the CPU of each agent. Needs root and cgroup v1 (cpuacct,
// memory) as on the test machine.
// Run: npm run build && node dist/bench/capacity-cost.js [seconds=600] [interval=10s] [window=5m]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { EtcdCluster } from '../test/helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../test/helpers/process.js';

const seconds = Number(process.argv[2] ?? 600);
const interval = process.argv[3] ?? '10s';
const windowLen = process.argv[4] ?? '5m';
const TAG = `beacon-bench-${randomBytes(3).toString('hex')}`;

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}

const procs = [
  ['burner', ['sh', '-c', 'while :; do :; done']],
  ['idler', ['sleep', '100000']],
  ['hog', [process.execPath, '-e', 'const b = Buffer.alloc(200 * 2 ** 20, 1); setInterval(() => b[0]++, 1000)']],
] as const;
const children = procs.map(([name, argv]) => {
  for (const ctl of ['cpuacct', 'memory']) mkdirSync(`/sys/fs/cgroup/${ctl}/${TAG}-${name}`);
  const p = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
  for (const ctl of ['cpuacct', 'memory']) writeFileSync(`/sys/fs/cgroup/${ctl}/${TAG}-${name}/cgroup.procs`, String(p.pid));
  return { name, p };
});

const etcd = await EtcdCluster.start();
const cfg = (node: string, measured: boolean) =>
  writeConfig(
    [
      `etcd:\n  endpoints: [${etcd.endpoints}]\nprefix: /bench-${node}\nnode: { name: ${node}, ttl: 10s }`,
      `capacity: { interval: ${interval}, window: ${windowLen} }`,
      'services:',
      ...procs.map(([name], i) =>
        measured
          ? `  - { name: ${name}, port: ${8000 + i}, cgroup: /${TAG}-${name}, resources: { cpu: ${name === 'burner' ? '500m' : '100m'}, memory: ${name === 'hog' ? '256Mi' : '64Mi'} } }`
          : `  - { name: ${name}, port: ${8000 + i} }`,
      ),
      '',
    ].join('\n'),
  );
const measuring = new BeaconProcess(['agent', '--config', cfg('measuring', true)]);
const plain = new BeaconProcess(['agent', '--config', cfg('plain', false)]);
await Promise.all([measuring, plain].map((a) => a.waitLine((l) => l.msg === 'registered', 30_000)));
const c0 = [cpuTicks(measuring.proc.pid!), cpuTicks(plain.proc.pid!)];
const t0 = Date.now();
const writes: string[] = [];
let lastVersion = 0;
while (Date.now() - t0 < seconds * 1000) {
  await new Promise((r) => setTimeout(r, 5_000));
  const out = JSON.parse(etcd.etcdctl(['get', '/bench-measuring/v1/nodes/measuring/usage', '-w', 'json'])) as { kvs?: { version: number }[] };
  const v = out.kvs?.[0]?.version ?? 0;
  if (v !== lastVersion) writes.push(`${Math.round((Date.now() - t0) / 1000)}s:v${v}`);
  lastVersion = v;
}
const elapsed = (Date.now() - t0) / 1000;
const cpuPct = (i: number, p: BeaconProcess) => +((((cpuTicks(p.proc.pid!) - c0[i]!) / 100) / elapsed) * 100).toFixed(3);
const result = {
  machine: { cpus: cpus().length, loadavg1AtEnd: +readFileSync('/proc/loadavg', 'utf8').split(' ')[0]! },
  settings: { seconds, interval, window: windowLen },
  agentCpuPctOfOneCore: { measuring: cpuPct(0, measuring), plain: cpuPct(1, plain) },
  // The key's version counts its writes; `writes` lists when the version was seen to change.
  usageKeyWrites: { total: lastVersion, seen: writes },
};
await Promise.all([measuring.stop('SIGTERM'), plain.stop('SIGTERM')]);
await etcd.destroy();
for (const c of children) c.p.kill('SIGKILL');
await new Promise((r) => setTimeout(r, 1_000));
for (const [name] of procs) for (const ctl of ['cpuacct', 'memory']) rmdirSync(`/sys/fs/cgroup/${ctl}/${TAG}-${name}`);
console.log(JSON.stringify(result, null, 2));
