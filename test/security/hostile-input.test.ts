// The hostile-input suite (beacon issue #12, "Tests"), end to end against a real etcd: fast-check derives
// hostile variants of every record kind from a valid record (each field of every wrong type or removed,
// oversized values, control characters / ESC / OSC / C1 / bidi in every string, nginx metacharacters in
// address, tags and meta, raw non-JSON bytes) and writes them beside the records of one real agent (node
// `good`, service `web`) under other nodes' keys (`evil-<n>`) and under the good service's prefix. Then
// every reader runs against that store: every CLI view in every output format, `watch` and
// `events --follow` (running while the garbage arrives), the client library (list and watch), the watcher
// (its HTTP side, its metrics, and a failure of the good node reported on time), /http_sd scraped by a real
// Prometheus, and `beacon render` checked by a real `nginx -t`. None may crash or hang, the good records
// must all be there, nothing raw may reach a terminal and nothing hostile a config or a label.
//
// One seeded sample per run (the readers are processes, so a generated case is a whole store, not one
// call): BEACON_PROP_RUNS variants per record kind (default 12), BEACON_PROP_SEED to replay a failure.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { connect, type BeaconClient, type EndpointSnapshot } from '../../src/client/index.js';
import { ExitCode } from '../../src/cli/command.js';
import { Keys } from '../../src/etcd/keys.js';
import type { KeyValue } from '../../src/etcd/store.js';
import { DecodeError } from '../../src/errors.js';
import { decodeKey, SCHEMAS, type RecordKind } from '../../src/registry/codec.js';
import { EtcdCluster, freePort, putRaw, requireBinary, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beacon, spawnBeacon, writeConfig } from '../helpers/process.js';
import {
  conditionsRecord, endpointRecord, identityRecord, liveRecord, maintenanceRecord, nodeEventRecord, reactionRecord, statusRecord, usageRecord, watcherEventRecord,
} from '../helpers/records.js';
import { assertNoRawControl } from '../helpers/terminal.js';
import { get, scrape, valueOf } from '../metrics/support.js';
import { TEMPLATE } from '../render/nginx-support.js';
import { nodeEvents, stopGracefully, waitEvent, waitLeading, watcherConfigFile } from '../watcher/support.js';

const RUNS = Number(process.env.BEACON_PROP_RUNS ?? 12);
const SEED = Number(process.env.BEACON_PROP_SEED ?? 20261205);
const TTL_S = 3;
const FORMATS = ['table', 'wide', 'json', 'yaml'] as const;
const keys = new Keys();
const KiB = 1024;

// ---- the hostile values ----

/** Text a terminal acts on: clear screen, OSC title (BEL and ST), C1 CSI, CR/LF, bidi override, zero-width, NUL. */
const CONTROL_TEXTS = [
  '\x1b[2J\x1b]0;owned\x07',
  '\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\',
  '\x9b31m\x9d0;title\x9c',
  '\r\n\u202eevil\u2066\u200b',
  '\x00\x7f\x08\x0b\x0c',
];
/**
 * Hostile text the schema accepts (docs/keys.md): C1 controls, bidi and zero-width characters in one-line
 * fields (tags, meta), anything in captured check output. A record holding it is valid, so readers show it:
 * escaped for a terminal. SHOWN is how a table prints it (written out by hand, not by the code under test).
 */
const VALID_LINE = 'X\x9b2J\x9d0;title\x9c\u202eY\u2066\u200b';
const SHOWN = 'X\\x9b2J\\x9d0;title\\x9c\\u202eY\\u2066\\u200b';
const VALID_OUTPUT = 'X\x1b[2J\x1b]0;title\x07\x9b31m\r\n\u202eY';
/** What would break out of an nginx directive or block if it reached the template. */
const NGINX_TEXTS = ['127.0.0.1:1;\n}\nserver { listen 127.0.0.1:1; location / { root /etc; autoindex on; } }\nupstream injected {\n server 127.0.0.1', 'x; }', '{ include /etc/passwd; }\n'];
/** Marker for a number JSON cannot hold: replaced by the raw text `1e400` once the record is serialised. */
const HUGE_NUMBER = '\u0000HUGE_NUMBER\u0000';
/** One value of each JSON type (one of them is always the wrong one for a field), and a string over the size cap. */
const WRONG_TYPES: [string, unknown][] = [
  ['null', null], ['number', 7], ['1e400', HUGE_NUMBER], ['array', [1]], ['object', { a: 1 }], ['bool', true], ['huge string', 'x'.repeat(300 * KiB)],
];

