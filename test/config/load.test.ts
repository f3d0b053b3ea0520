import test, { type ExecutionContext } from 'ava';
import { ConfigError, ConfigErrors } from '../../src/errors.js';
import { formatConfigError, parseAgentConfig, parseClientConfig, redactConfig } from '../../src/config/load.js';
import { DEFAULT_ENV_FILES } from '../../src/config/node.js';
import type { ParseOptions } from '../../src/config/sections.js';

const node = { name: 'n1' };

function parse(raw: unknown, opts: ParseOptions = {}) {
  return parseAgentConfig(raw, { hostname: 'host1', ...opts });
}

// Every message a bad config produces.
function problems(t: ExecutionContext, raw: unknown, opts: ParseOptions = {}): string[] {
  const err = t.throws(() => parse(raw, opts), { instanceOf: ConfigError });
  return err instanceof ConfigErrors ? err.errors.map((e) => e.message) : [err!.message];
}

function rejects(t: ExecutionContext, raw: unknown, ...expected: string[]): void {
  t.deepEqual(problems(t, raw), expected);
}

test('an empty document gives every default', (t) => {
  for (const raw of [undefined, null, {}]) {
    const c = parse(raw);
    t.deepEqual(c.etcd, { endpoints: ['http://127.0.0.1:2379'], requestTimeoutMs: 2000, dialTimeoutMs: 2000 });
    t.is(c.prefix, '/beacon');
    t.is(c.node.name, 'host1');
    t.is(c.node.ttl, 10);
    t.is(c.node.keepaliveIntervalMs, 3333);
    t.is(c.node.keepaliveTimeoutMs, 700);
    t.deepEqual(c.node.labels, {});
    t.deepEqual(c.node.address.order, ['config', 'interface', 'cidr', 'env-file', 'etcd-route', 'default-route']);
    t.deepEqual(
      c.node.address.envFiles.map(({ path, key }) => ({ path, key })),
      DEFAULT_ENV_FILES.map(({ path, key }) => ({ path, key })),
    );
    t.deepEqual(c.services, []);
    t.deepEqual(c.log, { level: 'info' });
  }
});

test('the config is deeply frozen', (t) => {
  const c = parse({ node: { ...node, labels: { a: 'b' } }, services: [{ name: 'web', port: 80, tags: ['x'], checks: [{ http: 'http://127.0.0.1/' }] }] });
  t.true(Object.isFrozen(c));
  t.true(Object.isFrozen(c.etcd.endpoints));
  t.true(Object.isFrozen(c.node.labels));
  t.true(Object.isFrozen(c.services[0].tags));
  t.true(Object.isFrozen(c.services[0].checks[0]));
  t.throws(() => {
    (c.node as { ttl: number }).ttl = 1;
  }, { instanceOf: TypeError });
});

test('unknown top-level fields are rejected', (t) => {
  rejects(t, { node, servics: [] }, 'servics: unknown field (did you mean "services"?) (got [])');
  rejects(t, { node, watchr: {} }, 'watchr: unknown field (did you mean "watcher"?) (got {})');
});

test('a document that is not a mapping is one ConfigError', (t) => {
  rejects(t, [1], 'config: must be a mapping (got [1])');
  rejects(t, 'node: x', 'config: must be a mapping (got "node: x")');
});

// ---- etcd ----

