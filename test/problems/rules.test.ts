import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, ConfigErrors } from '../../src/errors.js';
import { MAX_LINE_CHARS, loadRules, matchingRules, parseRules } from '../../src/problems/rules.js';
import { KERNEL_MONITOR, tempDir } from './util.js';

// For every rule of the shipped file (by index): kernel lines that must match, and near misses that must not.
// Matching lines are real kernel messages (as /dev/kmsg or the journal's MESSAGE give them).
const CASES: Record<number, { reason: string; match: string[]; miss: string[] }> = {
  0: {
    reason: 'OOMKilling',
    match: [
      'Out of memory: Killed process 4242 (stress-ng) total-vm:2105396kB, anon-rss:1960940kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:3900kB oom_score_adj:0',
      'Memory cgroup out of memory: Killed process 31337 (java) total-vm:9034812kB, anon-rss:2097152kB, file-rss:18512kB, shmem-rss:0kB, UID:1000 pgtables:4640kB oom_score_adj:997',
      'Killed process 1234 (chrome) total-vm:123456kB, anon-rss:12345kB, file-rss:0kB',
    ],
    miss: ['oom_reaper: reaped process 4242 (stress-ng), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB'],
  },
  1: {
    reason: 'TaskHung',
    match: ['INFO: task kworker/u8:2:1234 blocked for more than 122 seconds.', 'task jbd2/sda1-8:311 blocked for more than 120 seconds.'],
    miss: ['"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.', 'INFO: task kworker/u8:2:1234 blocked for more than 122 seconds'],
  },
  2: {
    reason: 'UnregisterNetDevice',
    match: ['unregister_netdevice: waiting for eth0 to become free. Usage count = 1', 'unregister_netdevice: waiting for veth3f2a to become free. Usage count = -1'],
    miss: ['unregister_netdevice: waiting for eth0 to become free.'],
  },
  3: {
    reason: 'KernelOops',
    match: ['BUG: unable to handle kernel NULL pointer dereference at 0000000000000008', 'BUG: kernel NULL pointer dereference, address: 0000000000000008'],
    miss: ['BUG: unable to handle page fault for address: ffffb0e2c0000000'],
  },
  4: {
    reason: 'KernelOops',
    match: ['divide error: 0000 [#1] SMP', 'divide error: 0000 [#1] PREEMPT SMP NOPTI', 'Oops: divide error: 0000 [#2] SMP PTI'],
    miss: ['traps: app[1234] trap divide error ip:55d0c0a1 sp:7ffd2a3b error:0 in app[55d0c0a0+1000]'],
  },
  5: {
    reason: 'Ext4Error',
    match: ['EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0'],
    miss: ['EXT4-fs (sda1): mounted filesystem with ordered data mode. Quota mode: none.', 'EXT4-fs warning (device sda1): ext4_dx_add_entry:2021: Directory index full!'],
  },
  6: {
    reason: 'Ext4Warning',
    match: ['EXT4-fs warning (device sda1): ext4_dx_add_entry:2021: Directory index full!'],
    miss: ['EXT4-fs (sda1): warning: mounting fs with errors, running e2fsck is recommended'],
  },
  7: {
    reason: 'IOError',
    match: ['Buffer I/O error on dev sda1, logical block 0, async page read'],
    miss: ['buffer_io_error: 12 callbacks suppressed'],
  },
  8: {
    reason: 'IOError',
    match: [
      'blk_update_request: I/O error, dev sda, sector 123456 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0',
      'I/O error, dev nvme0n1, sector 2048 op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 2',
      'critical medium error, dev sdb, sector 9876 op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 0',
    ],
    miss: ['Buffer I/O error on dev sda1, logical block 0, async page read', 'timeout error, dev sdc, sector 1 op 0x0:(READ)'],
  },
  9: {
    reason: 'MemoryReadError',
    match: [
      'EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x12345 offset:0x0 grain:32 syndrome:0x0)',
      'CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x12345)',
    ],
    miss: ['EDAC MC0: 1 UE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x12345)'],
  },
  10: {
    reason: 'XfsHasShutdown',
    match: [
      'XFS (dm-0): Corruption of in-memory data detected.  Shutting down filesystem',
      'XFS (sdb): Log I/O Error (0x2) detected at xlog_ioend_work+0x6e/0x70 [xfs] (fs/xfs/xfs_log.c:1377).  Shutting down filesystem.',
    ],
    miss: ['XFS (sda1): Unmounting Filesystem', 'XFS (sdb): Please unmount the filesystem and rectify the problem(s)'],
  },
  11: {
    reason: 'AUFSUmountHung',
    match: ['INFO: task umount.aufs:21568 blocked for more than 120 seconds.'],
    miss: ['INFO: task umount:21568 blocked for more than 120 seconds.'],
  },
  12: {
    reason: 'DockerHung',
    match: ['INFO: task docker:20744 blocked for more than 120 seconds.'],
    miss: ['INFO: task dockerd:20744 blocked for more than 120 seconds.'],
  },
  13: {
    reason: 'FilesystemIsReadOnly',
    match: ['EXT4-fs (sda1): Remounting filesystem read-only', 'Remounting filesystem read-only'],
    miss: ['EXT4-fs (sda1): re-mounted. Opts: errors=remount-ro'],
  },
  14: {
    reason: 'FilesystemIsNotReadOnly',
    match: ['EXT4-fs (vda1): re-mounted 5c2b1d0e-8f7a-4e2b-9c3d-1a2b3c4d5e6f r/w. Quota mode: none.', 'EXT4-fs (sda1): re-mounted r/w. Opts: (null)'],
    miss: ['EXT4-fs (vda1): re-mounted 5c2b1d0e-8f7a-4e2b-9c3d-1a2b3c4d5e6f ro. Quota mode: none.'],
  },
};

