// Smoke-sized runs of the single-purpose benchmarks (watcher-scale, probe-count, mass-failure, leader-kill, artifact)
// so they cannot rot: each must run end to end, report what it exists to report, and write its docs
// table into a scratch copy. No speed is asserted (the machine is shared; the benchmarks measure speed).
// Serial: each starts its own etcd and processes.
import test from 'ava';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requireBinary } from '../helpers/etcd.js';

const BENCH = (file: string) => fileURLToPath(new URL(`../../bench/${file}`, import.meta.url));
const OTHERS = '# Benchmarks\n\nIntro.\n\n## Someone else\n\nTheirs.\n';

// Run one benchmark with --docs into a scratch docs file; its JSON (last stdout object) and the docs text.
async function runBench(file: string, args: string[], timeout = 90_000): Promise<{ r: Record<string, any>; docs: string }> {
  const docs = join(mkdtempSync(join(tmpdir(), 'beacon-bench-')), 'benchmarks.md');
  writeFileSync(docs, OTHERS);
  const { stdout } = await promisify(execFile)(process.execPath, [BENCH(file), ...args, '--docs', '--docs-file', docs], {
    timeout,
    maxBuffer: 16 * 1024 * 1024,
  });
  return { r: JSON.parse(stdout) as Record<string, any>, docs: readFileSync(docs, 'utf8') };
}

test.before(() => {
  requireBinary('etcd');
  requireBinary('etcdctl');
});

test.serial('watcher-scale: 20 nodes loaded, a first and a restarted watcher reach in sync', async (t) => {
  const { r, docs } = await runBench('watcher-scale.js', ['--nodes', '20', '--window', '1', '--timeout', '60']);
  t.is(r.nodes, 20);
  t.is(r.keysUnderNodes, 40, 'a live record and an identity per node');
  t.is(r.first.joined, 20, 'the first watcher reported every node joined');
  t.is(r.restart.joined, 0, 'a restarted watcher finds the statuses and writes nothing');
  t.true(r.first.inSyncMs >= r.first.leadingMs && r.first.rssAtSyncMiB > 0);
  t.true(docs.startsWith(OTHERS.trimEnd()), 'other sections untouched');
  t.regex(docs, /## Watcher at scale[\s\S]*process start → `in sync`/);
});

test.serial('probe-count: 50 nodes loaded, the count matches and both read kinds are timed', async (t) => {
  const { r, docs } = await runBench('probe-count.js', ['--nodes', '50', '--reads', '10']);
  t.is(r.keys, 350, 'seven keys per node');
  t.true(r.count.p50Ms > 0 && r.get.p50Ms > 0 && r.count.etcdCpuMsPerRead >= 0);
  t.regex(docs, /## The probe's key count[\s\S]*count of the whole `nodes\/` prefix/);
});

test.serial('mass-failure: 10 nodes of one fleet process killed at once, every NodeFailed reported', async (t) => {
  const { r, docs } = await runBench('mass-failure.js', ['--nodes', '10', '--ttl', '2', '--workers', '1']);
  t.is(r.reported, 10, 'one NodeFailed per killed node');
  t.true(r.nodeFailedMs.max >= r.nodeFailedMs.p50 && r.expiryMs.p50 > 0);
  t.regex(docs, /## Mass failure[\s\S]*kill → `NodeFailed` out/);
});

test.serial('leader-kill: one etcd leader kill on a 3-member cluster, the victim reported failed', async (t) => {
  const { r, docs } = await runBench('leader-kill.js', ['--trials', '1', '--alive', '1', '--ttl', '3'], 120_000);
  t.is(r.trials, 1);
  t.is(r.trialsRaw.length, 1);
  t.true(r.nodeFailedMs.max > 0 && r.electionMs.max > 0);
  t.is(typeof r.falsePositives, 'number');
  t.regex(docs, /## etcd leader killed[\s\S]*False positives/);
});

test.serial('artifact: size and start-up measured (a stand-in executable, no build)', async (t) => {
  const exe = join(mkdtempSync(join(tmpdir(), 'beacon-fake-artifact-')), 'beacon');
  writeFileSync(exe, '#!/bin/sh\necho 0.0.0-test\n');
  chmodSync(exe, 0o755);
  const { r, docs } = await runBench('artifact.js', ['--runs', '2', '--artifact', exe]);
  t.is(r.artifact.output, '0.0.0-test');
  t.true(r.sizeMiB >= 0 && r.artifact.p50Ms > 0 && r.nodeDist.p50Ms > 0);
  t.regex(docs, /## Artifact[\s\S]*`--version`/);
});