test('etcd endpoints: a list or a comma-separated string of http(s) URLs', (t) => {
  t.deepEqual(parse({ node, etcd: { endpoints: ['http://a:2379', 'http://b:2379/'] } }).etcd.endpoints, ['http://a:2379', 'http://b:2379']);
  t.deepEqual(parse({ node, etcd: { endpoints: 'https://a:2379, https://[fd00::1]:2379' } }).etcd.endpoints, [
    'https://a:2379',
    'https://[fd00::1]:2379',
  ]);
  // etcdctl's form without a scheme means http://, in a list and in a comma-separated string.
  t.deepEqual(parse({ node, etcd: { endpoints: ['127.0.0.1:2379', 'etcd-1.example:2379/', '[::1]:2379'] } }).etcd.endpoints, [
    'http://127.0.0.1:2379',
    'http://etcd-1.example:2379',
    'http://[::1]:2379',
  ]);
  t.deepEqual(parse({ node, etcd: { endpoints: '10.0.0.1:2379,10.0.0.2:2379' } }).etcd.endpoints, ['http://10.0.0.1:2379', 'http://10.0.0.2:2379']);
  rejects(t, { node, etcd: { endpoints: ['127.0.0.1:2379', 'https://b:2379'] } }, 'etcd.endpoints: must all use the same scheme (got ["127.0.0.1:2379","https://b:2379"])');
  rejects(t, { node, etcd: { endpoints: ['127.0.0.1'] } }, 'etcd.endpoints[0]: must be an http:// or https:// URL with a host and port, e.g. http://10.0.0.1:2379 (got "127.0.0.1")');
  rejects(t, { node, etcd: { endpoints: ['http://a'] } }, 'etcd.endpoints[0]: must be an http:// or https:// URL with a host and port, e.g. http://10.0.0.1:2379 (got "http://a")');
  rejects(t, { node, etcd: { endpoints: 'grpc://a:1' } }, 'etcd.endpoints: must be an http:// or https:// URL with a host and port, e.g. http://10.0.0.1:2379 (got "grpc://a:1")');
  rejects(t, { node, etcd: { endpoints: ['http://a:70000'] } }, 'etcd.endpoints[0]: must be an http:// or https:// URL with a host and port, e.g. http://10.0.0.1:2379 (got "http://a:70000")');
  rejects(t, { node, etcd: { endpoints: [] } }, 'etcd.endpoints: must name at least one endpoint (got [])');
  rejects(t, { node, etcd: { endpoints: 5 } }, 'etcd.endpoints: must be a list of URLs or a comma-separated string (got 5)');
  rejects(t, { node, etcd: { endpoints: ['http://a:1', 'https://b:1'] } }, 'etcd.endpoints: must all use the same scheme (got ["http://a:1","https://b:1"])');
});

test('etcd TLS files: cert and key together, relative paths next to the file', (t) => {
  const c = parse({ node, etcd: { caFile: 'ca.pem', certFile: '/tls/c.pem', keyFile: 'k.pem' } }, { baseDir: '/etc/beacon' });
  t.like(c.etcd, { caFile: '/etc/beacon/ca.pem', certFile: '/tls/c.pem', keyFile: '/etc/beacon/k.pem' });
  rejects(t, { node, etcd: { certFile: '/c.pem' } }, 'etcd.certFile: needs etcd.keyFile too: a client certificate and its key come together (got "/c.pem")');
  rejects(t, { node, etcd: { keyFile: '/k.pem' } }, 'etcd.keyFile: needs etcd.certFile too: a client certificate and its key come together (got "/k.pem")');
  rejects(t, { node, etcd: { caFile: '' } }, 'etcd.caFile: must not be empty (got "")');
});

test('etcd user and password: both or neither, password never shown', (t) => {
  t.like(parse({ node, etcd: { username: 'u', password: 'p' } }).etcd, { username: 'u', password: 'p' });
  rejects(t, { node, etcd: { password: 'hunter2' } }, 'etcd.password: needs etcd.username too: etcd authentication takes both (got "***")');
  rejects(t, { node, etcd: { username: 'u' } }, 'etcd.username: needs etcd.password too: etcd authentication takes both (got "u")');
  rejects(t, { node, etcd: { username: 'u', password: 4242 } }, 'etcd.password: must be a string (got "***")');
  const err = t.throws(() => parse({ node, etcd: { username: 'u', password: 'hunter2', pasword: 'hunter2', pwassord: 'hunter2', x: { password: 'hunter2' } } }));
  t.false(err!.message.includes('hunter2'), err!.message);
  t.is(redactConfig(parse({ node, etcd: { username: 'u', password: 'p' } })).etcd.password, '***');
});

