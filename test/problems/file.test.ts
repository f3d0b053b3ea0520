import test from 'ava';
import { appendFileSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileSource, parseLogLine } from '../../src/problems/file.js';
import type { LogLine } from '../../src/problems/types.js';
import { waitFor } from '../helpers/etcd.js';
import { tempDir } from './util.js';

test('syslog and rsyslog ISO lines yield their time and the bare kernel message', (t) => {
  const now = new Date(2030, 5, 15, 12, 0, 0).getTime();
  const bsd = parseLogLine('Jun 15 11:59:58 node-1 kernel: [12345.678901] EXT4-fs error (device sda1): x', 0, now);
  t.deepEqual(bsd, { time: new Date(2030, 5, 15, 11, 59, 58).getTime(), text: 'EXT4-fs error (device sda1): x' });
  // December lines read in January belong to last year.
  const dec = parseLogLine('Dec 31 23:59:59 node-1 kernel: hello', 0, new Date(2031, 0, 1, 0, 0, 5).getTime());
  t.is(new Date(dec.time).getFullYear(), 2030);
  const iso = parseLogLine('2030-06-15T11:59:58.123456+00:00 node-1 kernel: [  1.5] Buffer I/O error on dev sda1, logical block 0', 0, now);
  t.deepEqual(iso, { time: Date.UTC(2030, 5, 15, 11, 59, 58, 123), text: 'Buffer I/O error on dev sda1, logical block 0' });
  t.deepEqual(parseLogLine('[  3.14] dmesg style', 7), { time: 7, text: 'dmesg style' });
  t.deepEqual(parseLogLine('just a line', 7), { time: 7, text: 'just a line' });
});

async function collect(source: FileSource, signal: AbortSignal, into: LogLine[]): Promise<void> {
  for await (const l of source.lines(signal)) into.push(l);
}

test('reads the lookback tail (from a line boundary), then follows appends', async (t) => {
  const path = join(tempDir(), 'kern.log');
  const old = Array.from({ length: 100 }, (_, i) => `old line ${i}`).join('\n') + '\n';
  writeFileSync(path, old);
  const mtime = statSync(path).mtimeMs;
  const lines: LogLine[] = [];
  const ac = new AbortController();
  const done = collect(new FileSource({ path, lookbackBytes: 100, pollMs: 20, format: 'raw' }), ac.signal, lines);
  await waitFor(() => lines.length >= 8, { what: 'tail lines' });
  // 100 bytes back lands mid-line (lines are 12 bytes): that partial line is dropped, whole lines follow.
  t.deepEqual(lines.map((l) => l.text), ['old line 92', 'old line 93', 'old line 94', 'old line 95', 'old line 96', 'old line 97', 'old line 98', 'old line 99']);
  t.true(lines.every((l) => l.time === mtime));
  const before = Date.now();
  appendFileSync(path, 'new line a\nnew line b\npartial');
  await waitFor(() => lines.some((l) => l.text === 'new line b'), { what: 'appended lines' });
  t.false(lines.some((l) => l.text.startsWith('partial')));
  appendFileSync(path, ' finished\n');
  await waitFor(() => lines.some((l) => l.text === 'partial finished'), { what: 'completed partial line' });
  t.true(lines.filter((l) => l.text.startsWith('new') || l.text.startsWith('partial')).every((l) => l.time >= before));
  ac.abort();
  await done;
});

test('follows rotation (rename + new file) and truncation', async (t) => {
  const dir = tempDir();
  const path = join(dir, 'kern.log');
  writeFileSync(path, '');
  const lines: LogLine[] = [];
  const ac = new AbortController();
  const done = collect(new FileSource({ path, pollMs: 20 }), ac.signal, lines);
  appendFileSync(path, 'one\n');
  await waitFor(() => lines.length === 1, { what: 'one' });
  appendFileSync(path, 'two\n');
  renameSync(path, `${path}.1`);
  writeFileSync(path, 'three\n');
  await waitFor(() => lines.length === 3, { what: 'rotated file' });
  truncateSync(path, 0);
  appendFileSync(path, 'four\n');
  await waitFor(() => lines.length === 4, { what: 'after truncation' });
  t.deepEqual(lines.map((l) => l.text), ['one', 'two', 'three', 'four']);
  ac.abort();
  await done;
});

test('a missing file is waited for; a very long line is cut', async (t) => {
  const path = join(tempDir(), 'later.log');
  const lines: LogLine[] = [];
  const ac = new AbortController();
  const done = collect(new FileSource({ path, pollMs: 20 }), ac.signal, lines);
  await new Promise((r) => setTimeout(r, 100));
  writeFileSync(path, `${'z'.repeat(100_000)}\nshort\n`);
  await waitFor(() => lines.length === 2, { what: 'lines of the late file' });
  t.is(lines[0]!.text.length, 4096);
  t.is(lines[1]!.text, 'short');
  ac.abort();
  await done;
  t.pass();
});