test('the shipped rule file loads and follows node-problem-detector vocabulary', async (t) => {
  const rules = await loadRules(KERNEL_MONITOR);
  t.is(rules.source, 'kernel-monitor');
  t.is(rules.plugin, 'kmsg');
  t.is(rules.lookbackMs, 5 * 60_000);
  t.deepEqual(
    rules.conditions.map((c) => [c.type, c.reason]),
    [
      ['KernelDeadlock', 'KernelHasNoDeadlock'],
      ['ReadonlyFilesystem', 'FilesystemIsNotReadOnly'],
      ['XfsShutdown', 'XfsHasNotShutDown'],
    ],
  );
  const temporary = new Set(rules.rules.filter((r) => r.type === 'temporary').map((r) => r.reason));
  for (const reason of ['OOMKilling', 'TaskHung', 'UnregisterNetDevice', 'KernelOops', 'Ext4Error', 'IOError']) t.true(temporary.has(reason), reason);
  t.deepEqual(
    rules.rules.filter((r) => r.type === 'permanent').map((r) => `${r.condition}/${r.reason}`),
    ['XfsShutdown/XfsHasShutdown', 'KernelDeadlock/AUFSUmountHung', 'KernelDeadlock/DockerHung', 'ReadonlyFilesystem/FilesystemIsReadOnly'],
  );
});

test('every shipped rule matches its lines and rejects its near misses', async (t) => {
  const rules = await loadRules(KERNEL_MONITOR);
  // A rule added to the file without cases here fails this test.
  t.deepEqual(Object.keys(CASES).map(Number), rules.rules.map((_, i) => i));
  rules.rules.forEach((rule, i) => {
    const c = CASES[i]!;
    t.is(rule.reason, c.reason, `rules[${i}]`);
    for (const line of c.match) t.true(rule.regex.test(line), `rules[${i}] (${rule.reason}) must match: ${line}`);
    for (const line of c.miss) t.false(rule.regex.test(line), `rules[${i}] (${rule.reason}) must not match: ${line}`);
    t.true(c.match.length > 0 && c.miss.length > 0);
  });
});