test('etcd timeouts are durations with 2 s defaults', (t) => {
  t.like(parse({ node, etcd: { requestTimeout: '500ms', dialTimeout: 5 } }).etcd, { requestTimeoutMs: 500, dialTimeoutMs: 5000 });
  rejects(t, { node, etcd: { requestTimeout: 0 } }, 'etcd.requestTimeout: must be from 1ms to 5m (got 0)');
  rejects(t, { node, etcd: { dialTimeout: 'soon' } }, 'etcd.dialTimeout: must be a duration such as "10s", "500ms", "1m30s" or a number of seconds (got "soon")');
});

// ---- prefix ----

test('prefix: default /beacon, normalised, unsafe ones refused', (t) => {
  t.is(parse({ node, prefix: 'apps/beacon/' }).prefix, '/apps/beacon');
  t.is(parse({ node, prefix: '/' }).prefix, '');
  rejects(t, { node, prefix: '/a b' }, 'prefix: must not contain spaces or control characters (got "/a b")');
  rejects(t, { node, prefix: '/a/../b' }, 'prefix: must not contain empty, "." or ".." segments (got "/a/../b")');
  rejects(t, { node, prefix: '/a//b' }, 'prefix: must not contain empty, "." or ".." segments (got "/a//b")');
  rejects(t, { node, prefix: 7 }, 'prefix: must be a string (got 7)');
});

// ---- node ----

test('node name: from the file, else the hostname, validated either way', (t) => {
  t.is(parse({ node: { name: 'web-1.example.com' } }).node.name, 'web-1.example.com');
  t.is(parse({}, { hostname: 'h2' }).node.name, 'h2');
  rejects(t, { node: { name: 'a/b' } }, 'node.name: must be letters, digits, ".", "_" or "-", start and end with a letter or digit, no ".." (got "a/b")');
  rejects(t, { node: { name: '' } }, 'node.name: must not be empty (got "")');
  t.deepEqual(problems(t, {}, { hostname: 'bad host' }), [
    'node.name: must be letters, digits, ".", "_" or "-", start and end with a letter or digit, no ".." (defaulted from the hostname: set node.name) (got "bad host")',
  ]);
  t.throws(() => parseAgentConfig({}), { instanceOf: ConfigError, message: 'node.name: is required (no hostname to default to)' });
});

test('node ttl: whole seconds, at least etcd minimum of 2 s', (t) => {
  t.is(parse({ node: { ...node, ttl: '1m' } }).node.ttl, 60);
  t.is(parse({ node: { ...node, ttl: 2 } }).node.ttl, 2);
  t.is(parse({ node: { ...node, ttl: '2s' } }).node.ttl, 2);
  rejects(t, { node: { ...node, ttl: '1s' } }, 'node.ttl: must be from 2s to 24h (etcd\'s minimum lease TTL is 2 s) (got "1s")');
  rejects(t, { node: { ...node, ttl: 1 } }, "node.ttl: must be from 2s to 24h (etcd's minimum lease TTL is 2 s) (got 1)");
  rejects(t, { node: { ...node, ttl: '2500ms' } }, 'node.ttl: must be a whole number of seconds (got "2500ms")');
  rejects(t, { node: { ...node, ttl: true } }, 'node.ttl: must be a duration such as "10s", "500ms", "1m30s" or a number of seconds (got true)');
});

