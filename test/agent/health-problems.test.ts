// Node problems end to end, with the kernel log as a plain file the test appends to: an OOM line
// becomes an event key (own lease, coalesced count), a read-only remount sets a condition True in etcd,
// a flood costs a bounded number of writes, and restarts (quick, and after a graceful leave through the
// state file) keep the conditions without replaying old lines as new events.
import test from 'ava';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { writeConfig } from '../helpers/process.js';
import { checkRecord, readDoc, tables, type Table } from '../docs/markdown.js';
import { agentYaml, getJson, keyLease, keysUnder, leaseTtl, shortTempDir, startAgent } from './health-support.js';

const PREFIX = '/t-hproblems';
const CONDITIONS = `${PREFIX}/v1/nodes/n1/conditions`;
const EVENTS = `${PREFIX}/v1/events/n1/`;

type Cond = { type: string; status: string; reason: string; lastTransitionTime: string };
type Ev = { id: string; reason: string; count: number; severity: string; message: string };

const docTable = (part: string): Table =>
  tables(readDoc('docs/keys.md')).find((x) => x.headers[0] === 'Field' && x.heading.includes(part))!;

/** A kernel line as rsyslog writes it to kern.log, stamped now. */
const kern = (text: string) => `${new Date().toISOString()} n1 kernel: [ 4242.000001] ${text}\n`;
const OOM = 'Out of memory: Killed process 4242 (java) total-vm:2097152kB, anon-rss:1048576kB, file-rss:0kB, shmem-rss:0kB';

test('kernel log file → events and conditions in etcd, bounded under a flood, kept across restarts', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const dir = shortTempDir();
  const log = join(dir, 'kern.log');
  const stateFile = join(dir, 'state', 'state.json');
  writeFileSync(log, kern('Linux version 6.1.0 (an old harmless line)'));
  const cfg = writeConfig(
    agentYaml(etcd, PREFIX, 'n1', join(dir, 'a.sock'), [
      'services:',
      '  - { name: web, port: 8080 }',
      'problems:',
      `  kernel: { source: file, path: ${log} }`,
      '  pressure: { enabled: false }',
      '  events: { retention: 60s }',
      `  stateFile: ${stateFile}`,
    ]),
  );
  let agent = startAgent(t, '', cfg);
  await agent.waitLine((l) => l.msg === 'registered', 20_000);

  // Declared with defaults: present from the first registration, all False, under the node lease.
  const conds = () => (getJson(etcd, CONDITIONS)?.conditions ?? []) as Cond[];
  const cond = (type: string) => conds().find((c) => c.type === type);
  t.deepEqual(conds().map((c) => [c.type, c.status]), [['KernelDeadlock', 'False'], ['ReadonlyFilesystem', 'False'], ['XfsShutdown', 'False']]);
  const live = getJson(etcd, `${PREFIX}/v1/nodes/n1/live`)!;
  t.is(keyLease(etcd, CONDITIONS), String(live.lease), 'conditions live with the node lease');

  // OOM kills: one event key, coalesced with a count, under its own lease (TTL 1.25 × retention).
  appendFileSync(log, kern(OOM).repeat(3));
  const events = () => keysUnder(etcd, EVENTS).map((k) => getJson(etcd, k) as unknown as Ev);
  const oom = await waitFor(() => events().find((e) => e.reason === 'OOMKilling' && e.count === 3), { timeoutMs: 10_000, what: 'OOMKilling event with count 3' });
  t.is(oom.message, OOM, 'the message is the kernel text, without syslog and [seconds] prefixes');
  t.is(oom.severity, 'warn');
  const evKey = `${EVENTS}${oom.id}`;
  const evLease = keyLease(etcd, evKey);
  t.not(evLease, String(live.lease), 'events are not on the node lease');
  t.is(leaseTtl(etcd, evLease), 75, 'the events lease lives 1.25 × the 60 s retention');

  // A read-only remount: ReadonlyFilesystem True in etcd, plus an info event for the transition.
  appendFileSync(log, kern('EXT4-fs (vda1): Remounting filesystem read-only'));
  const ro = await waitFor(() => (cond('ReadonlyFilesystem')?.status === 'True' ? cond('ReadonlyFilesystem') : undefined), {
    timeoutMs: 10_000,
    what: 'ReadonlyFilesystem True',
  });
  t.is(ro.reason, 'FilesystemIsReadOnly');
  t.is(cond('KernelDeadlock')?.status, 'False');
  await waitFor(() => events().some((e) => e.reason === 'FilesystemIsReadOnly' && e.severity === 'info'), { timeoutMs: 10_000, what: 'the transition event' });
  const record = getJson(etcd, CONDITIONS)!;
  t.truthy(record.watermark, 'the record carries the watermark');
  t.is(record.bootId, live.bootId);
  checkRecord(t, 'docs/keys.md', CONDITIONS, record, docTable('/conditions`'), true);
  for (const e of events()) checkRecord(t, 'docs/keys.md', evKey, e as unknown as Record<string, unknown>, docTable('/events/<node>/<id>`'), true);

  // A flood: 20,000 lines (5,000 of them the same OOM line) cost a handful of writes, and the count is exact.
  const rev = etcd.revision();
  const noise = kern('IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready');
  appendFileSync(log, (noise.repeat(3) + kern(OOM)).repeat(5_000));
  await waitFor(() => events().find((e) => e.id === oom.id && e.count === 5_003), { timeoutMs: 20_000, what: 'the OOM count after the flood' });
  await new Promise((r) => setTimeout(r, 1_500));
  const writes = etcd.revision() - rev;
  t.log(`flood of 20,000 lines: ${writes} etcd writes`);
  t.true(writes <= 10, `bounded writes (${writes})`);

  const snapshot = () => new Map(events().map((e) => [e.id, e.count]));
  const before = snapshot();

  // Quick restart (SIGKILL, lease still alive): conditions read back from etcd; no old line replayed.
  await agent.stop('SIGKILL');
  agent = startAgent(t, '', cfg);
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  await agent.waitLine((l) => l.msg === 'kernel log monitor started', 5_000);
  t.is(cond('ReadonlyFilesystem')?.status, 'True');
  t.is(cond('ReadonlyFilesystem')?.lastTransitionTime, ro.lastTransitionTime, 'the same transition, not a new one');
  await new Promise((r) => setTimeout(r, 3_000)); // several flush ticks after re-reading the file's lookback
  t.deepEqual(snapshot(), before, 'no event replayed or recounted');

  // Graceful stop (lease revoked: the etcd record is gone), then start: restored from the state file.
  t.is(await agent.stop('SIGTERM'), 0);
  t.is(getJson(etcd, CONDITIONS), undefined);
  const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { conditions: Cond[]; watermark: string };
  t.is(saved.conditions.find((c) => c.type === 'ReadonlyFilesystem')?.status, 'True');
  agent = startAgent(t, '', cfg);
  const started = await agent.waitLine((l) => l.msg === 'kernel log monitor started', 20_000);
  t.is(started.restoredFrom, 'state file');
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  t.is(cond('ReadonlyFilesystem')?.lastTransitionTime, ro.lastTransitionTime);
  await new Promise((r) => setTimeout(r, 3_000));
  t.deepEqual(snapshot(), before, 'no event replayed after the state-file restore either');

  // Recovery: a read-write remount clears the condition.
  appendFileSync(log, kern('EXT4-fs (vda1): re-mounted r/w. Quota mode: none.'));
  await waitFor(() => cond('ReadonlyFilesystem')?.status === 'False', { timeoutMs: 10_000, what: 'ReadonlyFilesystem back to False' });
  t.is(cond('ReadonlyFilesystem')?.reason, 'FilesystemIsNotReadOnly');
  t.is(await agent.stop('SIGTERM'), 0);
});

