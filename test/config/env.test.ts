// Precedence: how to reach etcd (endpoints, CA, certificate and key, user) is flag > BEACON_ETCD_* >
// ETCDCTL_* > file > default, as etcdctl users expect; prefix and log level flag > BEACON_* > file > default.
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
  t.deepEqual(problems(t, {}, { BEACON_ETCD_ENDPOINTS: 'a' }), [
    '$BEACON_ETCD_ENDPOINTS: must be an http:// or https:// URL with a host and port, e.g. http://10.0.0.1:2379 (got "a")',
  ]);
  t.deepEqual(problems(t, {}, { ETCDCTL_ENDPOINTS: 'grpc://a:1' }), [
    '$ETCDCTL_ENDPOINTS: must be an http:// or https:// URL with a host and port, e.g. http://10.0.0.1:2379 (got "grpc://a:1")',
  ]);
  // The environment wins over the file for endpoints: a bad value there is an error even with the file's.
  t.deepEqual(problems(t, { etcd: { endpoints: [FILE] } }, { ETCDCTL_ENDPOINTS: 'a:0' }), [
    '$ETCDCTL_ENDPOINTS: must be an http:// or https:// URL with a host and port, e.g. http://10.0.0.1:2379 (got "a:0")',
  ]);
  // etcdctl's host:port form (no scheme) means http:// wherever endpoints are read.
  t.deepEqual(cfg({}, { ETCDCTL_ENDPOINTS: '127.0.0.1:2379,127.0.0.2:2379' }).etcd.endpoints, ['http://127.0.0.1:2379', 'http://127.0.0.2:2379']);
  t.deepEqual(cfg({}, { BEACON_ETCD_ENDPOINTS: 'localhost:2379' }).etcd.endpoints, ['http://localhost:2379']);
  t.deepEqual(cfg({}, {}, { etcd: '127.0.0.1:2379' }).etcd.endpoints, ['http://127.0.0.1:2379']);
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

test('CA: --cacert > BEACON_ETCD_CACERT > ETCDCTL_CACERT > file (flag > environment > file)', (t) => {
  const file = { etcd: { caFile: '/f/ca.pem' } };
  const all = { BEACON_ETCD_CACERT: '/b/ca.pem', ETCDCTL_CACERT: '/e/ca.pem' };
  t.is(cfg(file, all, { cacert: '/flag/ca.pem' }).etcd.caFile, '/flag/ca.pem');
  t.is(cfg(file, all).etcd.caFile, '/b/ca.pem');
  t.is(cfg(file, { ETCDCTL_CACERT: '/e/ca.pem' }).etcd.caFile, '/e/ca.pem');
  t.is(cfg(file, {}).etcd.caFile, '/f/ca.pem');
  t.is(cfg(file, { ETCDCTL_CACERT: '' }).etcd.caFile, '/f/ca.pem', 'empty counts as unset');
  t.false('caFile' in cfg({}, {}).etcd);
});