test('keepalive defaults follow the ttl', (t) => {
  t.like(parse({ node: { ...node, ttl: 2 } }).node, { keepaliveIntervalMs: 666, keepaliveTimeoutMs: 333 });
  t.like(parse({ node: { ...node, ttl: 30 } }).node, { keepaliveIntervalMs: 10_000, keepaliveTimeoutMs: 700 });
  t.like(parse({ node: { ...node, keepaliveInterval: '1s' } }).node, { keepaliveIntervalMs: 1000, keepaliveTimeoutMs: 500 });
  t.like(parse({ node: { ...node, ttl: 3, keepaliveInterval: '1s', keepaliveTimeout: '999ms' } }).node, {
    keepaliveIntervalMs: 1000,
    keepaliveTimeoutMs: 999,
  });
});

test('keepalive settings that cannot fit the ttl name both fields', (t) => {
  rejects(
    t,
    { node: { ...node, ttl: '3s', keepaliveInterval: '2s' } },
    'node.keepaliveInterval: must be at most a third of node.ttl: ttl=3s keepaliveInterval=2s (got "2s")',
  );
  rejects(
    t,
    { node: { ...node, keepaliveInterval: '4s' } },
    'node.keepaliveInterval: must be at most a third of node.ttl: ttl=10s keepaliveInterval=4s (got "4s")',
  );
  rejects(
    t,
    { node: { ...node, keepaliveInterval: 1, keepaliveTimeout: 1 } },
    'node.keepaliveTimeout: must be less than node.keepaliveInterval: keepaliveInterval=1s keepaliveTimeout=1s (got 1)',
  );
  rejects(
    t,
    { node: { ...node, keepaliveTimeout: '5s' } },
    'node.keepaliveTimeout: must be less than node.keepaliveInterval: keepaliveInterval=3s333ms keepaliveTimeout=5s (got "5s")',
  );
  rejects(t, { node: { ...node, keepaliveInterval: '10ms' } }, 'node.keepaliveInterval: must be from 100ms to 8h (got "10ms")');
  // A bad ttl is reported once, not again through the keepalive rule.
  rejects(t, { node: { ...node, ttl: '1s', keepaliveInterval: '5s' } }, 'node.ttl: must be from 2s to 24h (etcd\'s minimum lease TTL is 2 s) (got "1s")');
});

test('node labels: string to string', (t) => {
  t.deepEqual(parse({ node: { ...node, labels: { zone: 'a', 'example.com/rack': '3', empty: '' } } }).node.labels, {
    zone: 'a',
    'example.com/rack': '3',
    empty: '',
  });
  rejects(t, { node: { ...node, labels: { rack: 3 } } }, 'node.labels.rack: must be a string (got 3)');
  rejects(t, { node: { ...node, labels: { 'bad key': 'x' } } }, 'node.labels["bad key"]: key must be 1-128 letters, digits, ".", "_", "-" or "/", starting and ending with a letter or digit (got "bad key")');
  rejects(t, { node: { ...node, labels: { a: 'x\ny' } } }, 'node.labels.a: must not contain control characters (got "x\\ny")');
  rejects(t, { node: { ...node, labels: ['a=b'] } }, 'node.labels: must be a mapping of strings to strings (got ["a=b"])');
});

test('node address: explicit, interface, CIDR, env files and order', (t) => {
  const a = parse({
    node: {
      ...node,
      address: {
        address: '10.0.0.5',
        interface: 'eth0',
        cidr: '10.0.0.0/16',
        envFiles: [{ path: '/run/metadata/afterburn', key: 'AFTERBURN_*_IPV4_LOCAL' }],
        order: ['config', 'env-file', 'interface', 'cidr'],
      },
    },
  }).node.address;
  t.like(a, { address: '10.0.0.5', interface: 'eth0', cidr: '10.0.0.0/16', order: ['config', 'env-file', 'interface', 'cidr'] });
  t.is(a.envFiles.length, 1);
  t.true(a.envFiles[0].pattern.test('AFTERBURN_AWS_IPV4_LOCAL'));
  t.true(a.envFiles[0].pattern.test('AFTERBURN_IBM_CLASSIC_IPV4_LOCAL'));
  t.false(a.envFiles[0].pattern.test('AFTERBURN_AWS_IPV4_PUBLIC'));
  t.false(a.envFiles[0].pattern.test('XAFTERBURN_AWS_IPV4_LOCAL'));
  t.deepEqual(parse({ node: { ...node, address: { envFiles: [] } } }).node.address.envFiles, []);
});

