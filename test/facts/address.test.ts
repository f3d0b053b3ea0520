import { readFile } from 'node:fs/promises';
import os from 'node:os';
import test from 'ava';
import type { AddressSource } from '../../src/types.js';
import {
  hostAddresses,
  parseCidr,
  parseDefaultRoute,
  parseDefaultRoute6,
  selectAddress,
  sources,
  type AddressConfig,
  type EnvFileKey,
  type SourceContext,
} from '../../src/facts/address.js';
import { captureLog, fixture } from './support.js';

const DEFAULT_ORDER: AddressSource[] = ['config', 'interface', 'cidr', 'env-file', 'etcd-route', 'default-route'];
// Route tables that do not exist, so default-route has nothing unless a test says otherwise.
const NO_ROUTES = { route: fixture('route', 'absent'), ipv6Route: fixture('route', 'absent6') };

function cfg(over: Partial<AddressConfig> = {}): AddressConfig {
  return { envFiles: [], order: DEFAULT_ORDER, ...over };
}

// What the config loader produces for one env-file entry: `*` matches a run of [A-Za-z0-9_].
function envKey(path: string, key: string): EnvFileKey {
  const body = key.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[A-Za-z0-9_]*');
  return { path, key, pattern: new RegExp(`^${body}$`) };
}

function ctx(over: Partial<SourceContext> = {}): SourceContext {
  return { etcdEndpoints: [], routePaths: NO_ROUTES, ...over };
}

test('an explicit address wins over everything after it, and the winner is logged at info', async (t) => {
  const { log, lines } = captureLog();
  const r = await selectAddress(cfg({ address: '10.9.8.7', interface: 'lo', cidr: '127.0.0.0/8' }), {
    etcdEndpoints: ['http://127.0.0.1:2379'],
    log,
    routePaths: NO_ROUTES,
  });
  t.is(r.address, '10.9.8.7');
  t.is(r.source, 'config');
  const info = lines.filter((l) => l.level === 30);
  t.is(info.length, 1);
  t.like(info[0], { msg: 'address selected', component: 'address', source: 'config', address: '10.9.8.7' });
});

test('the configured order is respected: etcd-route before config', async (t) => {
  const { log } = captureLog();
  const r = await selectAddress(cfg({ address: '10.9.8.7', order: ['etcd-route', 'config'] }), {
    etcdEndpoints: ['http://127.0.0.1:2379'],
    log,
  });
  t.deepEqual([r.source, r.address], ['etcd-route', '127.0.0.1']);
});

test('interface lo gives 127.0.0.1', async (t) => {
  t.deepEqual(await sources.interface(cfg({ interface: 'lo' }), ctx()), { address: '127.0.0.1', via: 'lo' });
});

test('cidr 127.0.0.0/8 gives 127.0.0.1; a CIDR with no local address gives nothing', async (t) => {
  t.deepEqual(await sources.cidr(cfg({ cidr: '127.0.0.0/8' }), ctx()), { address: '127.0.0.1', via: 'lo' });
  t.deepEqual(await sources.cidr(cfg({ cidr: '::1/128' }), ctx()), { address: '::1', via: 'lo' });
  t.like(await sources.cidr(cfg({ cidr: '198.51.100.0/24' }), ctx()), { skip: 'no local address in 198.51.100.0/24' });
});

test('falls through sources that have nothing; a configured one that fails is a warning', async (t) => {
  const { log, lines } = captureLog();
  const r = await selectAddress(cfg({ interface: 'no-such-if0', cidr: '127.0.0.0/8' }), { etcdEndpoints: [], log });
  t.deepEqual([r.source, r.address], ['cidr', '127.0.0.1']);
  t.like(
    lines.find((l) => l.level === 40),
    { source: 'interface', reason: 'no interface named no-such-if0', msg: 'configured address source found nothing' },
  );
  t.like(lines.find((l) => l.level === 20 && l.source === 'config'), { reason: 'not set' });
});