test('rules match whole lines only', async (t) => {
  const rules = await loadRules(KERNEL_MONITOR);
  // A kernel line embedded in something longer (here: a syslog prefix the source did not strip) does not match...
  t.deepEqual(matchingRules(rules.rules, 'EXT4-fs error (device sda1): x').map((r) => r.reason), ['Ext4Error']);
  t.deepEqual(matchingRules(rules.rules, 'app: EXT4-fs error (device sda1): x'), []);
  // ...and one line can match several rules (node-problem-detector applies each rule).
  t.deepEqual(
    matchingRules(rules.rules, 'INFO: task docker:20744 blocked for more than 120 seconds.').map((r) => r.reason),
    ['TaskHung', 'DockerHung'],
  );
});

test('lines are cut to the length limit before matching', (t) => {
  const rules = parseRules({ rules: [{ type: 'temporary', reason: 'Long', pattern: 'x+' }, { type: 'temporary', reason: 'EndsY', pattern: 'x+y' }] });
  const long = `${'x'.repeat(MAX_LINE_CHARS + 10)}y`;
  t.deepEqual(matchingRules(rules.rules, long).map((r) => r.reason), ['Long']);
});

function rejects(t: import('ava').ExecutionContext, raw: unknown, field: string, pattern: RegExp) {
  const err = t.throws(() => parseRules(raw), { instanceOf: ConfigError });
  t.is((err as ConfigError).field, field);
  t.regex(err!.message, pattern);
}

const COND = [{ type: 'KernelDeadlock', reason: 'KernelHasNoDeadlock', message: 'ok' }];

test('invalid regex is rejected at load, naming the rule', (t) => {
  rejects(t, { conditions: COND, rules: [{ type: 'temporary', reason: 'A', pattern: 'ok' }, { type: 'temporary', reason: 'B', pattern: 'task (unclosed' }] }, 'rules[1].pattern', /invalid regular expression/);
  rejects(t, { rules: [{ type: 'temporary', reason: 'A', pattern: 'a{' }] }, 'rules[0].pattern', /invalid regular expression/);
  rejects(t, { rules: [{ type: 'temporary', reason: 'A', pattern: '' }] }, 'rules[0].pattern', /non-empty/);
});

test('structural mistakes are rejected with the field named', (t) => {
  rejects(t, { conditions: COND, rules: [{ type: 'permanent', condition: 'Nope', reason: 'X', pattern: 'x' }] }, 'rules[0].condition', /not declared under conditions \(declared: KernelDeadlock\)/);
  rejects(t, { rules: [{ type: 'permanent', reason: 'X', pattern: 'x' }] }, 'rules[0].condition', /PascalCase/);
  rejects(t, { conditions: COND, rules: [{ type: 'temporary', condition: 'KernelDeadlock', reason: 'X', pattern: 'x' }] }, 'rules[0].condition', /sets no condition/);
  rejects(t, { rules: [{ type: 'sometimes', reason: 'X', pattern: 'x' }] }, 'rules[0].type', /temporary, permanent, recovery/);
  rejects(t, { rules: [{ type: 'temporary', reason: 'oom killing', pattern: 'x' }] }, 'rules[0].reason', /PascalCase/);
  rejects(t, { rules: [{ type: 'temporary', reason: 'X', pattern: 'x', patern: 'y' }] }, 'rules[0].patern', /unknown field \(did you mean "pattern"\?\)/);
  rejects(t, { rules: [] }, 'rules', /non-empty/);
  rejects(t, { plugin: 'syslog', rules: [{ type: 'temporary', reason: 'X', pattern: 'x' }] }, 'plugin', /kmsg, journal, file/);
  rejects(t, { lookback: 'soon', rules: [{ type: 'temporary', reason: 'X', pattern: 'x' }] }, 'lookback', /duration/);
  rejects(t, { conditions: [...COND, ...COND], rules: [{ type: 'temporary', reason: 'X', pattern: 'x' }] }, 'conditions[1].type', /duplicate/);
  rejects(t, { conditions: [{ ...COND[0], expireAfter: '10ms' }], rules: [{ type: 'temporary', reason: 'X', pattern: 'x' }] }, 'conditions[0].expireAfter', /at least 1s/);
});

