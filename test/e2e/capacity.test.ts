// Issue #17's `unit:` route against a live systemd: one node of the e2e harness (the cached Debian root,
// the project's Ignition config applied by the real Ignition, `systemd-nspawn --boot`), whose agent
// measures real units through `systemctl show` (systemd's CPUUsageNSec and MemoryCurrent, over D-Bus from
// inside its sandbox): a unit burning CPU, one holding memory, one reserving much and idling, and one
// that does not exist. The missing unit must be an error naming it while the agent runs on.
//
// What systemd can count depends on the host. systemd-nspawn mounts the cgroup v1 controller
// hierarchies read-only in the container, so the harness remounts cpu, cpuacct and memory read-write
// and re-executes the container's systemd, as a v1 host's own systemd would have them. Where systemd
// then reports both counters for a unit, `beacon capacity` must name each case and its figures agree
// with systemd's: memory within 5 % of MemoryCurrent read over the same window; CPU within 0.05 core of
// CPUUsageNSec's growth over the window (its start known only to about one sampling interval, so the
// bound is taken over every span it may have had); the raw counter the agent read equal to systemd's
// (1 ms) once the burner is stopped. Where systemd leaves a counter unset (this test machine: its cpu
// and cpuacct hierarchies are mounted apart, and systemd 252 puts units in cpu but not in cpuacct, so
// CPUUsageNSec stays `[not set]`), the agent must publish the reason, naming the unit and the counter.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keys } from '../../src/etcd/keys.js';
import { generateIgnition } from '../../src/ignition/generate.js';
import { loadUnitFiles } from '../../src/ignition/unit-files.js';
import { waitFor } from '../helpers/etcd.js';
import { repoRoot } from '../units/systemd-root.js';
import { E2eHost, type Node } from './cluster.js';
import { ensureRootfs } from './rootfs.js';

const WINDOW_S = 20;
const INTERVAL_S = 1;
const METRICS_PORT = 9464;
const HOG_BYTES = 96 * 2 ** 20;
// Its own subnet and node index: the install test may boot its containers at the same time.
const work = mkdtempSync(join(tmpdir(), 'beacon-e2e-capacity-'));
const host = new E2eHost(work, '10.231.7');
let exe = '';
let node: Node;
let started = 0;

/** A service unit with systemd's CPU and memory accounting on (off by default for CPU on cgroup v1). */
function unit(description: string, execStart: string, extra: string[] = []): string {
  return [
    '[Unit]', `Description=${description}`, '',
    '[Service]', `ExecStart=${execStart}`, 'CPUAccounting=yes', 'MemoryAccounting=yes', ...extra, '',
    '[Install]', 'WantedBy=multi-user.target', '',
  ].join('\n');
}

const UNITS = {
  // Nice=19: it takes only CPU nobody else wants on a shared test machine.
  'burner.service': unit('burns CPU', "/bin/sh -c 'while :; do :; done'", ['Nice=19']),
  // bash keeps the command substitution's output in a variable; `$$` is systemd's literal `$`.
  'hog.service': unit('holds memory', `/bin/bash -c 'x=$$(yes | head -c ${HOG_BYTES}); while :; do sleep 3600; done'`),
  'idler.service': unit('reserves much, does nothing', '/bin/sleep infinity'),
};

