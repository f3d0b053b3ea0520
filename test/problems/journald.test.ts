import test from 'ava';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JournalSource, parseJournalEntry } from '../../src/problems/journald.js';
import type { LogLine } from '../../src/problems/types.js';
import { waitFor } from '../helpers/etcd.js';
import { tempDir } from './util.js';

test('parses journalctl -o json entries, including byte-array messages', (t) => {
  t.deepEqual(parseJournalEntry('{"MESSAGE":"EXT4-fs error (device sda1): x","__REALTIME_TIMESTAMP":"1900000000123456","_TRANSPORT":"kernel"}'), {
    time: 1_900_000_000_123,
    text: 'EXT4-fs error (device sda1): x',
  });
  t.deepEqual(parseJournalEntry('{"MESSAGE":[104,105,255],"__REALTIME_TIMESTAMP":"1000"}'), { time: 1, text: 'hi\ufffd' });
  t.is(parseJournalEntry('{"MESSAGE":null,"__REALTIME_TIMESTAMP":"1000"}'), undefined);
  t.is(parseJournalEntry('{"MESSAGE":"x"}'), undefined);
  t.is(parseJournalEntry('not json'), undefined);
});

// A stand-in journalctl that records its arguments and pid, prints two entries, then follows forever.
function fakeJournalctl(): string {
  const dir = tempDir('beacon-fake-journalctl-');
  writeFileSync(
    join(dir, 'journalctl'),
    `#!/bin/sh
echo "$@" > "${dir}/args"
echo $$ > "${dir}/pid"
echo '{"MESSAGE":"INFO: task docker:20744 blocked for more than 120 seconds.","__REALTIME_TIMESTAMP":"1900000000000000"}'
echo '{"MESSAGE":"second","__REALTIME_TIMESTAMP":"1900000001000000"}'
exec sleep 600
`,
  );
  chmodSync(join(dir, 'journalctl'), 0o755);
  return dir;
}

test.serial('follows journalctl -k -f -o json from the lookback; abort kills it', async (t) => {
  const dir = fakeJournalctl();
  const saved = process.env.PATH;
  process.env.PATH = `${dir}:${saved}`;
  t.teardown(() => (process.env.PATH = saved));
  const lines: LogLine[] = [];
  const ac = new AbortController();
  const now = 1_900_000_300_000;
  const done = (async () => {
    for await (const l of new JournalSource({ lookbackMs: 300_000, now: () => now }).lines(ac.signal)) lines.push(l);
  })();
  await waitFor(() => lines.length === 2, { what: 'two entries' });
  t.deepEqual(lines[0], { time: 1_900_000_000_000, text: 'INFO: task docker:20744 blocked for more than 120 seconds.' });
  t.is(readFileSync(join(dir, 'args'), 'utf8').trim(), '-k -f -o json --no-pager --since=@1900000000');
  const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  ac.abort();
  await done;
  t.throws(() => process.kill(pid, 0));
});

test.serial('journalctl exiting or missing is an error the monitor can retry', async (t) => {
  const saved = process.env.PATH;
  t.teardown(() => (process.env.PATH = saved));
  const dir = tempDir('beacon-fake-journalctl-');
  writeFileSync(join(dir, 'journalctl'), '#!/bin/sh\necho "No journal files were found." >&2\nexit 1\n');
  chmodSync(join(dir, 'journalctl'), 0o755);
  process.env.PATH = `${dir}:${saved}`;
  const drain = async () => {
    for await (const _ of new JournalSource({ lookbackMs: 1000 }).lines(new AbortController().signal)) void _;
  };
  await t.throwsAsync(drain, { message: /journalctl exited \(1\): No journal files were found\./ });
  process.env.PATH = tempDir('beacon-empty-path-');
  await t.throwsAsync(drain, { message: /journalctl.*ENOENT|journalctl not found/ });
});
