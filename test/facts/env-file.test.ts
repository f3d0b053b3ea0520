import test from 'ava';
import { parseEnvFile, readEnvFile } from '../../src/facts/env-file.js';
import { fixture } from './support.js';

test('parses quotes, comments, export, CRLF and odd lines like systemd does', async (t) => {
  const env = await readEnvFile(fixture('env', 'quoting.env'));
  t.truthy(env);
  t.deepEqual(Object.fromEntries(env!), {
    PLAIN: 'value',
    SPACED: 'spaced value',
    DOUBLE: 'a "quoted" \\ $HOME',
    SINGLE: 'it is "literal" \\n',
    EXPORTED: 'yes',
    EQUALS: 'a=b=c',
    INLINE: 'x # not a comment',
    EMPTY: '',
    EMPTY_QUOTED: '',
    DUP: 'second',
  });
});

test('a missing key is simply absent', (t) => {
  const env = parseEnvFile('A=1\n# B=2\n');
  t.is(env.get('A'), '1');
  t.false(env.has('B'));
  t.is(env.get('COREOS_PRIVATE_IPV4'), undefined);
});

test('a missing file is undefined, not an error', async (t) => {
  t.is(await readEnvFile(fixture('env', 'does-not-exist')), undefined);
  t.is(await readEnvFile(fixture('env', 'afterburn', 'below-a-file')), undefined);
});

test('an unreadable path (a directory) is an error', async (t) => {
  await t.throwsAsync(readEnvFile(fixture('env')), { code: 'EISDIR' });
});
