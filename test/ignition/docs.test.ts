// Every `beacon ignition` command in docs/install.md runs as written (placeholders filled in with the
// example inputs) and prints a config that ignition-validate accepts: the install guide cannot drift.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import { COMMON_OPTIONS } from '../../src/cli/command.js';
import { ignitionCommand } from '../../src/cli/commands/ignition.js';
import { requireBinary } from '../helpers/etcd.js';
import { repoRoot } from '../units/systemd-root.js';

const inputs = join(repoRoot, 'ignition/examples/inputs');
/** Words in the guide → what stands in for them here. */
const fill: Record<string, string> = {
  URL: 'https://artifacts.example.com/beacon/0.1.0/beacon.gz',
  HEX: 'ab'.repeat(64),
  "$(cut -d' ' -f1 dist/artifact/beacon.sha512)": 'cd'.repeat(64),
  'agent.yaml': join(inputs, 'agent.yaml'),
  'existing.ign': join(inputs, 'existing.ign'),
  'ca.pem': join(inputs, 'ca.pem'),
  'client.pem': join(inputs, 'client.pem'),
  'client-key.pem': join(inputs, 'client-key.pem'),
};

/** `beacon ignition ...` commands from the guide's sh blocks, continuation lines joined, redirect dropped. */
function documentedCommands(): string[][] {
  const md = readFileSync(join(repoRoot, 'docs/install.md'), 'utf8');
  const blocks = [...md.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/\\\n\s*/g, ''));
  return blocks
    .flatMap((b) => b.split('\n'))
    .filter((l) => l.startsWith('beacon ignition '))
    .map((l) => words(l.replace(/\s*>\s*\S+\s*$/, '')).slice(2));
}

/** Split on spaces, keeping "double-quoted" words whole (enough for the guide's commands). */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

test('the guide shows the ignition command in its forms', (t) => {
  const cmds = documentedCommands();
  t.true(cmds.length >= 4, `found ${cmds.length}`);
  for (const flag of ['--flavor', '--merge', '--ca-file', '--artifact-sha512']) t.true(cmds.some((c) => c.includes(flag)), flag);
});

test('every documented beacon ignition command runs and its output passes ignition-validate', async (t) => {
  const validator = requireBinary('ignition-validate');
  const tmp = mkdtempSync(join(tmpdir(), 'beacon-docs-'));
  try {
    for (const [i, cmd] of documentedCommands().entries()) {
      const args = cmd.map((w) => fill[w] ?? w);
      const parsed = parseArgs({ args, options: { ...COMMON_OPTIONS, ...ignitionCommand.options }, allowPositionals: true, strict: true });
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      const chunks: Buffer[] = [];
      const errs: Buffer[] = [];
      stdout.on('data', (d: Buffer) => chunks.push(d));
      stderr.on('data', (d: Buffer) => errs.push(d));
      const code = await ignitionCommand.run({
        values: parsed.values,
        positionals: parsed.positionals,
        env: {},
        stdout,
        stderr,
        signal: new AbortController().signal,
        onHangup: () => {},
      });
      const shown = `beacon ignition ${cmd.join(' ')}`;
      t.is(code, 0, `${shown}: ${Buffer.concat(errs).toString()}`);
      const file = join(tmp, `${i}.ign`);
      writeFileSync(file, Buffer.concat(chunks));
      const r = spawnSync(validator, [file], { encoding: 'utf8' });
      t.is(`${r.stdout}${r.stderr}`, '', shown);
      t.is(r.status, 0, shown);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
