import test from 'ava';
import { KmsgSource, bootTimeMs, parseKmsgRecord } from '../../src/problems/kmsg.js';
import type { LogLine } from '../../src/problems/types.js';
import { waitFor } from '../helpers/etcd.js';
import { fixture } from './util.js';

test('parses "pri,seq,usec,flags;message" and skips dictionary lines', (t) => {
  t.deepEqual(parseKmsgRecord('3,1204,5012345678,-;Out of memory: Killed process 1'), {
    facility: 0,
    level: 3,
    seq: 1204,
    usec: 5012345678,
    message: 'Out of memory: Killed process 1',
  });
  t.like(parseKmsgRecord('12,9,100,-;user line'), { facility: 1, level: 4 });
  t.like(parseKmsgRecord('6,2,3,-,caller=T1;with more fields'), { seq: 2, message: 'with more fields' });
  t.is(parseKmsgRecord(' SUBSYSTEM=memory'), undefined);
  t.is(parseKmsgRecord('garbage'), undefined);
  t.is(parseKmsgRecord('a,b,c;x'), undefined);
});

test('a file of records yields messages with wall-clock times from the boot time', async (t) => {
  const lines: LogLine[] = [];
  const ac = new AbortController();
  const boot = 1_900_000_000_000;
  const done = (async () => {
    for await (const l of new KmsgSource({ path: fixture('kmsg-records.txt'), bootTimeMs: boot, pollMs: 20 }).lines(ac.signal)) lines.push(l);
  })();
  await waitFor(() => lines.length === 5, { what: '5 records' });
  ac.abort();
  await done;
  t.deepEqual(lines[2], {
    time: boot + 5_012_345,
    text: 'Out of memory: Killed process 4242 (stress-ng) total-vm:2105396kB, anon-rss:1960940kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:3900kB oom_score_adj:0',
  });
  t.is(lines[3]!.text, 'EXT4-fs (sda1): Remounting filesystem read-only');
  t.is(lines.length, 5);
});

test('the real /dev/kmsg: records from this boot with plausible times, and abort stops the poll', async (t) => {
  const lines: LogLine[] = [];
  const ac = new AbortController();
  const done = (async () => {
    for await (const l of new KmsgSource({ pollMs: 50 }).lines(ac.signal)) lines.push(l);
  })();
  await waitFor(() => lines.length > 0, { what: 'a record from /dev/kmsg (the agent runs as root)' });
  ac.abort();
  await done;
  const boot = bootTimeMs();
  t.true(lines[0]!.time >= boot - 5_000 && lines[0]!.time <= Date.now() + 5_000, `time ${lines[0]!.time} vs boot ${boot}`);
  t.true(lines[0]!.text.length > 0);
});