const rec = (r: object) => r as Record<string, unknown>;

/** Every record kind a reader meets, its valid base record for node `n`, and the key it is written under. */
const KINDS: { kind: RecordKind; base: (n: string) => Record<string, unknown>; key: (n: string) => string; leased?: boolean }[] = [
  { kind: 'node-live', base: (n) => rec(liveRecord({ name: n })), key: (n) => keys.live(n) },
  { kind: 'node-identity', base: (n) => rec(identityRecord({ name: n })), key: (n) => keys.identity(n) },
  { kind: 'node-conditions', base: (n) => conditionsRecord({ node: n }), key: (n) => keys.conditions(n) },
  { kind: 'node-maintenance', base: (n) => maintenanceRecord({ node: n }), key: (n) => keys.maintenance(n) },
  // Under the good service, pointing at the good backend's own address: accepted, it would be a target.
  { kind: 'endpoint', base: (n) => rec(endpointRecord({ node: n, address: '127.0.0.1', port: 9 })), key: (n) => keys.endpoint('web', n) },
  { kind: 'node-event', base: (n) => nodeEventRecord({ node: n, id: 'OOMKilling.1' }), key: (n) => keys.event(n, 'OOMKilling.1') },
  { kind: 'watcher-status', base: (n) => statusRecord({ node: n }), key: (n) => keys.status(n) },
  // Under a lease, as the watcher writes its events: only the schema refuses them.
  { kind: 'watcher-event', base: (n) => watcherEventRecord({ node: n, id: `${n}.NodeJoined` }), key: (n) => keys.watcherEvent(`${n}.NodeJoined`), leased: true },
  { kind: 'watcher-reaction', base: (n) => reactionRecord({ id: `${n}.remedy` }), key: (n) => keys.reaction(`${n}.remedy`) },
  // The node's own use is null in the base: null is a valid `used`, so "used as null" would not be a refusal.
  { kind: 'node-usage', base: (n) => usageRecord({ node: n, used: null }), key: (n) => keys.usage(n) },
];

// The fields a record of `kind` must have (a watcher event's are in its `event` definition).
function requiredFields(kind: RecordKind): string[] {
  const s = SCHEMAS[kind] as { required?: string[]; $defs?: { event?: { required?: string[] } } };
  return [...(s.required ?? []), ...(kind === 'watcher-event' ? (s.$defs?.event?.required ?? []) : [])];
}

// Every string in `v`, deep, with `text` spliced into it.
function taint(v: unknown, text: string): unknown {
  if (typeof v === 'string') return `${v.slice(0, 3)}${text}${v.slice(3)}`;
  if (Array.isArray(v)) return v.map((x) => taint(x, text));
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, taint(x, text)]));
  return v;
}

const serialise = (r: Record<string, unknown>) => Buffer.from(JSON.stringify(r).split(JSON.stringify(HUGE_NUMBER)).join('1e400'));

/** A hostile variant: what was done, and the bytes stored. */
interface Variant { what: string; value: Buffer }