test('loadRules names the file in errors, and accepts node-problem-detector files', async (t) => {
  const dir = tempDir();
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ rules: [{ type: 'temporary', reason: 'X', pattern: '(' }] }));
  const err = await t.throwsAsync(loadRules(bad), { instanceOf: ConfigError });
  t.is(err.field, `${bad}: rules[0].pattern`);
  const notJson = join(dir, 'x.json');
  writeFileSync(notJson, '{');
  await t.throwsAsync(loadRules(notJson), { message: /not valid JSON/ });

  // node-problem-detector's own format (bufferSize, metricsReporting, "journald") loads as is.
  const npd = join(dir, 'npd.json');
  const ours = JSON.parse(readFileSync(KERNEL_MONITOR, 'utf8')) as Record<string, unknown>;
  writeFileSync(npd, JSON.stringify({ ...ours, plugin: 'journald', bufferSize: 10, metricsReporting: true, resetOnBoot: undefined, description: undefined }));
  const r = await loadRules(npd);
  t.is(r.plugin, 'journal');
  t.true(r.resetOnBoot);
});

test('every bad rule and condition is reported at once, typos with the nearest key', (t) => {
  const raw = {
    conditons: [],
    conditions: [{ type: 'KernelDeadlock', reason: 'KernelHasNoDeadlock', mesage: 'ok' }],
    rules: [
      { type: 'temporary', reason: 'X', pattern: '(' },
      { type: 'temporary', reason: 'Y', patern: 'y' },
    ],
  };
  const err = t.throws(() => parseRules(raw), { instanceOf: ConfigErrors }) as ConfigErrors;
  t.deepEqual(
    err.errors.map((e) => e.field),
    // The typo'd key also leaves the real one missing: both are reported.
    ['conditions[0].message', 'conditions[0].mesage', 'conditons', 'rules[0].pattern', 'rules[1].pattern', 'rules[1].patern'],
  );
  t.regex(err.errors[1]!.message, /did you mean "message"\?/);
  t.regex(err.errors[2]!.message, /did you mean "conditions"\?/);
  t.regex(err.errors[5]!.message, /did you mean "pattern"\?/);
});

test('every bad value inside one rule or condition is reported, not the first', (t) => {
  const raw = {
    source: 'Kernel Monitor',
    plugin: 'syslog',
    lookback: 'soon',
    conditions: [{ type: 'kernel deadlock', reason: 'ok', message: 5, expireAfter: '10ms' }],
    rules: [{ type: 'sometimes', reason: 'oom killing', pattern: '(', conditon: 'X' }],
  };
  const err = t.throws(() => parseRules(raw, 'rules.json: '), { instanceOf: ConfigErrors }) as ConfigErrors;
  t.deepEqual(err.errors.map((e) => e.message), [
    'rules.json: source: must be a lowercase name such as kernel-monitor (got "Kernel Monitor")',
    'rules.json: plugin: must be one of kmsg, journal, file (got "syslog")',
    'rules.json: lookback: must be a duration such as "10s", "500ms", "1m30s" or a number of seconds (got "soon")',
    'rules.json: conditions[0].type: must be a PascalCase name such as KernelDeadlock (got "kernel deadlock")',
    'rules.json: conditions[0].reason: must be a PascalCase name such as KernelDeadlock (got "ok")',
    'rules.json: conditions[0].message: must be a string of at most 1024 characters (got 5)',
    'rules.json: conditions[0].expireAfter: must be at least 1s (got "10ms")',
    'rules.json: rules[0].type: must be one of temporary, permanent, recovery (got "sometimes")',
    'rules.json: rules[0].reason: must be a PascalCase name such as KernelDeadlock (got "oom killing")',
    'rules.json: rules[0].pattern: invalid regular expression: Invalid regular expression: /^(?:()$/u: Unterminated group (got "(")',
    'rules.json: rules[0].conditon: unknown field (did you mean "condition"?) (got "X")',
  ]);
});
