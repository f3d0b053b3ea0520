import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { samplePids, sampleResources } from '../../src/facts/resources.js';
import { tempDir } from '../problems/util.js';

test('a real sample: memory, the root filesystem, PIDs', async (t) => {
  const s = await sampleResources();
  t.true(s.memory.totalBytes > 0);
  t.true(s.memory.availableBytes > 0 && s.memory.availableBytes <= s.memory.totalBytes);
  const root = s.filesystems.find((f) => f.mount === '/');
  t.truthy(root, `mounts: ${s.filesystems.map((f) => f.mount).join(', ')}`);
  t.true(root!.sizeBytes > 0 && root!.usedPercent >= 0 && root!.usedPercent <= 100);
  t.truthy(s.pids);
  t.true(s.pids!.current > 0 && s.pids!.current < s.pids!.max);
});

test('PIDs from /proc/loadavg against min(pid_max, threads-max)', async (t) => {
  const proc = tempDir();
  mkdirSync(join(proc, 'sys/kernel'), { recursive: true });
  writeFileSync(join(proc, 'loadavg'), '0.06 0.08 0.03 2/345 5306\n');
  writeFileSync(join(proc, 'sys/kernel/pid_max'), '4194304\n');
  writeFileSync(join(proc, 'sys/kernel/threads-max'), '1000\n');
  t.deepEqual(await samplePids(proc), { current: 345, max: 1000 });
  writeFileSync(join(proc, 'loadavg'), 'garbage\n');
  t.is(await samplePids(proc), undefined);
  t.is(await samplePids(join(proc, 'missing')), undefined);
});
