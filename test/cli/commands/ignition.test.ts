// `beacon ignition` as a command: flags to generator options, exit 2 with the flag named on bad input.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import { COMMON_OPTIONS, ExitCode } from '../../../src/cli/command.js';
import { ignitionCommand } from '../../../src/cli/commands/ignition.js';
import type { IgnitionConfig } from '../../../src/ignition/types.js';

const dir = mkdtempSync(join(tmpdir(), 'beacon-ignition-cmd-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const config = write('agent.yaml', 'etcd:\n  endpoints: [http://10.0.0.2:2379]\nservices:\n  - name: web\n    port: 8080\n');
const SHA = 'ab'.repeat(64);
const minimal = ['--config', config, '--artifact-url', 'https://example.com/beacon.gz', '--artifact-sha512', SHA];

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const parsed = parseArgs({ args, options: { ...COMMON_OPTIONS, ...ignitionCommand.options }, allowPositionals: true, strict: true });
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await ignitionCommand.run({
    values: parsed.values,
    positionals: parsed.positionals,
    env: {},
    stdout: out,
    stderr: err,
    signal: new AbortController().signal,
    onHangup: () => {},
  });
  return { code, stdout, stderr };
}

test('prints the config as JSON on stdout', async (t) => {
  const r = await run([...minimal, '--flavor', 'flatcar', '--spec', '3.4.0', '--watcher']);
  t.is(r.code, ExitCode.ok, r.stderr);
  const c = JSON.parse(r.stdout) as IgnitionConfig;
  t.is(c.ignition.version, '3.4.0');
  t.truthy(c.storage?.files?.find((f) => f.path === '/opt/bin/beacon'));
  t.deepEqual(c.systemd?.units?.map((u) => u.name), ['beacon-agent.service', 'beacon-watcher.service']);
});

const bad: [string, string[], RegExp][] = [
  ['missing --artifact-url', ['--config', config, '--artifact-sha512', SHA], /--artifact-url: is required/],
  ['missing --config', ['--artifact-url', 'https://example.com/b.gz', '--artifact-sha512', SHA], /--config: is required/],
  ['bad hash', [...minimal.slice(0, 4), '--artifact-sha512', 'abc'], /--artifact-sha512/],
  ['unknown flavor', [...minimal, '--flavor', 'ubuntu'], /--flavor/],
  ['watcher config without --watcher', [...minimal, '--watcher-config', config], /--watcher-config: needs --watcher/],
  ['unreadable TLS file', [...minimal, '--ca-file', join(dir, 'nope.pem')], /--ca-file: cannot be read \(ENOENT\)/],
  ['merge file that is not JSON', [...minimal, '--merge', write('bad.ign', '{')], /--merge: is not JSON/],
  ['invalid agent config', ['--config', write('bad.yaml', 'node:\n  ttl: 1s\n'), ...minimal.slice(2)], /node\.ttl/],
];
for (const [title, args, message] of bad) {
  test(`exit 2 and the flag named: ${title}`, async (t) => {
    const r = await run(args);
    t.is(r.code, ExitCode.usage);
    t.regex(r.stderr, message);
    t.is(r.stdout, '');
  });
}
