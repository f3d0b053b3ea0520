// `npm run bench`: every benchmark, one after the other (they share two cores: never in parallel),
// each as its own process printing its figures as JSON. Prints all of them as one JSON document and
// writes a summary table into docs/benchmarks.md under the fleet heading; the fleet benchmark
// writes its own detailed table there too.
// Run: npm run bench   (= tsc -p . && node dist/bench/run-all.js [--only agent-steady,crash-latency,fleet,watcher-scale,probe-count,mass-failure,leader-kill,artifact])
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_DOCS, FLEET_HEADING, updateBlock } from './fleet/docs.js';
import { machine, machineLine } from './fleet/machine.js';

/** One benchmark as run-all starts it: the documented command of each. */
interface Bench {
  name: string;
  /** Compiled entry under dist/bench/. */
  file: string;
  args: string[];
  env?: Record<string, string>;
  /** Headline figures for the summary table. */
  headline(r: Json): string;
}

// Each benchmark's own JSON shape; the headlines read it loosely (a missing field shows as undefined).
type Json = Record<string, any>;

const BENCHES: Bench[] = [
  {
    name: 'agent-steady',
    file: 'agent-steady.js',
    args: ['60', '10'],
    // As docs/benchmarks.md runs it: the systemd units set this.
    env: { NODE_OPTIONS: '--max-semi-space-size=1' },
    headline: (r: Json) =>
      `start → registered p50 ${r.startToRegisteredMs?.p50} ms (max ${r.startToRegisteredMs?.max}); ` +
      `steady CPU ${r.steady?.cpuPctOfOneCore} % of a core; RSS p50 ${r.steady?.rssMiB?.p50} MiB (max ${r.steady?.rssMiB?.max}); ` +
      `etcd revisions in the window ${r.steady?.etcdRevisionsMoved}`,
  },
  {
    name: 'crash-latency',
    file: 'crash-latency.js',
    args: ['30', '3', '3'],
    headline: (r: Json) =>
      `${r.trials} crashes, TTL ${r.ttlS} s: NodeFailed after p50 ${r.latencyMs?.p50} / p99 ${r.latencyMs?.p99} / max ${r.latencyMs?.max} ms ` +
      `(bound ${r.boundMs?.join('–')} ms; ${r.outsideBound} outside)`,
  },
  {
    name: 'fleet',
    file: 'fleet/main.js',
    args: ['--docs', '--command', 'npm run bench'],
    headline: (r: Json) => {
      const b = r.beacon;
      const s = r.sidekick;
      return (
        `${r.options?.nodes} nodes, TTL ${r.options?.ttl} s: revisions/node-hour beacon ${b?.etcd.revisionsPerNodeHour} vs sidekick ${s?.etcd.revisionsPerNodeHour}; ` +
        `etcd CPU per 1,000 nodes ${b?.etcd.cpuPctPer1000Nodes} % vs ${s?.etcd.cpuPctPer1000Nodes} % of a core; ` +
        `keepalives/node-s ${b?.client.keepalivesPerNodeSecond}; register all ${b?.registerAllMs} ms`
      );
    },
  },
  {
    name: 'watcher-scale',
    file: 'watcher-scale.js',
    args: ['--nodes', '10000', '--window', '30', '--docs'],
    headline: (r: Json) =>
      `${r.nodes} nodes: start → in sync ${r.first?.inSyncMs} ms (first watcher, ${r.first?.joined} NodeJoined written), ` +
      `${r.restart?.inSyncMs} ms (restarted); RSS ${r.first?.rssAtSyncMiB} / ${r.restart?.rssAtSyncMiB} MiB; steady CPU ${r.steady?.cpuPctOfOneCore} %`,
  },
  {
    name: 'probe-count',
    file: 'probe-count.js',
    args: ['--nodes', '10000', '--reads', '200', '--docs'],
    headline: (r: Json) =>
      `${r.keys} keys: probe count p50 ${r.count?.p50Ms} ms, etcd CPU ${r.count?.etcdCpuMsPerRead} ms per read ` +
      `(get ${r.get?.etcdCpuMsPerRead} ms); ${r.countPctOfCoreAt2s} % of a core per follower at a 2 s probe`,
  },
  {
    name: 'mass-failure',
    file: 'mass-failure.js',
    args: ['--nodes', '1000', '--ttl', '3', '--docs'],
    headline: (r: Json) =>
      `${r.nodes} nodes killed, TTL ${r.ttlS} s: ${r.reported} NodeFailed, p50 ${r.nodeFailedMs?.p50} ms, last ${r.nodeFailedMs?.max} ms (target ≤ ${r.targetLastMs} ms)`,
  },
  {
    name: 'leader-kill',
    file: 'leader-kill.js',
    args: ['--trials', '10', '--ttl', '3', '--docs'],
    headline: (r: Json) =>
      `${r.trials} leader kills, TTL ${r.ttlS} s: election p50 ${r.electionMs?.p50} ms; NodeFailed p50 ${r.nodeFailedMs?.p50} / max ${r.nodeFailedMs?.max} ms; ` +
      `within election + T + 1.5 s: ${r.withinBound}/${r.trials}; false positives ${r.falsePositives}`,
  },
  {
    name: 'artifact',
    file: 'artifact.js',
    args: ['--build', '--runs', '20', '--docs'],
    headline: (r: Json) =>
      `${r.sizeMiB} MiB (gzip ${r.gzipMiB} MiB); --version p50 ${r.artifact?.p50Ms} ms (node + dist/ ${r.nodeDist?.p50Ms} ms)`,
  },
];