test('certificate and key: one pair from the first source setting either half: flags > BEACON_ETCD_* > ETCDCTL_* > file', (t) => {
  const file = { etcd: { certFile: '/f/c.pem', keyFile: '/f/k.pem' } };
  const beacon = { BEACON_ETCD_CERT: '/b/c.pem', BEACON_ETCD_KEY: '/b/k.pem' };
  const etcdctl = { ETCDCTL_CERT: '/e/c.pem', ETCDCTL_KEY: '/e/k.pem' };
  t.like(cfg(file, { ...beacon, ...etcdctl }, { cert: '/flag/c.pem', key: '/flag/k.pem' }).etcd, { certFile: '/flag/c.pem', keyFile: '/flag/k.pem' });
  t.like(cfg(file, { ...beacon, ...etcdctl }).etcd, { certFile: '/b/c.pem', keyFile: '/b/k.pem' });
  t.like(cfg(file, etcdctl).etcd, { certFile: '/e/c.pem', keyFile: '/e/k.pem' });
  t.like(cfg(file, {}).etcd, { certFile: '/f/c.pem', keyFile: '/f/k.pem' });
  // The CA and the pair are separate settings: each from its own first source.
  t.like(cfg({ etcd: { caFile: '/f/ca.pem' } }, etcdctl).etcd, { caFile: '/f/ca.pem', certFile: '/e/c.pem', keyFile: '/e/k.pem' });
  // Half a pair is an error at its source, never completed from another source.
  t.deepEqual(problems(t, file, {}, { cert: '/flag/c.pem' }), ['--cert: needs --key too: a client certificate and its key come together (got "/flag/c.pem")']);
  t.deepEqual(problems(t, file, { BEACON_ETCD_KEY: '/b/k.pem', ETCDCTL_CERT: '/e/c.pem' }), [
    '$BEACON_ETCD_KEY: needs $BEACON_ETCD_CERT too: a client certificate and its key come together (got "/b/k.pem")',
  ]);
  t.deepEqual(problems(t, { etcd: { certFile: '/f/c.pem' } }, {}), [
    'etcd.certFile: needs etcd.keyFile too: a client certificate and its key come together (got "/f/c.pem")',
  ]);
  t.deepEqual(problems(t, {}, { ETCDCTL_CERT: '/e/c.pem' }), [
    '$ETCDCTL_CERT: needs $ETCDCTL_KEY too: a client certificate and its key come together (got "/e/c.pem")',
  ]);
  t.deepEqual(problems(t, {}, { ETCDCTL_KEY: '/e/k.pem' }), [
    '$ETCDCTL_KEY: needs $ETCDCTL_CERT too: a client certificate and its key come together (got "/e/k.pem")',
  ]);
});

test('user: --user > BEACON_ETCD_USER > ETCDCTL_USER > file; "user:password", or the password from its own variable', (t) => {
  const file = { etcd: { username: 'f', password: 'fp' } };
  t.like(cfg(file, { BEACON_ETCD_USER: 'b:bp', ETCDCTL_USER: 'e:ep' }, { user: 'flag:flagp' }).etcd, { username: 'flag', password: 'flagp' });
  t.like(cfg(file, { BEACON_ETCD_USER: 'b:bp', ETCDCTL_USER: 'e:ep' }).etcd, { username: 'b', password: 'bp' });
  t.like(cfg(file, { ETCDCTL_USER: 'root:x' }).etcd, { username: 'root', password: 'x' });
  t.like(cfg(file, {}).etcd, { username: 'f', password: 'fp' });
  t.like(cfg({}, { ETCDCTL_USER: 'root:pa:ss' }).etcd, { username: 'root', password: 'pa:ss' });
  t.like(cfg({}, { ETCDCTL_USER: 'root', ETCDCTL_PASSWORD: 'secret' }).etcd, { username: 'root', password: 'secret' });
  t.like(cfg({}, { BEACON_ETCD_USER: 'n1', BEACON_ETCD_PASSWORD: 'bsecret', ETCDCTL_PASSWORD: 'esecret' }).etcd, { username: 'n1', password: 'bsecret' });
  t.like(cfg({}, { ETCDCTL_PASSWORD: 'esecret' }, { user: 'n1' }).etcd, { username: 'n1', password: 'esecret' });
  const none = cfg({}, {}).etcd;
  t.false('username' in none || 'password' in none);
  t.deepEqual(problems(t, {}, { ETCDCTL_USER: 'root' }), [
    '$ETCDCTL_USER: has no password: use "user:password" or set $ETCDCTL_PASSWORD (got "root")',
  ]);
  t.deepEqual(problems(t, {}, { ETCDCTL_USER: 'root:' }), [
    '$ETCDCTL_USER: has no password: use "user:password" or set $ETCDCTL_PASSWORD (got "root:***")',
  ]);
  // The file's password does not complete a user named elsewhere: each source is whole.
  t.deepEqual(problems(t, file, {}, { user: 'n1' }), [
    '--user: has no password: use "user:password" or set $BEACON_ETCD_PASSWORD or $ETCDCTL_PASSWORD (got "n1")',
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