test('env-file: first file that has the key as an IP wins; missing files and keys are skipped', async (t) => {
  const envFiles = [
    envKey(fixture('env', 'missing-file'), 'COREOS_PRIVATE_IPV4'),
    envKey(fixture('env', 'afterburn'), 'AFTERBURN_GCP_IP_LOCAL_0'),
    envKey(fixture('env', 'afterburn'), 'AFTERBURN_AWS_HOSTNAME'),
    envKey(fixture('env', 'environment'), 'COREOS_PRIVATE_IPV4'),
    envKey(fixture('env', 'afterburn'), 'AFTERBURN_AWS_IPV4_LOCAL'),
  ];
  const { log, lines } = captureLog();
  const r = await selectAddress(cfg({ envFiles, order: ['env-file'] }), { etcdEndpoints: [], log });
  t.deepEqual([r.source, r.address], ['env-file', '10.1.2.3']);
  t.like(lines.find((l) => l.msg === 'address selected'), { via: `${fixture('env', 'environment')}:COREOS_PRIVATE_IPV4` });

  const none = await sources['env-file'](cfg({ envFiles: envFiles.slice(0, 3) }), ctx());
  t.true('skip' in none);
  const reason = 'skip' in none ? none.skip : '';
  t.regex(reason, /missing-file: missing/);
  t.regex(reason, /no AFTERBURN_GCP_IP_LOCAL_0/);
  t.regex(reason, /AFTERBURN_AWS_HOSTNAME is not an IP address/);
});

test('env-file: a glob key takes the first matching variable, in file order, that holds an IP', async (t) => {
  const afterburn = fixture('env', 'afterburn');
  // HOSTNAME comes first in the file but is not an IP; IPV4_LOCAL comes before IPV4_PUBLIC.
  t.deepEqual(await sources['env-file'](cfg({ envFiles: [envKey(afterburn, 'AFTERBURN_AWS_*')] }), ctx()), {
    address: '10.0.0.5',
    via: `${afterburn}:AFTERBURN_AWS_IPV4_LOCAL`,
  });
  t.like(await sources['env-file'](cfg({ envFiles: [envKey(afterburn, 'AFTERBURN_*_IPV4_PUBLIC')] }), ctx()), {
    address: '203.0.113.7',
  });
  t.like(await sources['env-file'](cfg({ envFiles: [envKey(afterburn, 'AFTERBURN_GCP_*')] }), ctx()), {
    skip: `${afterburn}: no AFTERBURN_GCP_*`,
  });
});

test('etcd-route: the kernel picks 127.0.0.1 to reach a local etcd, by IP or by name', async (t) => {
  t.deepEqual(await sources['etcd-route'](cfg(), ctx({ etcdEndpoints: ['http://127.0.0.1:2379', 'http://10.0.0.1:2379'] })), {
    address: '127.0.0.1',
    via: '127.0.0.1:2379',
  });
  t.like(await sources['etcd-route'](cfg(), ctx({ etcdEndpoints: ['127.0.0.1:2379'] })), { address: '127.0.0.1' });
  const byName = await sources['etcd-route'](cfg(), ctx({ etcdEndpoints: ['https://localhost:2379'] }));
  t.true('address' in byName && ['127.0.0.1', '::1'].includes(byName.address), JSON.stringify(byName));
  t.like(await sources['etcd-route'](cfg(), ctx()), { skip: 'no etcd endpoint' });
  const bad = await sources['etcd-route'](cfg(), ctx({ etcdEndpoints: ['http://no-such-host.invalid:2379'] }));
  t.true('skip' in bad, JSON.stringify(bad));
});

test('etcd-route: a connect the kernel refuses gives nothing, not the wildcard address', async (t) => {
  // Linux refuses to connect a UDP socket to the broadcast address without SO_BROADCAST (EACCES).
  t.like(await sources['etcd-route'](cfg(), ctx({ etcdEndpoints: ['http://255.255.255.255:2379'] })), {
    skip: 'no route to 255.255.255.255: connect EACCES 255.255.255.255:2379',
  });
});

