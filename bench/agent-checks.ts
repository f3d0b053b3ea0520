// Benchmark: the agent's CPU and RSS (1) with 50 checks at a 1 s interval (25 http, 25 tcp, against
// local servers), with V8's optimising tiers off (the default for `beacon agent`), on
// (BEACON_V8_OPTIMIZE=1), and off plus V8's --optimize-for-size (set the way src/cli/bin.ts sets its
// flags, through a two-line wrapper); (2) during a 10,000 lines/s kernel-log flood through the file source.
// Run: npm run build && NODE_OPTIONS=--max-semi-space-size=1 node dist/bench/agent-checks.js [seconds=60]
// (NODE_OPTIONS as the systemd unit sets it; the agent processes inherit it).
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { EtcdCluster } from '../test/helpers/etcd.js';
import { BEACON_BIN, BeaconProcess, writeConfig } from '../test/helpers/process.js';
import { waitFor } from '../test/helpers/etcd.js';
import { httpServer, shortTempDir, TcpServer, type FlipServer } from '../test/agent/health-support.js';

const seconds = Number(process.argv[2] ?? 60);
const CLK_TCK = 100;
const SERVICES = 5;
const CHECKS_PER_SERVICE = 10; // 5 http + 5 tcp

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}
function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const mib = (kib: number) => +(kib / 1024).toFixed(1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sample one process once a second for `secs` while `during` runs; CPU % of one core and RSS. */
async function measure(pid: number, secs: number, etcd: EtcdCluster, tick?: () => void) {
  const rev0 = etcd.revision();
  const c0 = cpuTicks(pid);
  const t0 = Date.now();
  const rss: number[] = [];
  while (Date.now() - t0 < secs * 1000) {
    for (let i = 0; i < 10; i++) {
      tick?.();
      await sleep(100);
    }
    rss.push(rssKiB(pid));
  }
  const cpuPct = ((cpuTicks(pid) - c0) / CLK_TCK / ((Date.now() - t0) / 1000)) * 100;
  return { cpuPctOfOneCore: +cpuPct.toFixed(2), rssMiB: { p50: mib(pct(rss, 50)), max: mib(Math.max(...rss)) }, etcdRevisionsMoved: etcd.revision() - rev0 };
}

const etcd = await EtcdCluster.start();
const https: FlipServer[] = [];
const tcps: TcpServer[] = [];
for (let i = 0; i < SERVICES; i++) {
  https.push(await httpServer(200));
  tcps.push(await TcpServer.start());
}

function checksYaml(prefix: string, node: string, dir: string, extra: string[] = []): string {
  const lines = ['etcd:', `  endpoints: [${etcd.endpoints}]`, `prefix: ${prefix}`, `node: { name: ${node}, ttl: 10s }`, 'api:', `  socket: ${join(dir, 'a.sock')}`, 'services:'];
  for (let s = 0; s < SERVICES; s++) {
    lines.push(`  - name: svc${s}`, `    port: ${8000 + s}`, '    checks:');
    for (let c = 0; c < CHECKS_PER_SERVICE / 2; c++) {
      lines.push(`      - http: http://127.0.0.1:${https[s]!.port}/health/${c}`, '        interval: 1s', '        timeout: 500ms');
      lines.push(`      - tcp: 127.0.0.1:${tcps[s]!.port}`, '        interval: 1s', '        timeout: 500ms');
    }
  }
  return [...lines, ...extra, ''].join('\n');
}

async function startAgent(yaml: string): Promise<BeaconProcess> {
  const p = new BeaconProcess(['agent', '--config', writeConfig(yaml)]);
  await p.waitLine((l) => l.msg === 'registered', 20_000);
  return p;
}

// 1. Fifty checks: V8 optimising tiers off (default), on, and off with --optimize-for-size.
const ofsEntry = join(shortTempDir(), 'beacon-ofs.mjs');
writeFileSync(ofsEntry, `import v8 from 'node:v8';\nv8.setFlagsFromString('--optimize-for-size');\nawait import(${JSON.stringify(BEACON_BIN)});\n`);
const checks: Record<string, unknown> = {};
for (const [label, entry, env] of [
  ['v8OptimizingTiersOff', BEACON_BIN, {}],
  ['v8OptimizingTiersOn', BEACON_BIN, { BEACON_V8_OPTIMIZE: '1' }],
  ['v8OptimizingTiersOffOptimizeForSize', ofsEntry, {}],
] as const) {
  const dir = shortTempDir();
  const hits0 = https.reduce((n, s) => n + s.hits, 0);
  const child = spawn(process.execPath, [entry, 'agent', '--config', writeConfig(checksYaml(`/bench-${label}`, 'b1', dir))], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-100_000)));
  await waitFor(() => out.includes('"msg":"registered"'), { timeoutMs: 20_000, what: `${label} registered` });
  await sleep(5_000); // first results written, start-up work settled
  const m = await measure(child.pid!, seconds, etcd);
  const probesPerSecond = (https.reduce((n, s) => n + s.hits, 0) - hits0) / (seconds + 5);
  checks[label] = { ...m, httpProbesPerSecond: +probesPerSecond.toFixed(1) };
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

