// The write path against real files and real `sh` commands: a check failure keeps the old file, the replace
// is atomic (a reader only ever sees a whole old or a whole new file), the mode is kept, an identical
// render is not rewritten, and the commands see what the docs promise ({{staged}}, $BEACON_STAGED, $BEACON_TARGET).
import test from 'ava';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Target } from '../../src/render/target.js';
import { waitFor } from '../helpers/etcd.js';

// A fresh directory with a space in its name, so quoting of {{staged}} is exercised too.
function dir(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'beacon render-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const never = new AbortController().signal;

test('a new target is written whole with mode 0644, and nothing is left beside it', async (t) => {
  const d = dir(t);
  const out = join(d, 'app.conf');
  const r = await new Target({ path: out }).apply('hello\n', never);
  t.is(r.result, 'written');
  t.is(readFileSync(out, 'utf8'), 'hello\n');
  t.is(statSync(out).mode & 0o777, 0o644);
  t.deepEqual(readdirSync(d), ['app.conf']);
});

test('an identical render is not rewritten: no check, no reload, same inode and mtime', async (t) => {
  const d = dir(t);
  const out = join(d, 'app.conf');
  writeFileSync(out, 'same\n');
  const before = statSync(out);
  const marker = join(d, 'ran');
  const target = new Target({ path: out, checkCmd: `touch '${marker}'`, reloadCmd: `touch '${marker}'` });
  t.deepEqual(await target.apply('same\n', never), { result: 'unchanged' });
  const after = statSync(out);
  t.is(after.ino, before.ino);
  t.is(after.mtimeMs, before.mtimeMs);
  t.false(existsSync(marker), 'neither command ran');
});

test('a failing check keeps the old file byte for byte, reports its output, and removes the staged file', async (t) => {
  const d = dir(t);
  const out = join(d, 'app.conf');
  writeFileSync(out, 'old\n');
  const ino = statSync(out).ino;
  const marker = join(d, 'reloaded');
  const target = new Target({ path: out, checkCmd: 'grep -q valid {{staged}} || { echo "bad config in $BEACON_STAGED" >&2; exit 3; }', reloadCmd: `touch '${marker}'` });
  const r = await target.apply('broken\n', never);
  if (r.result !== 'check-failed') return t.fail(`expected check-failed, got ${r.result}`);
  t.is(r.check.exitCode, 3);
  t.is(r.check.error, 'exit code 3');
  t.regex(r.check.output, /bad config in .*\/\.app\.conf\.beacon-[0-9a-f]+/);
  t.is(readFileSync(out, 'utf8'), 'old\n');
  t.is(statSync(out).ino, ino, 'the very same file');
  t.false(existsSync(marker), 'no reload after a refused render');
  t.deepEqual(readdirSync(d), ['app.conf'], 'the staged file is gone');
  // The same target accepts a good render afterwards.
  t.is((await target.apply('valid\n', never)).result, 'written');
  t.is(readFileSync(out, 'utf8'), 'valid\n');
});

test('the check runs on the staged file next to the target; the replace keeps the mode; the reload sees the new file', async (t) => {
  const d = dir(t);
  const out = join(d, 'app.conf');
  writeFileSync(out, 'v1\n');
  chmodSync(out, 0o640);
  const ino = statSync(out).ino;
  const seen = join(d, 'seen');
  const reloaded = join(d, 'reloaded');
  const target = new Target({
    path: out,
    checkCmd: `{ dirname {{staged}}; cat {{staged}}; stat -c %a "$BEACON_STAGED"; } > '${seen}'`,
    reloadCmd: `cat "$BEACON_TARGET" > '${reloaded}'`,
  });
  const r = await target.apply('v2\n', never);
  if (r.result !== 'written') return t.fail(`expected written, got ${r.result}`);
  t.true(r.check?.ok);
  t.true(r.reload?.ok);
  t.is(readFileSync(seen, 'utf8'), `${d}\nv2\n640\n`, 'the check read the whole staged file, in the target directory, with the final mode');
  t.is(readFileSync(out, 'utf8'), 'v2\n');
  t.is(statSync(out).mode & 0o7777, 0o640, 'mode preserved');
  t.not(statSync(out).ino, ino, 'replaced by rename, not rewritten in place');
  t.is(readFileSync(reloaded, 'utf8'), 'v2\n', 'the reload ran after the replace');
});

test('a symlinked target stays a symlink: the file it points to is replaced', async (t) => {
  const d = dir(t);
  mkdirSync(join(d, 'available'));
  const real = join(d, 'available', 'site.conf');
  writeFileSync(real, 'old\n');
  const link = join(d, 'site.conf');
  symlinkSync(real, link);
  t.is((await new Target({ path: link }).apply('new\n', never)).result, 'written');
  t.true(lstatSync(link).isSymbolicLink());
  t.is(readFileSync(real, 'utf8'), 'new\n');
  t.deepEqual(readdirSync(join(d, 'available')), ['site.conf']);
});

test('a failing reload is reported, and the new file stays in place', async (t) => {
  const d = dir(t);
  const out = join(d, 'app.conf');
  const r = await new Target({ path: out, reloadCmd: 'echo cannot reload; exit 1' }).apply('new\n', never);
  if (r.result !== 'written') return t.fail(`expected written, got ${r.result}`);
  t.false(r.reload?.ok);
  t.is(r.reload?.error, 'exit code 1');
  t.regex(r.reload?.output ?? '', /cannot reload/);
  t.is(readFileSync(out, 'utf8'), 'new\n');
});

test('a check that hangs is killed at the timeout, with its children, and the old file stays', async (t) => {
  const d = dir(t);
  const out = join(d, 'app.conf');
  writeFileSync(out, 'old\n');
  const pidFile = join(d, 'child.pid');
  const target = new Target({ path: out, checkCmd: `sleep 30 & echo $! > '${pidFile}'; wait`, commandTimeoutMs: 500 });
  const r = await target.apply('new\n', never);
  if (r.result !== 'check-failed') return t.fail(`expected check-failed, got ${r.result}`);
  t.is(r.check.error, 'timed out after 500 ms');
  t.is(readFileSync(out, 'utf8'), 'old\n');
  const child = Number(readFileSync(pidFile, 'utf8'));
  // Gone, or a zombie waiting for whoever inherited it to reap it: either way no longer running.
  await waitFor(() => !existsSync(`/proc/${child}`) || /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${child}/stat`, 'utf8')), {
    timeoutMs: 5_000,
    what: 'the background child of the check to be killed too',
  });
  t.pass();
  t.deepEqual(readdirSync(d).sort(), ['app.conf', 'child.pid']);
});

test('a reader never sees a half-written file while large renders replace each other', async (t) => {
  const d = dir(t);
  const out = join(d, 'big.conf');
  const a = 'a'.repeat(2 * 1024 * 1024);
  const b = 'b'.repeat(3 * 1024 * 1024);
  writeFileSync(out, a);
  const target = new Target({ path: out });
  let writing = true;
  let reads = 0;
  const bad: number[] = [];
  const reader = (async () => {
    while (writing) {
      const text = await readFile(out, 'utf8');
      reads++;
      if (text !== a && text !== b) bad.push(text.length);
    }
  })();
  for (let i = 0; i < 10; i++) t.is((await target.apply(i % 2 === 0 ? b : a, never)).result, 'written');
  writing = false;
  await reader;
  t.true(reads > 0);
  t.deepEqual(bad, [], 'every read was a whole version');
});