test.before(async () => {
  started = Date.now();
  const rootfs = await ensureRootfs();
  const out = join(work, 'artifact');
  const b = spawnSync(process.execPath, [join(repoRoot, 'scripts/build-artifact.mjs'), '--out', out], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build-artifact failed:\n${b.stderr}`);
  exe = join(out, 'beacon');
  await host.start(readFileSync(join(out, 'beacon.gz')));
  node = host.node(7);
  const agentConfig = [
    'etcd:',
    `  endpoints: [${host.nodeEtcdEndpoint}]`,
    'node:',
    '  ttl: 3s',
    `metrics: { listen: "0.0.0.0:${METRICS_PORT}" }`,
    `capacity: { interval: ${INTERVAL_S}s, window: ${WINDOW_S}s }`,
    'services:',
    '  - { name: burner, port: 8001, unit: burner.service, resources: { cpu: 10m } }',
    '  - { name: hog, port: 8002, unit: hog.service, resources: { memory: 256Mi } }',
    '  - { name: idler, port: 8003, unit: idler.service, resources: { cpu: 500m, memory: 512Mi } }',
    '  - { name: ghost, port: 8004, unit: ghost.service, resources: { cpu: 100m } }',
    '',
  ].join('\n');
  const merge = node.baseConfig();
  merge.systemd!.units!.push(...Object.entries(UNITS).map(([name, contents]) => ({ name, enabled: true, contents })));
  const config = generateIgnition({
    agentConfig,
    artifact: { url: `${host.server!.base}/beacon.gz`, sha512: createHash('sha512').update(readFileSync(exe)).digest('hex') },
    units: loadUnitFiles(),
    merge,
  });
  await node.provision(rootfs, config);
  await node.boot();
});

test.after.always(async () => {
  await host.teardown();
});

/** `systemctl show` of one unit inside the node, as `Key=value` pairs. */
function show(unitName: string, props: string[]): Record<string, string> {
  const r = node.exec(['systemctl', 'show', unitName, '-p', props.join(','), '--no-pager']);
  if (r.status !== 0) throw new Error(`systemctl show ${unitName}: ${r.stderr}`);
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** One reading of systemd's counters, timed at the middle of the call. */
interface Reading {
  t: number;
  cpuNs: number;
  memoryBytes: number;
}
function reading(unitName: string): Reading {
  const before = Date.now();
  const p = show(unitName, ['CPUUsageNSec', 'MemoryCurrent']);
  const t = (before + Date.now()) / 2;
  const cpuNs = Number(p.CPUUsageNSec);
  const memoryBytes = Number(p.MemoryCurrent);
  if (!Number.isFinite(cpuNs) || !Number.isFinite(memoryBytes)) throw new Error(`${unitName}: systemd counts nothing: ${JSON.stringify(p)}`);
  return { t, cpuNs, memoryBytes };
}

/** A counter at time `t`, interpolated between the readings around it. */
function counterAt(rs: Reading[], t: number): number | undefined {
  for (let i = 1; i < rs.length; i++) {
    const [a, b] = [rs[i - 1]!, rs[i]!];
    if (a.t <= t && t <= b.t) return a.cpuNs + ((b.cpuNs - a.cpuNs) * (t - a.t)) / (b.t - a.t);
  }
  return undefined;
}

type Flags = { kind: string; resource?: string }[];
interface CapacityOut {
  nodes: { name: string; flags: Flags }[];
  services: { service: string; node: string; used: { cpu: number; memoryBytes: number } | null; error: string | null; source: string | null; flags: Flags }[];
}
function capacity(): CapacityOut {
  const r = spawnSync(exe, ['capacity', '-o', 'json', '--etcd', host.etcdEndpoint], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`beacon capacity: ${r.stderr}`);
  return JSON.parse(r.stdout) as CapacityOut;
}
/** The usage record as published (its `at` is the sample the figures end at). */
function usageRecord(): { at: string; windowSeconds: number } {
  const r = spawnSync('etcdctl', ['--endpoints', host.etcdEndpoint, 'get', '--print-value-only', new Keys().usage(node.name)], {
    encoding: 'utf8',
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  return JSON.parse(r.stdout) as { at: string; windowSeconds: number };
}
const kinds = (flags: Flags) => flags.map((f) => `${f.kind}${f.resource ? `:${f.resource}` : ''}`).sort();

async function metrics(): Promise<string> {
  const r = await fetch(`http://${node.address}:${METRICS_PORT}/metrics`, { signal: AbortSignal.timeout(5_000) });
  return r.text();
}
function metric(text: string, name: string, service: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`service="${service}"`));
  return line ? Number(line.split(' ').pop()) : undefined;
}

