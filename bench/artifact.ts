// Benchmark: the single-executable artifact (npm run build:artifact): its size, gzipped size (what
// Ignition fetches), and start-up time of `beacon --version` (process spawn → exit), beside the same
// command through Node and the compiled dist/ (how `npm install` users run it). The first run of each
// is reported apart (files maybe not in the page cache yet); the page cache is not dropped (shared machine).
// Run: npm run build && node dist/bench/artifact.js [--runs 20] [--build] [--artifact dist/artifact/beacon] [--docs]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { REPO_ROOT, BEACON_BIN } from '../test/helpers/process.js';
import { machine } from './fleet/machine.js';
import { DEFAULT_DOCS, commandLine, pct, round, writeSection } from './report.js';

/** The heading this benchmark owns in docs/benchmarks.md. */
export const ARTIFACT_HEADING = '## Artifact: size and cold start';

const { values: v } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    build: { type: 'boolean', default: false },
    artifact: { type: 'string' },
    docs: { type: 'boolean', default: false },
    'docs-file': { type: 'string' },
  },
});
const runs = Math.max(1, Number(v.runs));
const m = machine();
const artifact = v.artifact ?? join(REPO_ROOT, 'dist', 'artifact', 'beacon');
let buildMs: number | undefined;
if (v.build) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-artifact.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`npm run build:artifact failed (exit ${r.status})`);
  buildMs = Date.now() - t0;
}
if (!existsSync(artifact)) throw new Error(`${artifact} not found: run npm run build:artifact first (or pass --build)`);

// Spawn → exit of one `--version`, in ms; the output must be the version.
function timeOnce(cmd: string, args: string[]): { ms: number; out: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr}`);
  return { ms, out: r.stdout.trim() };
}

function startup(cmd: string, args: string[]) {
  const first = timeOnce(cmd, args);
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) xs.push(timeOnce(cmd, args).ms);
  return { output: first.out, firstMs: round(first.ms), p50Ms: round(pct(xs, 50)), maxMs: round(Math.max(...xs)), minMs: round(Math.min(...xs)) };
}

const bytes = readFileSync(artifact);
const gz = join(`${artifact}.gz`);
const result = {
  benchmark: 'artifact',
  machine: m,
  runs,
  ...(buildMs === undefined ? {} : { buildMs }),
  sizeMiB: round(bytes.length / 2 ** 20, 1),
  gzipMiB: round((existsSync(gz) ? statSync(gz).size : gzipSync(bytes, { level: 9 }).length) / 2 ** 20, 1),
  nodeBinaryMiB: round(statSync(process.execPath).size / 2 ** 20, 1),
  artifact: startup(artifact, ['--version']),
  nodeDist: startup(process.execPath, [BEACON_BIN, '--version']),
  bareNode: startup(process.execPath, ['-e', '0']),
};
const command = commandLine('artifact.js');
if (v.docs) {
  const r = result;
  const table = [
    '| figure | single executable (`dist/artifact/beacon`) | `node bin/beacon.js` (dist/, node_modules) | bare `node -e 0` |',
    '|---|---|---|---|',
    `| size on disk | ${r.sizeMiB} MiB (gzip -9: **${r.gzipMiB} MiB**, what Ignition fetches) | Node binary ${r.nodeBinaryMiB} MiB + dist/ + node_modules | ${r.nodeBinaryMiB} MiB |`,
    `| **\`--version\`, spawn → exit, p50** over ${runs} runs (min–max) | **${r.artifact.p50Ms} ms** (${r.artifact.minMs}–${r.artifact.maxMs}) | ${r.nodeDist.p50Ms} ms (${r.nodeDist.minMs}–${r.nodeDist.maxMs}) | ${r.bareNode.p50Ms} ms (${r.bareNode.minMs}–${r.bareNode.maxMs}) |`,
    `| first run (before the ${runs}) | ${r.artifact.firstMs} ms | ${r.nodeDist.firstMs} ms | ${r.bareNode.firstMs} ms |`,
    ...(r.buildMs === undefined ? [] : [`| \`npm run build:artifact\` | ${(r.buildMs / 1000).toFixed(1)} s | | |`]),
  ].join('\n');
  writeSection(v['docs-file'] ?? DEFAULT_DOCS, ARTIFACT_HEADING, 'artifact', m, command, table, result);
}
console.log(JSON.stringify({ ...result, command }, null, 2));