test('default-route: parses a copy of /proc/net/route and /proc/net/ipv6_route', async (t) => {
  t.is(parseDefaultRoute(await readFile(fixture('route', 'proc-net-route'), 'utf8')), 'eth0');
  // Down routes are ignored and the lowest metric wins.
  t.is(parseDefaultRoute(await readFile(fixture('route', 'default-via-lo'), 'utf8')), 'lo');
  const v6 = await readFile(fixture('route', 'proc-net-ipv6_route'), 'utf8');
  t.is(parseDefaultRoute6(v6), 'eth0');
  // Without eth0's default only lo's unreachable ::/0 is left, which is no way out.
  const rejectOnly = v6
    .split('\n')
    .filter((l) => !(l.startsWith('0'.repeat(32) + ' 00') && l.trim().endsWith('eth0')))
    .join('\n');
  t.is(parseDefaultRoute6(rejectOnly), undefined);
  t.is(parseDefaultRoute(''), undefined);
  t.is(parseDefaultRoute('Iface\tDestination\nlo\t00000000\n'), undefined);
});

test('default-route: takes the address of the default route interface', async (t) => {
  const { log } = captureLog();
  const r = await selectAddress(cfg({ order: ['default-route'] }), {
    etcdEndpoints: [],
    log,
    routePaths: { route: fixture('route', 'default-via-lo'), ipv6Route: fixture('route', 'absent') },
  });
  t.deepEqual([r.source, r.address], ['default-route', '127.0.0.1']);
  t.like(await sources['default-route'](cfg(), ctx()), { skip: 'no default route' });
});

test('nothing found: loopback with a warning that lists what was tried', async (t) => {
  const { log, lines } = captureLog();
  const r = await selectAddress(cfg({ order: ['config', 'cidr', 'env-file', 'etcd-route', 'default-route'] }), {
    etcdEndpoints: [],
    log,
    routePaths: NO_ROUTES,
  });
  t.deepEqual([r.source, r.address], ['loopback', '127.0.0.1']);
  const warn = lines.find((l) => l.level === 40);
  t.like(warn, { source: 'loopback', address: '127.0.0.1' });
  t.deepEqual(
    (warn?.tried as { source: string }[]).map((x) => x.source),
    ['config', 'cidr', 'env-file', 'etcd-route', 'default-route'],
  );
});

test('a source that throws is skipped, not fatal', async (t) => {
  const { log, lines } = captureLog();
  // A directory where the route table should be: reading it fails with EISDIR.
  const r = await selectAddress(cfg({ order: ['default-route', 'interface'], interface: 'lo' }), {
    etcdEndpoints: [],
    log,
    routePaths: { route: fixture('route') },
  });
  t.deepEqual([r.source, r.address], ['interface', '127.0.0.1']);
  t.regex(String(lines.find((l) => l.source === 'default-route')?.reason), /EISDIR/);
});

test('an aborted signal stops the selection with its reason', async (t) => {
  const { log } = captureLog();
  const ac = new AbortController();
  ac.abort(new Error('shutting down'));
  await t.throwsAsync(selectAddress(cfg({ address: '10.0.0.1' }), { etcdEndpoints: [], log, signal: ac.signal }), {
    message: 'shutting down',
  });
});

test('addresses lists every non-internal address of the host and nothing else', async (t) => {
  const { log } = captureLog();
  const r = await selectAddress(cfg({ interface: 'lo' }), { etcdEndpoints: [], log });
  t.deepEqual(r.addresses, hostAddresses());
  const expected = Object.values(os.networkInterfaces())
    .flat()
    .filter((i) => i && !i.internal && !/^fe[89ab]/i.test(i.address))
    .map((i) => i!.address);
  t.deepEqual(new Set(r.addresses), new Set(expected));
  t.false(r.addresses.some((a) => a.startsWith('127.') || a === '::1'));
});

test('parseCidr accepts both families, keeps them apart and refuses nonsense', (t) => {
  const v4 = parseCidr('10.1.2.3/8');
  t.is(v4?.family, 4);
  t.true(v4!.contains('10.200.0.1'));
  t.false(v4!.contains('11.0.0.1'));
  t.false(v4!.contains('::ffff:10.0.0.1'));
  const v6 = parseCidr('fd00::/64');
  t.is(v6?.family, 6);
  t.true(v6!.contains('fd00::2'));
  t.false(v6!.contains('fd01::2'));
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '::/129', 'eth0/24', '10.0.0.0/-1', '', '10.0.0.0/8/8']) {
    t.is(parseCidr(bad), null, bad);
  }
});
