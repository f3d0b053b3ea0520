// Precedence of each etcd/prefix/log setting: flags > BEACON_* env > file > ETCDCTL_* env > defaults.
import test, { type ExecutionContext } from 'ava';
import { ConfigError, ConfigErrors } from '../../src/errors.js';
import { parseAgentConfig } from '../../src/config/load.js';
import type { Overrides } from '../../src/config/sections.js';

type Env = Record<string, string>;
const node = { name: 'n1' };
const cfg = (raw: object, env: Env = {}, overrides: Overrides = {}) => parseAgentConfig({ node, ...raw }, { env, overrides });

function problems(t: ExecutionContext, raw: object, env: Env = {}, overrides: Overrides = {}): string[] {
  const err = t.throws(() => cfg(raw, env, overrides), { instanceOf: ConfigError });
  return err instanceof ConfigErrors ? err.errors.map((e) => e.message) : [err!.message];
}

const FILE = 'http://file:2379';
const ETCDCTL = 'http://etcdctl:2379';
const BEACON = 'http://beacon:2379';
const FLAG = 'http://flag:2379';

test('endpoints: flag > BEACON_ETCD_ENDPOINTS > ETCDCTL_ENDPOINTS > file > default (flag > environment > file)', (t) => {
  const file = { etcd: { endpoints: [FILE] } };
  const all = { ETCDCTL_ENDPOINTS: ETCDCTL, BEACON_ETCD_ENDPOINTS: BEACON };
  t.deepEqual(cfg(file, all, { etcd: FLAG }).etcd.endpoints, [FLAG]);
  t.deepEqual(cfg(file, all).etcd.endpoints, [BEACON]);
  t.deepEqual(cfg(file, { ETCDCTL_ENDPOINTS: ETCDCTL }).etcd.endpoints, [ETCDCTL]);
  t.deepEqual(cfg(file, {}).etcd.endpoints, [FILE]);
  t.deepEqual(cfg({}, { ETCDCTL_ENDPOINTS: `${ETCDCTL},http://other:2379` }).etcd.endpoints, [ETCDCTL, 'http://other:2379']);
  t.deepEqual(cfg({}, {}).etcd.endpoints, ['http://127.0.0.1:2379']);
  t.deepEqual(cfg({}, { ETCDCTL_ENDPOINTS: '' }).etcd.endpoints, ['http://127.0.0.1:2379'], 'empty counts as unset');
});

test('bad values from flags and environment name their source', (t) => {
  t.deepEqual(problems(t, {}, {}, { etcd: 'nope' }), [
    '--etcd: must be an http:// or https:// URL with a host and port, e.g. http://10.0.0.1:2379 (got "nope")',
  ]);
  t.deepEqual(problems(t, {}, { BEACON_ETCD_ENDPOINTS: 'a:1' }), [
    '$BEACON_ETCD_ENDPOINTS: must be an http:// or https:// URL with a host and port, e.g. http://10.0.0.1:2379 (got "a:1")',
  ]);
  t.deepEqual(problems(t, {}, { ETCDCTL_ENDPOINTS: 'a:1' }), [
    '$ETCDCTL_ENDPOINTS: must be an http:// or https:// URL with a host and port, e.g. http://10.0.0.1:2379 (got "a:1")',
  ]);
  // The environment wins over the file for endpoints: a bad value there is an error even with the file's.
  t.deepEqual(problems(t, { etcd: { endpoints: [FILE] } }, { ETCDCTL_ENDPOINTS: 'a:1' }), [
    '$ETCDCTL_ENDPOINTS: must be an http:// or https:// URL with a host and port, e.g. http://10.0.0.1:2379 (got "a:1")',
  ]);
  t.deepEqual(problems(t, {}, { BEACON_PREFIX: '/a b' }), ['$BEACON_PREFIX: must not contain spaces or control characters (got "/a b")']);
  t.deepEqual(problems(t, {}, {}, { prefix: '/x/../y' }), ['--prefix: must not contain empty, "." or ".." segments (got "/x/../y")']);
  t.deepEqual(problems(t, {}, { BEACON_LOG_LEVEL: 'loud' }), [
    '$BEACON_LOG_LEVEL: must be one of trace, debug, info, warn, error, fatal, silent (got "loud")',
  ]);
});

test('the file is validated even when a flag overrides it', (t) => {
  t.deepEqual(problems(t, { etcd: { endpoints: ['bad'] } }, {}, { etcd: FLAG }), [
    'etcd.endpoints[0]: must be an http:// or https:// URL with a host and port, e.g. http://10.0.0.1:2379 (got "bad")',
  ]);
});

