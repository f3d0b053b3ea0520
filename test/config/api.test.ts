// The `api` section's token: inline or from a file, one of the two, a usable value, never shown,
// and a config file holding it must not be open to other users.
import test from 'ava';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readApiToken } from '../../src/config/api.js';
import { loadAgentConfig, parseAgentConfig, readConfigFile } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const TOKEN = '0123456789abcdef0123456789abcdef';
const parse = (api: unknown, baseDir?: string) => parseAgentConfig({ node: { name: 'n1' }, api }, { hostname: 'h', ...(baseDir ? { baseDir } : {}) }).api;
const problem = (api: unknown) => t0(() => parse(api));
function t0(fn: () => unknown): string {
  try {
    fn();
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

test('api.token and api.tokenFile: parsed, relative to the config file, one or the other', (t) => {
  t.deepEqual(parse({ listen: '127.0.0.1:7070', token: TOKEN }), { host: '127.0.0.1', port: 7070, token: TOKEN });
  t.deepEqual(parse({ tokenFile: 'api-token' }, '/etc/beacon'), { socketPath: '/run/beacon/agent.sock', mode: 0o660, tokenFile: '/etc/beacon/api-token' });
  t.is(problem({ token: TOKEN, tokenFile: '/x' }), 'api.tokenFile: token and tokenFile are alternatives: set one of api.token, api.tokenFile (got "***")');
  // Too short, or not a header-safe value: refused, and the value is never shown.
  const short = problem({ token: 'short' });
  t.regex(short, /^api\.token: must be 16 to 4096 printable ASCII characters without spaces/);
  t.regex(short, /\(got "\*\*\*"\)$/);
  t.regex(problem({ token: `${TOKEN} ${TOKEN}` }), /^api\.token: must be 16/);
  t.regex(problem({ token: 12345678901234567890 }), /^api\.token: must be a string/);
});

test('readApiToken: the file\'s first line, refused when open to others or unusable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-api-token-'));
  const file = join(dir, 'token');
  writeFileSync(file, `${TOKEN}\nignored\n`, { mode: 0o640 });
  t.is(await readApiToken({ socketPath: '/s', mode: 0o660, tokenFile: file }), TOKEN);
  t.is(await readApiToken({ socketPath: '/s', mode: 0o660, token: TOKEN }), TOKEN);
  t.is(await readApiToken({ socketPath: '/s', mode: 0o660 }), undefined);
  writeFileSync(join(dir, 'open'), `${TOKEN}\n`, { mode: 0o604 });
  const open = await t.throwsAsync(readApiToken({ host: '127.0.0.1', port: 1, tokenFile: join(dir, 'open') }), { instanceOf: ConfigError });
  t.is(open!.message, `api.tokenFile: holds a secret but is open to other users (mode 0604): run chmod o-rwx ${join(dir, 'open')} (got "${join(dir, 'open')}")`);
  writeFileSync(join(dir, 'short'), 'abc\n', { mode: 0o600 });
  const short = await t.throwsAsync(readApiToken({ host: '127.0.0.1', port: 1, tokenFile: join(dir, 'short') }), { instanceOf: ConfigError });
  t.regex(short!.message, /its first line must be 16/);
  t.false(short!.message.includes('abc'));
  await t.throwsAsync(readApiToken({ host: '127.0.0.1', port: 1, tokenFile: join(dir, 'missing') }), { message: /cannot read the token file \(ENOENT\)/ });
  // The agent's loader checks the file too, so `beacon validate` catches it before a start does.
  const cfg = join(dir, 'agent.yaml');
  writeFileSync(cfg, 'node: { name: n1 }\napi: { tokenFile: short }\n', { mode: 0o600 });
  await t.throwsAsync(loadAgentConfig(cfg), { message: /api\.tokenFile: its first line must be 16/ });
});

test('a config file holding api.token must not be open to other users', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-api-token-'));
  const cfg = join(dir, 'agent.yaml');
  writeFileSync(cfg, `node: { name: n1 }\napi: { token: ${TOKEN} }\n`, { mode: 0o644 });
  const err = await t.throwsAsync(readConfigFile(cfg), { instanceOf: ConfigError });
  t.regex(err!.message, /holds a secret \(api\.token\) but is open to other users \(mode 0644\)/);
  t.false(err!.message.includes(TOKEN));
  chmodSync(cfg, 0o640);
  await t.notThrowsAsync(readConfigFile(cfg));
});
