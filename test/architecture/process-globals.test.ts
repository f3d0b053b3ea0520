// Only src/cli/ reads argv or ends the process: library code returns values and errors, and a
// caller decides what they mean for the process. dependency-cruiser checks imports, not these
// globals, so this test reads the sources (the rest of the layering is in .dependency-cruiser.cjs).
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../helpers/process.js';

const PROCESS_GLOBALS = /\bprocess\s*\.\s*(argv|exit|exitCode)\b/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** `file:line process.x` for every use of argv, exit or exitCode in the files. */
function uses(files: string[]): string[] {
  return files.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line, i) =>
        [...line.matchAll(PROCESS_GLOBALS)].map((m) => `${relative(REPO_ROOT, file)}:${i + 1} process.${m[1]}`),
      ),
  );
}

const files = sourceFiles(join(REPO_ROOT, 'src'));
const inCli = (f: string) => relative(REPO_ROOT, f).startsWith(join('src', 'cli') + '/');

test('only src/cli/ reads process.argv or calls process.exit', (t) => {
  t.deepEqual(uses(files.filter((f) => !inCli(f))), []);
});

test('the scan finds the uses src/cli/ makes of them', (t) => {
  const found = uses(files.filter(inCli));
  t.true(found.some((u) => u.startsWith('src/cli/bin.ts:') && u.endsWith('process.argv')), found.join('\n'));
  t.true(found.some((u) => u.startsWith('src/cli/bin.ts:') && u.endsWith('process.exit')), found.join('\n'));
});