test('the default env files find the private address of the common clouds', (t) => {
  const files = parse({ node }).node.address.envFiles;
  const match = (path: string, name: string) => files.some((f) => f.path === path && f.pattern.test(name));
  for (const name of ['AFTERBURN_AWS_IPV4_LOCAL', 'AFTERBURN_AZURE_IPV4_DYNAMIC', 'AFTERBURN_GCP_IP_LOCAL_0', 'AFTERBURN_DIGITALOCEAN_IPV4_PRIVATE_0', 'AFTERBURN_PACKET_IPV4_PRIVATE_0', 'AFTERBURN_OPENSTACK_IPV4_LOCAL', 'AFTERBURN_CUSTOM_PRIVATE_IPV4']) {
    t.true(match('/run/metadata/afterburn', name), name);
  }
  for (const name of ['AFTERBURN_AWS_IPV4_PUBLIC', 'AFTERBURN_GCP_IP_EXTERNAL_0', 'AFTERBURN_PACKET_IPV4_PRIVATE_GATEWAY_0', 'AFTERBURN_AWS_HOSTNAME']) {
    t.false(match('/run/metadata/afterburn', name), name);
  }
  t.true(match('/run/metadata/flatcar', 'COREOS_EC2_IPV4_LOCAL'));
  t.true(match('/etc/environment', 'COREOS_PRIVATE_IPV4'));
});

test('node address problems', (t) => {
  const at = (address: unknown) => ({ node: { ...node, address } });
  rejects(t, at({ address: '10.0.0' }), 'node.address.address: must be an IPv4 or IPv6 address (got "10.0.0")');
  rejects(t, at({ address: '0.0.0.0' }), 'node.address.address: must be a specific address, not the unspecified address (got "0.0.0.0")');
  rejects(t, at({ cidr: '10.0.0.0/40' }), 'node.address.cidr: must be a CIDR such as 10.0.0.0/8 or fd00::/64 (got "10.0.0.0/40")');
  rejects(t, at({ interface: 'eth 0' }), 'node.address.interface: must be an interface name: 1-15 characters, no spaces, "/" or ":" (got "eth 0")');
  rejects(t, at({ order: ['config', 'dns'] }), 'node.address.order[1]: must be one of config, interface, cidr, env-file, etcd-route, default-route, loopback (got "dns")');
  rejects(t, at({ order: ['etcd-route', 'config', 'etcd-route'] }), 'node.address.order[2]: is listed twice (also node.address.order[0]) (got "etcd-route")');
  rejects(t, at({ order: [] }), 'node.address.order: must name at least one address source (got [])');
  rejects(t, at({ address: '10.0.0.1', order: ['etcd-route'] }), 'node.address.address: is set but "config" is not in node.address.order (got "10.0.0.1")');
  rejects(t, at({ cidr: '10.0.0.0/8', order: ['config'] }), 'node.address.cidr: is set but "cidr" is not in node.address.order (got "10.0.0.0/8")');
  rejects(t, at({ envFiles: [{ path: 'run/x', key: 'A' }] }), 'node.address.envFiles[0].path: must be an absolute path (got "run/x")');
  rejects(t, at({ envFiles: [{ path: '/x', key: 'A-B' }] }), 'node.address.envFiles[0].key: must be a variable name (letters, digits, "_"; "*" as a glob) (got "A-B")');
  rejects(t, at({ envFiles: [{ path: '/x' }] }), 'node.address.envFiles[0].key: is required');
  rejects(t, at({ envFiles: [{ path: '/x', key: 'A', keys: ['B'] }] }), 'node.address.envFiles[0].keys: unknown field (did you mean "key"?) (got ["B"])');
  rejects(t, at({ adress: '10.0.0.1' }), 'node.address.adress: unknown field (did you mean "address"?) (got "10.0.0.1")');
});

