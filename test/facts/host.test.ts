import { mkdtemp, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { gatherFacts, hostname } from '../../src/facts/host.js';
import { captureLog, fixture } from './support.js';

test('gathers plausible facts about this machine', async (t) => {
  const { log, lines } = captureLog();
  const f = await gatherFacts({ log });
  t.true(Number.isInteger(f.cpus) && f.cpus >= 1, `cpus ${f.cpus}`);
  t.true(f.memoryBytes > 64 * 1024 * 1024, `memoryBytes ${f.memoryBytes}`);
  t.is(f.kernel, os.release());
  t.not(f.kernel, '');
  t.regex(f.arch, /^[a-z0-9_]+$/);
  t.not(f.os, '');
  t.not(f.osRelease, '');
  const line = lines.find((l) => l.msg === 'facts gathered');
  t.is(typeof line?.durationMs, 'number');
});

test('reads os-release from /usr/lib when /etc has none', async (t) => {
  const f = await gatherFacts({ root: fixture('os-release', 'flatcar') });
  t.is(f.os, 'Flatcar Container Linux by Kinvolk');
  t.is(f.osRelease, '3510.2.0');
});

test('a rolling distribution reports its BUILD_ID', async (t) => {
  const f = await gatherFacts({ root: fixture('os-release', 'rolling') });
  t.is(f.os, 'Arch Linux');
  t.is(f.osRelease, 'rolling');
});

test('no os-release at all still gives facts', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'beacon-facts-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const f = await gatherFacts({ root });
  t.is(f.os, os.type());
  t.is(f.osRelease, 'unknown');
  t.true(f.cpus >= 1);
});

test('hostname is the kernel host name', (t) => {
  t.is(hostname(), os.hostname());
  t.not(hostname(), '');
});
