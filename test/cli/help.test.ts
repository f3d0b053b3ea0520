// Every command's help lists each flag it accepts, its exit codes and an example; `beacon help COMMAND` is
// that help; no command silently ignores a positional argument (main.ts refuses it with exit 2).
import test from 'ava';
import { PassThrough } from 'node:stream';
import { COMMON_OPTIONS, ExitCode } from '../../src/cli/command.js';
import { commands } from '../../src/cli/commands/index.js';
import { commandHelp } from '../../src/cli/help.js';
import { main } from '../../src/cli/main.js';
import { beacon } from '../helpers/process.js';

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  // An unreachable etcd: a command that did run would fail with exit 4, not 2.
  const code = await main(argv, { stdout, stderr, env: { ETCDCTL_ENDPOINTS: 'http://127.0.0.1:1' } });
  return { code, stdout: out, stderr: err };
}

test('each command\'s help names every flag it accepts (its own and the common ones), its exit codes and an example', (t) => {
  for (const cmd of Object.values(commands)) {
    const help = commandHelp(cmd);
    for (const [long, o] of Object.entries({ ...COMMON_OPTIONS, ...cmd.options })) {
      t.regex(help, new RegExp(`--${long}\\b`), `${cmd.name} --help names --${long}`);
      if ('short' in o && o.short) t.regex(help, new RegExp(`-${o.short}, --${long}\\b`), `${cmd.name} --help names -${o.short}`);
    }
    t.regex(help, /^Exit codes:\n {2}0 {2}success\n(?: {2}[1-4] {2}.+\n)+/m, `${cmd.name}: exit codes`);
    t.regex(help, /^ {2}2 {2}bad usage/m, `${cmd.name}: exit 2 for bad usage`);
    t.true(cmd.examples.length > 0 && cmd.examples.every((e) => e.startsWith(`beacon ${cmd.name}`)), `${cmd.name}: examples run the command`);
    t.regex(help, /^Examples?:\n {2}beacon /m);
  }
});

test('`beacon help COMMAND` is `beacon COMMAND --help`; an unknown topic exits 2', async (t) => {
  for (const name of ['nodes', 'events', 'maint', 'check']) {
    const viaHelp = await run(['help', name]);
    const viaFlag = await run([name, '--help']);
    t.is(viaHelp.code, ExitCode.ok);
    t.is(viaHelp.stdout, viaFlag.stdout);
    t.is(viaHelp.stdout, `${commandHelp(commands[name]!)}\n`);
  }
  const bad = await run(['help', 'nope']);
  t.is(bad.code, ExitCode.usage);
  t.regex(bad.stderr, /^beacon help: unknown command "nope"/);
  t.is((await run(['help'])).code, ExitCode.ok, '`beacon help` alone is the overview');
});

test('an extra positional argument exits 2 naming it, for every command that takes a bounded number', async (t) => {
  const filled: Record<string, string[]> = { check: ['pass', 'id'], describe: ['node', 'n1'], maint: ['enable'], doctor: ['a.yaml'], validate: ['a.yaml'], endpoints: ['web'], events: ['n1'], services: ['web'], explain: ['node', 'n1'] };
  for (const cmd of Object.values(commands)) {
    if (cmd.maxArgs === Infinity) continue;
    const args = [...(filled[cmd.name] ?? []), 'surplus\u001b'];
    t.is(args.length, cmd.maxArgs + 1, `${cmd.name}: the test fills its ${cmd.maxArgs} arguments`);
    const r = await run([cmd.name, ...args]);
    t.is(r.code, ExitCode.usage, `${cmd.name}: ${r.stderr}`);
    t.true(r.stderr.startsWith(`beacon ${cmd.name}: unexpected argument "surplus\\x1b"`), `${cmd.name}: ${r.stderr}`);
  }
});

test('as a real process: `beacon watch web` is refused, not run', (t) => {
  const r = beacon(['watch', 'web', '--etcd', 'http://127.0.0.1:1']);
  t.is(r.code, ExitCode.usage);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^beacon watch: unexpected argument "web" \(watch takes no arguments\)/);
});