test.serial('the agent measures live systemd units: beacon capacity names each case; figures agree with systemctl show', async (t) => {
  await waitFor(() => node.exec(['systemctl', 'is-active', 'beacon-agent']).stdout.trim() === 'active', { timeoutMs: 90_000, what: 'agent active' });
  t.log(`node booted, agent active: ${Math.round((Date.now() - started) / 1000)} s after the start (artifact build included)`);
  for (const u of Object.keys(UNITS)) {
    await waitFor(() => node.exec(['systemctl', 'is-active', u]).stdout.trim() === 'active', { timeoutMs: 30_000, what: `${u} active` });
  }
  // The controllers writable, as on a v1 host; systemd re-executed to see them, the units restarted into them.
  for (const c of ['cpu', 'cpuacct', 'memory']) {
    const r = node.exec(['mount', '-o', 'remount,bind,rw', `/sys/fs/cgroup/${c}`]);
    t.is(r.status, 0, `remount ${c}: ${r.stderr}`);
  }
  t.is(node.exec(['systemctl', 'daemon-reexec']).status, 0);
  await waitFor(() => node.exec(['systemctl', 'is-system-running']).stdout.trim() !== '', { timeoutMs: 30_000, what: 'systemd back after re-exec' });
  t.is(node.exec(['systemctl', 'restart', ...Object.keys(UNITS)]).status, 0);
  const raw = show('burner.service', ['ControlGroup', 'CPUAccounting', 'MemoryAccounting', 'CPUUsageNSec', 'MemoryCurrent']);
  t.log(`systemd in the container: ${node.exec(['systemctl', '--version']).stdout.split('\n')[0]}; burner: ${JSON.stringify(raw)}`);
  const counted = (u: string) => {
    const p = show(u, ['CPUUsageNSec', 'MemoryCurrent']);
    return { cpu: /^\d+$/.test(p.CPUUsageNSec ?? ''), memory: /^\d+$/.test(p.MemoryCurrent ?? '') };
  };
  const accounting = Object.fromEntries(Object.keys(UNITS).map((u) => [u, counted(u)]));
  t.log(`systemd counts: ${JSON.stringify(accounting)}`);
  if (!Object.values(accounting).every((a) => a.cpu && a.memory)) {
    // The agent restarted into the units as they are now; each unit systemd does not fully count is an
    // error naming the unit and the counter, published while the agent keeps running.
    t.is(node.exec(['systemctl', 'restart', 'beacon-agent']).status, 0);
    const o = await waitFor(
      () => {
        const o = capacity();
        return ['burner', 'hog', 'idler'].every((s) => o.services.some((x) => x.service === s && (x.used !== null || x.error !== null))) ? o : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1_000, what: 'every unit measured or refused' },
    );
    t.log(JSON.stringify(o.services.map((s) => [s.service, s.used, s.error])));
    for (const [u, a] of Object.entries(accounting)) {
      const s = o.services.find((x) => x.source === `unit:${u}`)!;
      if (a.cpu && a.memory) continue;
      const unset = [...(a.cpu ? [] : ['CPUUsageNSec']), ...(a.memory ? [] : ['MemoryCurrent'])].join(' and ');
      t.is(s.used, null, u);
      t.true((s.error ?? '').startsWith(`unit ${u}: systemd does not account ${unset} for it, and its ControlGroup cannot be read: cgroup /system.slice/${u}: `), s.error ?? 'no error');
    }
    return;
  }
  // The hog's allocation done: MemoryCurrent at least the bytes it holds.
  await waitFor(() => reading('hog.service').memoryBytes >= HOG_BYTES, { timeoutMs: 60_000, what: 'the hog holding its memory' });

  // systemd's own counters, read every second while the agent measures.
  const burner: Reading[] = [];
  const hog: Reading[] = [];
  const sampler = setInterval(() => {
    try {
      burner.push(reading('burner.service'));
      hog.push(reading('hog.service'));
    } catch {
      // the next second reads again
    }
  }, 1_000);
  t.teardown(() => clearInterval(sampler));

  // The agent restarted once the test has read for a few seconds: its windows start after the test's readings.
  await waitFor(() => burner.length >= 5 && hog.length >= 5, { timeoutMs: 60_000, what: 'five readings of systemd' });
  const restarted = Date.now();
  t.is(node.exec(['systemctl', 'restart', 'beacon-agent']).status, 0);
  const out = await waitFor(
    () => {
      // The record read before and after the report: the same one (figures and `at` belong together).
      const rec = usageRecord();
      const o = capacity();
      const used = (s: string) => o.services.find((x) => x.service === s)?.used;
      return Date.parse(rec.at) > restarted && usageRecord().at === rec.at && used('burner') && used('hog') && used('idler') ? { o, rec } : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 1_000, what: 'window averages in the usage record' },
  );
  await waitFor(() => (burner.at(-1)?.t ?? 0) > Date.parse(out.rec.at) + 500 && (hog.at(-1)?.t ?? 0) > Date.parse(out.rec.at) + 500, {
    timeoutMs: 10_000,
    what: 'a reading of systemd after the figures were taken',
  });
  clearInterval(sampler);
  const svc = (name: string) => out.o.services.find((s) => s.service === name)!;
  t.log(JSON.stringify(out.o.services.map((s) => [s.service, s.used, kinds(s.flags), s.error])));

  // Each case named.
  t.deepEqual(kinds(svc('idler').flags), ['waste:cpu', 'waste:memory'], 'the idler reserves much and uses little');
  t.deepEqual(kinds(svc('burner').flags), [], 'the burner uses more than it reserves');
  t.deepEqual(kinds(svc('hog').flags), [], 'the hog uses a good share of its reservation');
  t.is(svc('burner').source, 'unit:burner.service');
  t.is(svc('ghost').used, null);
  t.is(svc('ghost').error, 'unit ghost.service: not found (LoadState=not-found)', 'the error names the unit');
  t.deepEqual(kinds(out.o.nodes.find((n) => n.name === node.name)!.flags), []);

  // The figures end at `at`; they span 0.9 × window (the first one published: a window counts as filled
  // at 90 %) up to a window and one interval (sampling jitter allowed for).
  const at = Date.parse(out.rec.at);
  const W = out.rec.windowSeconds * 1000;
  const SPANS = [0.9 * W, 0.95 * W, W, W + INTERVAL_S * 1000 + 500];

  // Memory: the window's mean against MemoryCurrent over the same time.
  const inWindow = hog.filter((r) => r.t >= at - SPANS.at(-1)! && r.t <= at + 500);
  t.true(inWindow.length >= WINDOW_S / 2, `${inWindow.length} readings of the hog in the window`);
  const mean = inWindow.reduce((s, r) => s + r.memoryBytes, 0) / inWindow.length;
  const mem = svc('hog').used!.memoryBytes;
  t.log(`hog memory: agent ${mem} B, systemd MemoryCurrent ${Math.round(mean)} B (mean of ${inWindow.length}), ${(((mem - mean) / mean) * 100).toFixed(2)} %`);
  t.true(Math.abs(mem - mean) <= 0.05 * mean, `hog memory ${mem} vs systemd ${mean}`);

  // CPU: the window average against CPUUsageNSec's growth over each possible span.
  const rate = (span: number) => {
    const [a, b] = [counterAt(burner, at - span), counterAt(burner, at)];
    return a === undefined || b === undefined ? undefined : (b - a) / (span * 1e6);
  };
  const spans = SPANS.map(rate);
  const cpu = svc('burner').used!.cpu;
  t.log(`burner cpu: agent ${cpu} cores, systemd CPUUsageNSec growth ${spans.map((x) => x?.toFixed(3)).join(' or ')} cores over the window`);
  t.true(spans.every((x) => x !== undefined), 'the test read the burner through the window');
  const [lo, hi] = [Math.min(...(spans as number[])), Math.max(...(spans as number[]))];
  t.true(cpu >= lo - 0.05 && cpu <= hi + 0.05, `burner cpu ${cpu} outside [${lo}, ${hi}] ± 0.05`);

  // The counter itself: with the burner stopped it holds still, and the agent's reading must equal systemd's.
  t.is(node.exec(['systemctl', 'kill', '--signal=SIGSTOP', 'burner.service']).status, 0);
  t.teardown(() => node.exec(['systemctl', 'kill', '--signal=SIGCONT', 'burner.service']));
  const both = await waitFor(
    async () => {
      const agent = metric(await metrics(), 'beacon_service_cpu_seconds', 'burner');
      const systemd = Number(show('burner.service', ['CPUUsageNSec']).CPUUsageNSec) / 1e9;
      return agent !== undefined && Math.abs(agent - systemd) <= 0.001 ? { agent, systemd } : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 1_000, what: "the agent's burner counter equal to systemd's" },
  );
  t.log(`stopped burner: agent read ${both.agent} s, systemd says ${both.systemd} s`);
});