test('pressure conditions: a threshold crossed sets DiskPressure True once, then nothing is written', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const dir = shortTempDir();
  const agent = startAgent(
    t,
    agentYaml(etcd, PREFIX, 'n1', join(dir, 'a.sock'), [
      'services:',
      '  - { name: web, port: 8080 }',
      'problems:',
      `  kernel: { source: file, path: ${join(dir, 'kern.log')} }`,
      // Any used space on a watched filesystem is "pressure": the test machine's root qualifies.
      '  pressure: { interval: 1s, diskUsedPercent: 0 }',
    ]),
  );
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  const conds = () => (getJson(etcd, CONDITIONS)?.conditions ?? []) as Cond[];
  const disk = await waitFor(() => conds().find((c) => c.type === 'DiskPressure' && c.status === 'True'), { timeoutMs: 15_000, what: 'DiskPressure True' });
  t.is(disk.reason, 'NodeHasDiskPressure');
  t.deepEqual(
    conds().map((c) => c.type),
    ['DiskPressure', 'KernelDeadlock', 'MemoryPressure', 'PIDPressure', 'ReadonlyFilesystem', 'XfsShutdown'],
    'kernel and pressure conditions in one record, sorted by type',
  );
  t.is(conds().find((c) => c.type === 'MemoryPressure')?.status, 'False');
  const rev = etcd.revision();
  await new Promise((r) => setTimeout(r, 4_000)); // four more samples, all still over the threshold
  t.is(etcd.revision(), rev, 'a condition that stays True is not written again');
});