const DIST = fileURLToPath(new URL('.', import.meta.url));

/** The last JSON object a benchmark printed on stdout. */
export function lastJson(stdout: string): Json | undefined {
  const text = stdout.trim();
  for (let i = text.lastIndexOf('{'); i >= 0; i = text.lastIndexOf('{', i - 1)) {
    if (i > 0 && text[i - 1] !== '\n') continue;
    try {
      return JSON.parse(text.slice(i)) as Json;
    } catch {
      // an inner brace: keep looking further up
    }
  }
  return undefined;
}

async function run(b: Bench): Promise<{ code: number | null; result: Json | undefined; ms: number }> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [`${DIST}${b.file}`, ...b.args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...b.env },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { code, result: lastJson(out), ms: Date.now() - t0 };
}

const { values } = parseArgs({ options: { only: { type: 'string' }, 'docs-file': { type: 'string' } } });
const only = values.only?.split(',');
const docs = values['docs-file'] ?? DEFAULT_DOCS;
const benches = BENCHES.filter((b) => (!only || only.includes(b.name)) && existsSync(`${DIST}${b.file}`));
const m = machine();
const results: Record<string, Json | null> = {};
const rows: string[] = [];
for (const b of benches) {
  process.stderr.write(`[bench] ${b.name}: node dist/bench/${b.file} ${b.args.join(' ')}\n`);
  const r = await run(b);
  results[b.name] = r.result ?? null;
  const env = Object.entries(b.env ?? {}).map(([k, v]) => `${k}=${v} `).join('');
  const cmd = `${env}node dist/bench/${b.file} ${b.args.filter((a) => a !== '--command' && a !== 'npm run bench').join(' ')}`.trim();
  const figures = r.code === 0 && r.result ? b.headline(r.result) : `failed (exit ${r.code})`;
  rows.push(`| ${b.name} | \`${cmd}\` | ${figures} | ${Math.round(r.ms / 1000)} s |`);
}

// The summary lives in the fleet section, so the other sections stay hand-written by their owners.
const summary = [
  `### Last \`npm run bench\``,
  '',
  `Machine: ${machineLine(m)}; load average at start ${m.loadavg.join(' / ')}. Run ${new Date().toISOString()}.`,
  '',
  '| benchmark | command (as run by `npm run bench`) | headline figures | took |',
  '|---|---|---|---|',
  ...rows,
].join('\n');
writeFileSync(docs, updateBlock(readFileSync(docs, 'utf8'), FLEET_HEADING, 'bench:all', summary));
console.log(JSON.stringify({ machine: m, results }, null, 2));