// 2. A kernel-log flood through the file source: 10,000 lines/s for `seconds`. Most lines match no
// rule; every tenth is an I/O error with its own block number (distinct messages: the coalescing
// table fills and folds), every hundredth the same OOM line (one event, counted).
const dir = shortTempDir();
const kern = join(dir, 'kern.log');
writeFileSync(kern, '');
const agent = await startAgent(
  [
    'etcd:',
    `  endpoints: [${etcd.endpoints}]`,
    'prefix: /bench-flood',
    'node: { name: f1, ttl: 10s }',
    'api:',
    `  socket: ${join(dir, 'a.sock')}`,
    'services:',
    '  - { name: web, port: 8080 }',
    'problems:',
    `  kernel: { source: file, path: ${kern} }`,
    '  pressure: { enabled: false }',
    '',
  ].join('\n'),
);
await sleep(3_000);
let block = 0;
let written = 0;
const oom = 'Out of memory: Killed process 4242 (java) total-vm:2097152kB, anon-rss:1048576kB, file-rss:0kB, shmem-rss:0kB';
const flood = await measure(agent.proc.pid!, seconds, etcd, () => {
  // 1,000 lines every 100 ms.
  const stamp = `${new Date().toISOString()} f1 kernel: [ 4242.000001] `;
  let chunk = '';
  for (let i = 0; i < 1_000; i++, written++) {
    if (written % 100 === 0) chunk += `${stamp}${oom}\n`;
    else if (written % 10 === 0) chunk += `${stamp}Buffer I/O error on dev sda1, logical block ${block++}, async page read\n`;
    else chunk += `${stamp}IPv6: ADDRCONF(NETDEV_CHANGE): eth${written % 8}: link becomes ready\n`;
  }
  appendFileSync(kern, chunk);
});
await sleep(2_000);
const eventKeys = etcd.etcdctl(['get', '--prefix', '/bench-flood/v1/events/', '--keys-only']).split('\n').filter(Boolean).length;
const oomEvent = etcd
  .etcdctl(['get', '--prefix', '/bench-flood/v1/events/', '--print-value-only'])
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { reason: string; count: number })
  .find((e) => e.reason === 'OOMKilling');
await agent.stop('SIGTERM');
for (const s of https) await s.close();
for (const s of tcps) await s.close();
await etcd.destroy();

const etcdVersion = execFileSync('etcd', ['--version'], { encoding: 'utf8' }).split('\n')[0];
console.log(
  JSON.stringify(
    {
      machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version, etcd: etcdVersion, nodeOptions: process.env.NODE_OPTIONS ?? '' },
      fiftyChecks: { seconds, checks: SERVICES * CHECKS_PER_SERVICE, intervalSeconds: 1, ...checks },
      kernelLogFlood: { seconds, linesPerSecond: 10_000, linesWritten: written, ...flood, eventKeys, oomEventCount: oomEvent?.count, oomLinesWritten: Math.ceil(written / 100) },
    },
    null,
    2,
  ),
);