test.serial('a unit that does not exist: one warning naming it, the agent keeps running and measuring the others', (t) => {
  t.is(node.exec(['systemctl', 'is-active', 'beacon-agent']).stdout.trim(), 'active');
  t.is(node.exec(['systemctl', 'show', '-p', 'NRestarts', '--value', 'beacon-agent']).stdout.trim(), '0');
  // This run of the agent only (the first test restarted it).
  const invocation = node.exec(['systemctl', 'show', '-p', 'InvocationID', '--value', 'beacon-agent']).stdout.trim();
  t.regex(invocation, /^[0-9a-f]{32}$/);
  const lines = node
    .exec(['journalctl', `_SYSTEMD_INVOCATION_ID=${invocation}`, '-o', 'cat', '--no-pager'])
    .stdout.split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as { msg?: string; service?: string; source?: string; problem?: string }];
      } catch {
        return [];
      }
    });
  const warned = lines.filter((l) => l.msg === 'usage source not readable');
  t.deepEqual(
    warned.filter((l) => l.service === 'ghost').map((l) => [l.service, l.source, l.problem]),
    [['ghost', 'unit:ghost.service', 'unit ghost.service: not found (LoadState=not-found)']],
    'logged once for the missing unit',
  );
  for (const s of ['burner', 'hog', 'idler']) t.true(warned.filter((l) => l.service === s).length <= 1, `${s}: a reason is logged once, not at every sample`);
  // Everything else is still measured (or refused for its own reason): the ghost stopped nothing.
  const o = capacity();
  for (const s of ['burner', 'hog', 'idler']) {
    const x = o.services.find((y) => y.service === s);
    t.true(x !== undefined && (x.used !== null || (x.error !== null && !x.error.includes('ghost'))), `${s}: ${JSON.stringify(x)}`);
  }
});