function variants(base: Record<string, unknown>, kind: RecordKind): fc.Arbitrary<Variant> {
  const fields = Object.keys(base).filter((f) => f !== 'schema');
  const required = requiredFields(kind).filter((f) => f in base);
  const arbs: fc.Arbitrary<Variant>[] = [
    fc.constantFrom(...required).map((f) => {
      const { [f]: _gone, ...rest } = base;
      return { what: `${f} removed`, value: serialise(rest) };
    }),
    fc.tuple(fc.constantFrom(...fields), fc.constantFrom(...WRONG_TYPES))
      // The same JSON type as the valid value is not a wrong type (`null` stays: it is wrong where the base is not null).
      .filter(([f, [, v]]) => typeof v !== typeof base[f] || (v === null) !== (base[f] === null) || Array.isArray(v) !== Array.isArray(base[f]))
      .map(([f, [name, v]]) => ({ what: `${f} as ${name}`, value: serialise({ ...base, [f]: v }) })),
    fc.tuple(fc.constantFrom(...fields), fc.constantFrom(257 * KiB, 400 * KiB)).map(([f, size]) => ({ what: `${f} of ${size} bytes`, value: serialise({ ...base, [f]: 'y'.repeat(size) }) })),
    fc.constantFrom(...CONTROL_TEXTS).map((text) => ({ what: `${JSON.stringify(text)} in every string`, value: serialise(taint(base, text) as Record<string, unknown>) })),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => ({ what: 'raw bytes', value: Buffer.concat([Buffer.from([0xff, 0x1b]), Buffer.from(b)]) })),
  ];
  if ('address' in base) {
    arbs.push(fc.constantFrom(...NGINX_TEXTS).map((text) => ({
      what: `nginx metacharacters ${JSON.stringify(text)}`,
      value: serialise({ ...base, address: text, ...('tags' in base ? { tags: ['http', text] } : {}), ...('meta' in base ? { meta: { version: text } } : {}) }),
    })));
  }
  return fc.oneof(...arbs);
}

/** One generated store: per kind, RUNS variants, each under its own `evil-<n>`. */
function sample(): { key: string; kind: RecordKind; leased: boolean; variant: Variant }[] {
  const out: { key: string; kind: RecordKind; leased: boolean; variant: Variant }[] = [];
  let n = 0;
  KINDS.forEach((k, i) => {
    // Base records for evil-<n> are built per variant below; the sample only picks what to do to them.
    const picks = fc.sample(fc.nat(), { seed: SEED + i, numRuns: RUNS });
    for (const pick of picks) {
      const node = `evil-${++n}`;
      const [variant] = fc.sample(variants(k.base(node), k.kind), { seed: SEED + i * 1000 + pick, numRuns: 1 });
      out.push({ key: k.key(node), kind: k.kind, leased: k.leased ?? false, variant: variant! });
    }
  });
  // A few values near etcd's request limit (1.5 MiB): a listing holding them must page.
  for (const k of [KINDS[0]!, KINDS[4]!, KINDS[7]!]) {
    const node = `evil-${++n}`;
    const base = k.base(node);
    out.push({ key: k.key(node), kind: k.kind, leased: k.leased ?? false, variant: { what: '1.4 MiB', value: serialise({ ...base, pad: 'z'.repeat(1400 * KiB) }) } });
  }
  return out;
}

// ---- the store, the good node and the readers that run throughout ----

let etcd: EtcdCluster;
let agent: BeaconProcess;
let watcher: BeaconProcess;
let watcherBase = '';
let backend: Server;
let backendPort = 0;
let prometheus: ChildProcess | undefined;
let promApi = '';
let promStderr = '';
let dir = '';
let written: ReturnType<typeof sample> = [];
let baseline: { httpSd: string; render: string; endpoints: string } = { httpSd: '', render: '', endpoints: '' };
const followers: { args: string[]; io: ReturnType<typeof spawnBeacon> }[] = [];
let client: BeaconClient;
const snapshots: EndpointSnapshot[] = [];
const stopWatch = new AbortController();
let clientWatch: Promise<void> = Promise.resolve();
let eventLease = '';

const at = () => ['--etcd', etcd.endpoints];

function render(out: string) {
  return beacon(['render', '--template', TEMPLATE, '--out', out, '--check-cmd', `nginx -t -q -c {{staged}} -p ${dir}/`, '--once', ...at()], { NGINX_LISTEN: '127.0.0.1:8080' });
}

interface Target { labels: Record<string, string>; discoveredLabels: Record<string, string>; scrapePool: string; health: string }
async function promTargets(): Promise<Target[]> {
  const r = await get(`${promApi}/api/v1/targets?state=active`);
  return (JSON.parse(r.body).data.activeTargets as Target[]).filter((x) => x.scrapePool === 'beacon-web');
}

