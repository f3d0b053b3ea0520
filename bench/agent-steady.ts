// Benchmark: agent start → registered, and its RSS and CPU at steady state.
// Run: npm run build && node dist/bench/agent-steady.js [seconds=60] [runs=10]
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { EtcdCluster } from '../test/helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../test/helpers/process.js';

const seconds = Number(process.argv[2] ?? 60);
const runs = Number(process.argv[3] ?? 10);
const CLK_TCK = 100;

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}
function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const etcd = await EtcdCluster.start();
const cfg = (i: number) =>
  writeConfig(
    `etcd:\n  endpoints: [${etcd.endpoints}]\nprefix: /bench\nnode: { name: b${i}, ttl: 10s }\nservices:\n` +
      ['web', 'api', 'db', 'cache', 'metrics'].map((s, j) => `  - { name: ${s}, port: ${8000 + j} }`).join('\n') + '\n',
  );

// 1. Process start → registered (spawn to the etcd write being visible in the agent's log).
const startup: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = Date.now();
  const p = new BeaconProcess(['agent', '--config', cfg(i)]);
  await p.waitLine((l) => l.msg === 'registered', 10_000);
  startup.push(Date.now() - t0);
  await p.stop('SIGTERM');
}

// 2. Steady state: one agent, five services, TTL 10 s; CPU and RSS over the window.
const p = new BeaconProcess(['agent', '--config', cfg(999)]);
await p.waitLine((l) => l.msg === 'registered');
await new Promise((r) => setTimeout(r, 5_000)); // let start-up work (JIT, GC) settle before measuring
const pid = p.proc.pid!;
const rev0 = etcd.revision();
const c0 = cpuTicks(pid);
const t0 = Date.now();
const rss: number[] = [];
while (Date.now() - t0 < seconds * 1000) {
  await new Promise((r) => setTimeout(r, 1000));
  rss.push(rssKiB(pid));
}
const cpuPct = (((cpuTicks(pid) - c0) / CLK_TCK) / ((Date.now() - t0) / 1000)) * 100;
const revMoved = etcd.revision() - rev0;
await p.stop('SIGTERM');
await etcd.destroy();

const etcdVersion = execFileSync('etcd', ['--version'], { encoding: 'utf8' }).split('\n')[0];
console.log(JSON.stringify({
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version, etcd: etcdVersion },
  startToRegisteredMs: { runs, p50: pct(startup, 50), max: Math.max(...startup) },
  steady: { seconds, cpuPctOfOneCore: +cpuPct.toFixed(3), rssMiB: { p50: +(pct(rss, 50) / 1024).toFixed(1), max: +(Math.max(...rss) / 1024).toFixed(1) }, etcdRevisionsMoved: revMoved },
}, null, 2));