// ---- services ----

test('services get defaults and parsed checks', (t) => {
  const [web, dns] = parse({
    node,
    services: [
      { name: 'web', port: 8080, checks: [{ http: 'http://127.0.0.1:8080/health', interval: '5s' }] },
      { name: 'dns', port: 53, protocol: 'udp', address: 'fd00::5', tags: ['a', 'b'], meta: { version: '1.2' } },
    ],
  }).services;
  t.like(web, { name: 'web', port: 8080, protocol: 'tcp', tags: [], meta: {} });
  t.like(web.checks[0], { kind: 'http', id: 'web:http:0', url: 'http://127.0.0.1:8080/health', intervalMs: 5000, field: 'services[0].checks[0]' });
  t.deepEqual(dns, { name: 'dns', port: 53, protocol: 'udp', address: 'fd00::5', tags: ['a', 'b'], meta: { version: '1.2' }, checks: [] });
});

test('service problems name the item, the field and the value', (t) => {
  const svc = (s: object) => ({ node, services: [{ name: 'web', port: 80, ...s }] });
  rejects(t, svc({ port: 0 }), 'services[0].port: must be a whole number from 1 to 65535 (got 0)');
  rejects(t, svc({ port: 65536 }), 'services[0].port: must be a whole number from 1 to 65535 (got 65536)');
  rejects(t, svc({ port: 80.5 }), 'services[0].port: must be a whole number from 1 to 65535 (got 80.5)');
  rejects(t, svc({ port: '80' }), 'services[0].port: must be a whole number from 1 to 65535 (got "80")');
  rejects(t, svc({ protocol: 'sctp' }), 'services[0].protocol: must be one of tcp, udp (got "sctp")');
  rejects(t, svc({ address: 'localhost' }), 'services[0].address: must be an IPv4 or IPv6 address (got "localhost")');
  rejects(t, svc({ name: 'a b' }), 'services[0].name: must be letters, digits, ".", "_" or "-", start and end with a letter or digit, no ".." (got "a b")');
  rejects(t, svc({ tags: 'a,b' }), 'services[0].tags: must be a list (got "a,b")');
  rejects(t, svc({ tags: ['a', ''] }), 'services[0].tags[1]: must not be empty (got "")');
  rejects(t, svc({ meta: { v: 1 } }), 'services[0].meta.v: must be a string (got 1)');
  rejects(t, svc({ checks: {} }), 'services[0].checks: must be a list (got {})');
  rejects(t, svc({ prot: 'udp' }), 'services[0].prot: unknown field (did you mean "port"?) (got "udp")');
  rejects(t, { node, services: [{ port: 80 }] }, 'services[0].name: is required');
  rejects(t, { node, services: { web: { port: 80 } } }, 'services: must be a list (got {"web":{"port":80}})');
});

test('duplicate service names name both indices', (t) => {
  rejects(
    t,
    { node, services: [{ name: 'web', port: 80 }, { name: 'db', port: 5432 }, { name: 'web', port: 81 }] },
    'services[2].name: duplicate service name: services[0] and services[2] are both "web" (got "web")',
  );
});

// ---- log ----

test('log level: default info, validated, --log-level wins', (t) => {
  t.is(parse({ node, log: { level: 'debug' } }).log.level, 'debug');
  t.is(parse({ node, log: { level: 'debug' } }, { overrides: { logLevel: 'warn' } }).log.level, 'warn');
  rejects(t, { node, log: { level: 'verbose' } }, 'log.level: must be one of trace, debug, info, warn, error, fatal, silent (got "verbose")');
  t.deepEqual(problems(t, { node }, { overrides: { logLevel: 'loud' } }), ['--log-level: must be one of trace, debug, info, warn, error, fatal, silent (got "loud")']);
});