test('TLS files fall back to ETCDCTL_CACERT, ETCDCTL_CERT and ETCDCTL_KEY', (t) => {
  const env = { ETCDCTL_CACERT: '/e/ca.pem', ETCDCTL_CERT: '/e/c.pem', ETCDCTL_KEY: '/e/k.pem' };
  t.like(cfg({}, env).etcd, { caFile: '/e/ca.pem', certFile: '/e/c.pem', keyFile: '/e/k.pem' });
  // The file's CA wins over the env's; cert and key are a pair, taken from one place.
  t.like(cfg({ etcd: { caFile: '/f/ca.pem', certFile: '/f/c.pem', keyFile: '/f/k.pem' } }, env).etcd, {
    caFile: '/f/ca.pem',
    certFile: '/f/c.pem',
    keyFile: '/f/k.pem',
  });
  t.like(cfg({ etcd: { caFile: '/f/ca.pem' } }, env).etcd, { caFile: '/f/ca.pem', certFile: '/e/c.pem', keyFile: '/e/k.pem' });
  t.deepEqual(problems(t, { etcd: { certFile: '/f/c.pem' } }, env), [
    'etcd.certFile: needs etcd.keyFile too: a client certificate and its key come together (got "/f/c.pem")',
  ]);
  t.deepEqual(problems(t, {}, { ETCDCTL_CERT: '/e/c.pem' }), [
    '$ETCDCTL_CERT: needs $ETCDCTL_KEY too: a client certificate and its key come together (got "/e/c.pem")',
  ]);
  t.deepEqual(problems(t, {}, { ETCDCTL_KEY: '/e/k.pem' }), [
    '$ETCDCTL_KEY: needs $ETCDCTL_CERT too: a client certificate and its key come together (got "/e/k.pem")',
  ]);
});

test('ETCDCTL_USER: "user:password", or user plus ETCDCTL_PASSWORD; the file wins', (t) => {
  t.like(cfg({}, { ETCDCTL_USER: 'root:pa:ss' }).etcd, { username: 'root', password: 'pa:ss' });
  t.like(cfg({}, { ETCDCTL_USER: 'root', ETCDCTL_PASSWORD: 'secret' }).etcd, { username: 'root', password: 'secret' });
  t.like(cfg({ etcd: { username: 'f', password: 'fp' } }, { ETCDCTL_USER: 'root:x' }).etcd, { username: 'f', password: 'fp' });
  const none = cfg({}, {}).etcd;
  t.false('username' in none || 'password' in none);
  t.deepEqual(problems(t, {}, { ETCDCTL_USER: 'root' }), [
    '$ETCDCTL_USER: has no password: use "user:password" or set $ETCDCTL_PASSWORD (got "root")',
  ]);
  t.deepEqual(problems(t, {}, { ETCDCTL_USER: 'root:' }), [
    '$ETCDCTL_USER: has no password: use "user:password" or set $ETCDCTL_PASSWORD (got "root:***")',
  ]);
  const err = t.throws(() => cfg({}, { ETCDCTL_USER: ':hunter2' }), { instanceOf: ConfigError });
  t.is(err!.message, '$ETCDCTL_USER: must start with a user name (got ":***")');
});

test('prefix: flag > BEACON_PREFIX > file > default', (t) => {
  t.is(cfg({ prefix: '/file' }, { BEACON_PREFIX: '/env' }, { prefix: '/flag/' }).prefix, '/flag');
  t.is(cfg({ prefix: '/file' }, { BEACON_PREFIX: 'env' }).prefix, '/env');
  t.is(cfg({ prefix: '/file' }, {}).prefix, '/file');
  t.is(cfg({}, {}).prefix, '/beacon');
});

test('log level: flag > BEACON_LOG_LEVEL > file > info', (t) => {
  t.is(cfg({ log: { level: 'error' } }, { BEACON_LOG_LEVEL: 'debug' }, { logLevel: 'warn' }).log.level, 'warn');
  t.is(cfg({ log: { level: 'error' } }, { BEACON_LOG_LEVEL: 'debug' }).log.level, 'debug');
  t.is(cfg({ log: { level: 'error' } }, {}).log.level, 'error');
});

test('the environment is only what the caller passes: parsing is pure', (t) => {
  process.env.BEACON_PREFIX = '/from-process-env';
  try {
    t.is(parseAgentConfig({ node }).prefix, '/beacon');
  } finally {
    delete process.env.BEACON_PREFIX;
  }
});
