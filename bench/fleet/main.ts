// Fleet benchmark CLI: beacon vs the sidekick pattern, N virtual nodes, prints its figures as JSON
// on stdout (progress on stderr) and, with --docs, updates its table in docs/benchmarks.md.
// Run: npm run bench:fleet [-- --nodes 10000]   (= tsc -p . && node dist/bench/fleet/main.js --docs)
import { parseArgs } from 'node:util';
import { defaultOptions, runFleet } from './fleet.js';
import { DEFAULT_DOCS, writeFleetDocs } from './docs.js';
import type { Side } from './protocol.js';

const { values: v } = parseArgs({
  options: {
    nodes: { type: 'string' },
    workers: { type: 'string' },
    ttl: { type: 'string' },
    'keepalive-interval': { type: 'string' },
    'sidekick-interval': { type: 'string' },
    window: { type: 'string' },
    settle: { type: 'string' },
    outage: { type: 'string' },
    concurrency: { type: 'string' },
    'ramp-timeout': { type: 'string' },
    'client-per': { type: 'string' },
    'keepalive-stream': { type: 'string' },
    sides: { type: 'string' },
    docs: { type: 'boolean', default: false },
    'docs-file': { type: 'string' },
    command: { type: 'string' },
  },
});

function num(name: string, s: string | undefined, min: number): number | undefined {
  if (s === undefined) return undefined;
  const x = Number(s);
  if (!Number.isFinite(x) || x < min) throw new Error(`--${name} must be a number ≥ ${min} (got ${s})`);
  return x;
}

const ttl = num('ttl', v.ttl, 2);
if (v.outage !== undefined && Number(v.outage) !== 0 && Number(v.outage) <= (ttl ?? 10)) {
  throw new Error(`--outage must be longer than --ttl, so that every node loses its lease: outage=${v.outage}s ttl=${ttl ?? 10}s`);
}
const nodes = num('nodes', v.nodes, 1);
const partial = defaultOptions({ ...(ttl === undefined ? {} : { ttl }), ...(nodes === undefined ? {} : { nodes }) });
const sides = (v.sides ?? 'beacon,sidekick').split(',').map((s) => s.trim()) as Side[];
if (sides.some((s) => s !== 'beacon' && s !== 'sidekick')) throw new Error(`--sides must list beacon and/or sidekick (got ${v.sides})`);
const clientPerArg = v['client-per'] ?? 'node';
const clientPer = clientPerArg === 'node' || clientPerArg === 'worker' ? clientPerArg : Number(clientPerArg);
if (typeof clientPer === 'number' && !(Number.isInteger(clientPer) && clientPer >= 1)) {
  throw new Error(`--client-per must be node, worker or a number of nodes (got ${clientPerArg})`);
}
const keepaliveStream = v['keepalive-stream'] ?? 'call';
if (keepaliveStream !== 'call' && keepaliveStream !== 'lease') throw new Error(`--keepalive-stream must be call or lease (got ${keepaliveStream})`);
const seconds = (name: string, s: string | undefined) => {
  const x = num(name, s, 0.1);
  return x === undefined ? undefined : Math.round(x * 1000);
};
const opts = defaultOptions({
  ttl: partial.ttl,
  nodes: partial.nodes,
  workers: num('workers', v.workers, 1) ?? partial.workers,
  keepaliveIntervalMs: seconds('keepalive-interval', v['keepalive-interval']) ?? partial.keepaliveIntervalMs,
  sidekickIntervalMs: seconds('sidekick-interval', v['sidekick-interval']) ?? partial.sidekickIntervalMs,
  windowS: num('window', v.window, 0.5) ?? partial.windowS,
  settleS: num('settle', v.settle, 0) ?? partial.settleS,
  outageS: num('outage', v.outage, 0) ?? 0,
  concurrency: num('concurrency', v.concurrency, 1) ?? partial.concurrency,
  rampTimeoutS: num('ramp-timeout', v['ramp-timeout'], 1) ?? partial.rampTimeoutS,
  clientPer,
  keepaliveStream,
  sides,
  progress: (line) => process.stderr.write(`[fleet] ${line}\n`),
});

const result = await runFleet(opts);
// The command as typed, for the docs: the npm script when run through npm, else node + arguments.
const command =
  v.command ??
  (process.env.npm_lifecycle_event
    ? `npm run ${process.env.npm_lifecycle_event}${process.argv.length > 3 ? ` -- ${process.argv.slice(2).filter((a) => a !== '--docs').join(' ')}` : ''}`
    : `node dist/bench/fleet/main.js ${process.argv.slice(2).join(' ')}`.trim());
if (v.docs) writeFleetDocs(v['docs-file'] ?? DEFAULT_DOCS, result, command);
console.log(JSON.stringify({ ...result, command }, null, 2));