// ---- all together ----

test('every problem is reported at once, and formatConfigError lists them', (t) => {
  const raw = { node: { name: 'n1', ttl: '1s', extra: 1 }, services: [{ name: 'web', port: 0 }], log: 'debug' };
  const err = t.throws(() => parse(raw), { instanceOf: ConfigErrors });
  t.deepEqual(err!.errors.map((e) => e.field), ['node.ttl', 'node.extra', 'services[0].port', 'log']);
  t.is(
    formatConfigError(err, 'agent.yaml'),
    [
      'invalid config agent.yaml:',
      '  node.ttl: must be from 2s to 24h (etcd\'s minimum lease TTL is 2 s) (got "1s")',
      '  node.extra: unknown field (got 1)',
      '  services[0].port: must be a whole number from 1 to 65535 (got 0)',
      '  log: must be a mapping (got "debug")',
    ].join('\n'),
  );
  t.is(formatConfigError(new ConfigError('a', 1, 'bad')), 'invalid config:\n  a: bad (got 1)');
});

test('parseClientConfig reads etcd and prefix and ignores other sections', (t) => {
  const c = parseClientConfig({ etcd: { endpoints: 'http://e:2379' }, prefix: '/p', node: { ttl: 'x' }, watcher: {} });
  t.deepEqual(c, { etcd: { endpoints: ['http://e:2379'], requestTimeoutMs: 2000, dialTimeoutMs: 2000 }, prefix: '/p' });
  t.deepEqual(parseClientConfig(undefined, { overrides: { etcd: 'http://x:1', prefix: 'q' } }).prefix, '/q');
  t.throws(() => parseClientConfig({ etcd: { endpoint: 'x' } }), { instanceOf: ConfigError, message: /etcd.endpoint: unknown field/ });
});

// Garbage in, ConfigError out: never a TypeError from reading a property of the wrong thing.
test('random garbage never escapes as anything but ConfigError', (t) => {
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const keys = ['etcd', 'prefix', 'node', 'services', 'log', 'name', 'ttl', 'port', 'address', 'labels', 'endpoints', 'order', 'envFiles', 'checks', 'x'];
  const garbage = (depth: number): unknown => {
    const scalars = [0, -1, 1.5, 65536, '', 'x', '10s', 'http://a:1', true, false, null, undefined, NaN];
    const kind = depth > 3 ? 0 : rand(3);
    if (kind === 0) return scalars[rand(scalars.length)];
    if (kind === 1) return Array.from({ length: rand(4) }, () => garbage(depth + 1));
    return Object.fromEntries(Array.from({ length: rand(5) }, () => [keys[rand(keys.length)], garbage(depth + 1)]));
  };
  const inputs: unknown[] = [42, 'text', true, [], [[[]]], [{ node: 1 }], { node: [] }, { services: [[1]] }, { node: { address: 'x' } }];
  for (let i = 0; i < 300; i++) inputs.push({ [keys[rand(5)]]: garbage(1), [keys[rand(5)]]: garbage(1) });
  for (const raw of inputs) {
    try {
      parse(raw);
    } catch (err) {
      if (!(err instanceof ConfigError)) t.fail(`${JSON.stringify(raw)} threw ${String(err)}`);
    }
  }
  t.pass();
});

test('parsing leaves the caller\'s document unfrozen and unchanged', (t) => {
  const raw = { node: { name: 'n1' }, services: [{ name: 'web', port: 80, checks: [{ tcp: '127.0.0.1:80' }] }] };
  const before = JSON.stringify(raw);
  parse(raw);
  t.is(JSON.stringify(raw), before);
  t.false(Object.isFrozen(raw.services[0].checks));
  t.false(Object.isFrozen(raw.services[0].checks[0]));
});