test.before(async () => {
  requireBinary('nginx');
  const promBin = requireBinary('prometheus');
  dir = mkdtempSync(join(tmpdir(), 'beacon-hostile-'));
  etcd = await EtcdCluster.start();

  // The good node: a real agent whose service `web` is a real HTTP server answering /metrics.
  backend = createServer((_req, res) => res.end('# TYPE demo_up gauge\ndemo_up 1\n'));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', () => r()));
  backendPort = (backend.address() as { port: number }).port;
  agent = new BeaconProcess(['agent', '--config', writeConfig([
    'etcd:', `  endpoints: [${etcd.endpoints}]`, 'node:', '  name: good', `  ttl: ${TTL_S}s`, '  labels: { zone: z1 }',
    'services:', '  - name: web', `    port: ${backendPort}`, '    address: 127.0.0.1', '    tags: [http]',
    // A reservation: the good node publishes a usage record beside the hostile ones (`beacon capacity`).
    '    resources: { cpu: 100m }', '',
  ].join('\n'))]);
  await agent.waitLine((l) => l.msg === 'registered', 20_000);

  // The watcher with its HTTP side.
  const port = await freePort();
  watcherBase = `http://127.0.0.1:${port}`;
  watcher = new BeaconProcess(['watcher', '--config', watcherConfigFile({ endpoints: etcd.endpoints, prefix: '/beacon', id: 'w-hostile' }), '--listen', `127.0.0.1:${port}`]);
  await waitLeading(watcher, 30_000);
  await waitEvent(watcher, 'NodeJoined', 'good', 20_000);

  // A real Prometheus discovering `web` through /http_sd.
  const promPort = await freePort();
  promApi = `http://127.0.0.1:${promPort}`;
  writeFileSync(join(dir, 'prometheus.yml'), [
    'global: { scrape_interval: 1s, scrape_timeout: 1s }',
    'scrape_configs:',
    '  - job_name: beacon-web',
    '    http_sd_configs:',
    `      - { url: "${watcherBase}/http_sd?service=web", refresh_interval: 1s }`,
    '',
  ].join('\n'));
  prometheus = spawn(promBin, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'prom-data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  prometheus.stderr!.on('data', (d: Buffer) => (promStderr = (promStderr + d.toString()).slice(-4000)));
  await waitFor(async () => (await get(`${promApi}/-/ready`)).status === 200, { timeoutMs: 30_000, what: `prometheus ready (stderr: ${promStderr})` });
  await waitFor(async () => (await promTargets()).some((x) => x.health === 'up'), { timeoutMs: 30_000, what: `the good target up in Prometheus (${promStderr})` });

  // What every consumer shows before any garbage: the outputs after it must be the same.
  baseline = {
    httpSd: await waitFor(async () => {
      const r = await get(`${watcherBase}/http_sd?service=web`);
      return r.status === 200 && r.body.includes(`127.0.0.1:${backendPort}`) ? r.body : undefined;
    }, { timeoutMs: 15_000, what: 'the good target in /http_sd' }),
    render: (() => {
      const r = render(join(dir, 'before.conf'));
      if (r.code !== ExitCode.ok) throw new Error(`baseline render: ${r.stderr}`);
      return readFileSync(join(dir, 'before.conf'), 'utf8');
    })(),
    endpoints: '',
  };

  // The client library: a watch open while the garbage arrives, and the good list.
  client = await connect({ etcd: etcd.endpoints, env: {} });
  baseline.endpoints = JSON.stringify(await client.listEndpoints('web'));
  clientWatch = client.watchEndpoints('web', (s) => snapshots.push(s), { signal: stopWatch.signal, debounceMs: 50 });

  // The long-running views, started before the garbage.
  for (const format of FORMATS) {
    for (const args of [['watch', '-o', format], ['events', '--follow', '-o', format]]) followers.push({ args, io: spawnBeacon([...args, ...at()]) });
  }
  // Each is running once it printed something (watch: its first change; follow: the good NodeJoined).
  // A watch prints only changes: keep changing a key until each has printed one (start-up time varies under load).
  for (const f of followers) {
    await waitFor(
      () => {
        if (f.args[0] === 'watch') etcd.etcdctl(['put', `${keys.root}sentinel-start`, 'x']);
        return f.io.stdout.length > 0;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: `beacon ${f.args.join(' ')} started (stderr: ${f.io.stderr})` },
    );
  }

  // The garbage.
  eventLease = /lease ([0-9a-f]+) granted/.exec(etcd.etcdctl(['lease', 'grant', '3600']))![1]!;
  written = sample();
  for (const w of written) putRaw(etcd, w.key, w.variant.value, w.leased ? eventLease : undefined);
  // And one valid record full of accepted hostile text, in a service of its own (web's consumers stay as they were).
  const odd = endpointRecord({ service: 'odd', node: 'good', address: '127.0.0.1', port: 9, tags: ['http', VALID_LINE], meta: { note: VALID_LINE }, output: VALID_OUTPUT });
  putRaw(etcd, keys.endpoint('odd', 'good'), Buffer.from(JSON.stringify(odd)));
});

test.after.always(async () => {
  stopWatch.abort();
  await clientWatch.catch(() => undefined);
  client?.close();
  for (const f of followers) f.io.proc.kill('SIGKILL');
  prometheus?.kill('SIGKILL');
  await Promise.all([agent?.stop('SIGKILL'), watcher && stopGracefully(watcher)]);
  await new Promise((r) => (backend ? backend.close(r) : r(undefined)));
  await etcd?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test.serial('every generated variant is refused by the published schema (the suite tests refusals, not lucky values)', (t) => {
  t.log(`seed ${SEED}, ${RUNS} variants per kind, ${written.length} hostile keys`);
  t.true(written.length >= KINDS.length * RUNS);
  for (const w of written) {
    const kv: KeyValue = { key: w.key, value: w.variant.value, createRevision: '1', modRevision: '1', version: '1', lease: w.leased ? eventLease : '' };
    const r = decodeKey(keys, kv);
    t.true(r instanceof DecodeError, `${w.kind} ${w.key} (${w.variant.what}) was accepted`);
  }
});

// `shown`: the escaped text a table must show (the valid hostile record is there, visibly).
const VIEWS: { args: string[]; good: string[]; codes?: number[]; shown?: boolean }[] = [
  { args: ['nodes'], good: ['good'] },
  { args: ['services'], good: ['web', 'odd'], shown: true },
  { args: ['services', 'odd'], good: ['good'], shown: true },
  { args: ['endpoints', 'odd'], good: ['good'], shown: true },
  { args: ['services', 'web'], good: ['good'] },
  { args: ['endpoints', 'web'], good: ['good'] },
  { args: ['describe', 'node', 'good'], good: ['good', 'web', '0.1'] },
  // A node with nothing valid: not found (the documented code), or shown without its refused records.
  { args: ['describe', 'node', 'evil-1'], good: [], codes: [ExitCode.ok, ExitCode.notFound] },
  { args: ['events'], good: ['NodeJoined', 'good'] },
  // The good node's reservation (0.1 cpu), whatever usage records the evil nodes hold.
  { args: ['capacity'], good: ['good', 'web', '0.1'] },
];

for (const view of VIEWS) {
  test.serial(`beacon ${view.args.join(' ')}, every format: exits, good records shown, nothing raw, nothing hostile`, (t) => {
    for (const format of FORMATS) {
      const started = Date.now();
      const r = beacon([...view.args, '-o', format, ...at()]);
      const what = `-o ${format}`;
      t.true(Date.now() - started < 30_000, `${what}: finished in time`);
      t.true((view.codes ?? [ExitCode.ok]).includes(r.code), `${what}: exit ${r.code}: ${r.stderr.slice(0, 2000)}`);
      assertNoRawControl(t, `${what} stdout`, r.stdout);
      assertNoRawControl(t, `${what} stderr`, r.stderr);
      for (const g of view.good) t.true(r.stdout.includes(g), `${what}: shows ${g}:\n${r.stdout.slice(0, 2000)}`);
      if (format === 'json' && r.code === ExitCode.ok) {
        const data = JSON.stringify(JSON.parse(r.stdout));
        if (view.shown) t.true(data.includes(JSON.stringify(VALID_LINE).slice(1, -1)), `${what}: the accepted text, unchanged`);
      }
      if (format === 'yaml' && r.code === ExitCode.ok) parseYaml(r.stdout);
      if (view.shown && (format === 'table' || format === 'wide')) t.true(r.stdout.includes(SHOWN), `${what}: the accepted text shown escaped:\n${r.stdout}`);
      // Nothing of a hostile record is shown as data: the evil nodes appear at most as skipped keys on stderr.
      if (view.args[1] !== 'evil-1') t.false(/evil-\d/.test(r.stdout), `${what}: a hostile record shown:\n${r.stdout.slice(0, 2000)}`);
      t.false(/injected|autoindex|owned|evil\.example/.test(r.stdout), `${what}: hostile text shown`);
    }
  });
}

test.serial('beacon watch and beacon events --follow, every format: still running after the garbage, nothing raw, then stop on SIGTERM', async (t) => {
  // A last change each must print: proof it read past every hostile value.
  etcd.etcdctl(['put', `${keys.root}sentinel-end`, 'x']);
  const id = 'sentinel.NodeLeft';
  putRaw(etcd, keys.watcherEvent(id), Buffer.from(JSON.stringify(watcherEventRecord({ node: 'sentinel', id, event: 'NodeLeft' }))), eventLease);
  for (const f of followers) {
    const what = `beacon ${f.args.join(' ')}`;
    const marker = f.args[0] === 'watch' ? 'sentinel-end' : 'sentinel';
    await waitFor(() => f.io.stdout.includes(marker) && f.io.stdout.endsWith('\n'), { timeoutMs: 60_000, what: `${what}: the last change (stderr: ${f.io.stderr.slice(-500)})` });
    t.is(f.io.proc.exitCode, null, `${what} still running`);
    assertNoRawControl(t, `${what} stdout`, f.io.stdout);
    assertNoRawControl(t, `${what} stderr`, f.io.stderr);
    if (f.args[0] === 'events') t.false(/evil-\d|injected|autoindex|evil\.example/.test(f.io.stdout), `${what}: a hostile event shown`);
  }
  for (const f of followers) {
    f.io.proc.kill('SIGTERM');
    await waitFor(() => f.io.proc.exitCode !== null || f.io.proc.signalCode !== null, { timeoutMs: 10_000, what: `beacon ${f.args.join(' ')} to exit on SIGTERM` });
    t.true([0, 130, 143].includes(f.io.proc.exitCode ?? -1), `beacon ${f.args.join(' ')}: exit ${f.io.proc.exitCode} ${f.io.proc.signalCode}`);
  }
});

test.serial('the client library lists the good endpoint and node only; its watch delivered only the good set', async (t) => {
  t.is(JSON.stringify(await client.listEndpoints('web')), baseline.endpoints);
  t.deepEqual((await client.listNodes()).map((n) => n.name), ['good']);
  // The watch has only ever delivered the good set.
  t.true(snapshots.length >= 1);
  for (const s of snapshots) t.deepEqual(s.endpoints.map((e) => e.node), ['good']);
});

test.serial('the watcher keeps running: /healthz 200, metrics count valid records only, /http_sd unchanged', async (t) => {
  t.is((await get(`${watcherBase}/healthz`)).status, 200);
  // Every hostile key under nodes/ and services/ counted; wait until the count stops growing.
  let last = -1;
  await waitFor(async () => {
    const v = valueOf(await scrape(`${watcherBase}/metrics`), 'beacon_watcher_invalid_records') ?? 0;
    const stable = v > 0 && v === last;
    last = v;
    return stable;
  }, { timeoutMs: 30_000, intervalMs: 1_000, what: 'the invalid-records gauge to settle' });
  const m = await scrape(`${watcherBase}/metrics`);
  t.is(valueOf(m, 'beacon_watcher_nodes', { status: 'up' }), 1);
  t.is(valueOf(m, 'beacon_watcher_nodes', { status: 'failed' }) ?? 0, 0);
  t.is(watcher.proc.exitCode, null);
  t.is(watcher.withMsg('reconcile failed').length, 0);
  t.deepEqual(nodeEvents(watcher).map((e) => `${e.event} ${e.node}`), ['NodeJoined good']);
  const sd = await get(`${watcherBase}/http_sd?service=web`);
  t.is(sd.status, 200);
  t.is(sd.body, baseline.httpSd, 'exactly the good target, as before the garbage');
  // The status page's capacity: the good node and its reservation only (the same report as `beacon capacity`).
  const status = JSON.parse((await get(`${watcherBase}/v1/status`)).body) as { capacity: { nodes: { name: string }[]; services: { service: string; node: string; reserved: { cpu: number | null } }[] } };
  t.deepEqual(status.capacity.nodes.map((n) => n.name), ['good']);
  t.deepEqual(status.capacity.services.map((x) => [x.service, x.node, x.reserved.cpu]), [['web', 'good', 0.1]]);
  const all = await get(`${watcherBase}/http_sd`);
  t.is(all.status, 200);
  t.deepEqual((JSON.parse(all.body) as { targets: string[] }[]).map((g) => g.targets[0]).sort(), [`127.0.0.1:${backendPort}`, '127.0.0.1:9'], 'the good target and the valid odd one');
});

test.serial('Prometheus keeps exactly the good target; no label carries hostile text', async (t) => {
  // Several refresh cycles (1 s each) after the garbage: the target list must hold still.
  const until = Date.now() + 5_000;
  while (Date.now() < until) {
    const ts = await promTargets();
    t.deepEqual(ts.map((x) => x.labels.instance), [`127.0.0.1:${backendPort}`], `targets: ${JSON.stringify(ts)} (${promStderr})`);
    for (const x of ts) {
      for (const v of [...Object.values(x.labels), ...Object.values(x.discoveredLabels)]) {
        assertNoRawControl(t, 'label', v);
        t.false(/evil|injected|owned/.test(v), `label value ${JSON.stringify(v)}`);
      }
      t.is(x.discoveredLabels.__meta_beacon_node, 'good');
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
  t.is(prometheus?.exitCode, null);
});

test.serial('beacon render with the shipped nginx template: passes nginx -t, the same config as without the garbage', (t) => {
  const out = join(dir, 'after.conf');
  const r = render(out);
  t.is(r.code, ExitCode.ok, r.stderr);
  assertNoRawControl(t, 'render stderr', r.stderr);
  const conf = readFileSync(out, 'utf8');
  t.true(conf.includes(`server 127.0.0.1:${backendPort}; # node good`), conf);
  t.is(conf, baseline.render, 'nothing injected, nothing lost');
});

test.serial('the good node, SIGKILLed after all this, is reported NodeFailed within TTL + 1 s; the client watch follows', async (t) => {
  const killedAt = Date.now();
  await agent.stop('SIGKILL');
  const failed = await waitEvent(watcher, 'NodeFailed', 'good', 20_000);
  const latency = Date.parse(failed.time as string) - killedAt;
  t.true(latency <= TTL_S * 1000 + 1000, `NodeFailed ${latency} ms after SIGKILL`);
  const last = await waitFor(() => (snapshots.at(-1)?.endpoints.length === 0 ? snapshots.at(-1) : undefined), { timeoutMs: 15_000, what: 'the client watch to drop the good endpoint' });
  // Every hostile key under the good service is reported as refused, none thrown.
  const hostileEndpoints = written.filter((w) => w.kind === 'endpoint').map((w) => w.key).sort();
  t.deepEqual([...new Set(last.errors.map((e) => e.key))].sort(), hostileEndpoints);
  t.deepEqual(nodeEvents(watcher).map((e) => `${e.event} ${e.node}`), ['NodeJoined good', 'NodeFailed good']);
});
