// SkyDNS records end to end: a real agent writes its passing endpoints where the CoreDNS `etcd` plugin
// reads them, in the plugin's JSON schema, under the node's lease: deleted when the endpoint goes
// critical, back when it passes, restored after a hand-made delete, gone when the lease expires.
// The `dns` config errors name the field and the value.
import test from 'ava';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beacon, writeConfig } from '../helpers/process.js';
import { codeBlocks, readDoc } from '../docs/markdown.js';
import { parseAgentConfig } from '../../src/config/load.js';
import { SkyDnsKeys } from '../../src/etcd/keys.js';
import { getJson, httpServer, keyLease, keysUnder, type FlipServer } from './health-support.js';

const PREFIX = '/t-dns';
let etcd: EtcdCluster;
let web: FlipServer;

test.before(async () => {
  etcd = await EtcdCluster.start();
  web = await httpServer(200);
});
test.after.always(async () => {
  await web?.close();
  await etcd?.destroy();
});

/**
 * The fields of CoreDNS's `msg.Service` (plugin/etcd/msg/service.go) with the JSON type Go decodes
 * them from: a record holding anything else, or a field of another type, is not one CoreDNS serves.
 */
const COREDNS_SERVICE_FIELDS: Record<string, 'string' | 'int' | 'bool'> = {
  host: 'string',
  port: 'int',
  priority: 'int',
  weight: 'int',
  text: 'string',
  mail: 'bool',
  ttl: 'int',
  targetstrip: 'int',
  group: 'string',
};

function schemaProblems(rec: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    const type = COREDNS_SERVICE_FIELDS[k];
    if (!type) out.push(`${k} is not a msg.Service field`);
    else if (type === 'int' ? !Number.isInteger(v) : typeof v !== type) out.push(`${k} must be ${type}, got ${JSON.stringify(v)}`);
  }
  return out;
}

// CoreDNS's msg.Path: `name.sub.example.` → `/skydns/example/sub/name`.
function corednsPath(name: string, path = '/skydns'): string {
  return `${path}/${name.replace(/\.$/, '').split('.').reverse().join('/')}`;
}

function agentConfig(node: string, dns: string[], services: string[], ttl = '3s'): string {
  return [
    'etcd:',
    `  endpoints: [${etcd.endpoints}]`,
    `prefix: ${PREFIX}`,
    `node: { name: ${node}, ttl: ${ttl}, address: { address: 127.0.0.1 } }`,
    'api: { enabled: false }',
    ...dns,
    'services:',
    ...services,
    '',
  ].join('\n');
}

function start(t: { teardown(fn: () => unknown): void }, yaml: string): BeaconProcess {
  const p = new BeaconProcess(['agent', '--config', writeConfig(yaml)]);
  t.teardown(() => p.stop('SIGKILL'));
  return p;
}

// A service whose name is not lowercase: its label is.
function webService(): string[] {
  return ['  - name: Web', '    port: 8080', '    checks:', `      - http: http://127.0.0.1:${web.port}/healthz`, '        interval: 1s', '        timeout: 500ms'];
}

test.serial('records: the plugin\'s key path and JSON schema, bound to the lease, follow health, survive a hand-made delete, expire with the lease', async (t) => {
  web.status = 200;
  const services = [
    '  - name: web',
    '    port: 8080',
    '    checks:',
    `      - http: http://127.0.0.1:${web.port}/healthz`,
    '        interval: 1s',
    '        timeout: 500ms',
    '  - name: db',
    '    port: 5432',
    '    address: 10.1.2.3',
  ];
  const agent = start(t, agentConfig('Node-A', ['dns: { domain: svc.beacon.example, prefix: /skydns, ttl: 15 }'], services));
  await agent.waitLine((l) => l.msg === 'registered', 20_000);

  // The key CoreDNS builds for a query of <instance>.<service>.svc.beacon.example (node name lowercased).
  const webKey = corednsPath('node-a.web.svc.beacon.example');
  const dbKey = corednsPath('node-a.db.svc.beacon.example');
  t.is(webKey, '/skydns/example/beacon/svc/web/node-a');
  t.is(new SkyDnsKeys('/skydns', 'svc.beacon.example').record('web', 'node-a'), webKey, 'keys.ts builds the plugin\'s path');
  await waitFor(() => keysUnder(etcd, '/skydns/').length === 2, { timeoutMs: 15_000, what: 'two DNS records' });
  t.deepEqual(keysUnder(etcd, '/skydns/').sort(), [dbKey, webKey].sort());
  // Exact bytes: field order fixed, so re-rendering an unchanged endpoint never writes.
  t.is(etcd.etcdctl(['get', webKey, '--print-value-only']).trim(), '{"host":"127.0.0.1","port":8080,"ttl":15}');
  const db = getJson(etcd, dbKey)!;
  t.deepEqual(db, { host: '10.1.2.3', port: 5432, ttl: 15 });
  t.deepEqual(schemaProblems(db), []);
  t.deepEqual(schemaProblems(getJson(etcd, webKey)!), []);

  // Same lease as the node's live record: they vanish together.
  const live = getJson(etcd, `${PREFIX}/v1/nodes/Node-A/live`)!;
  t.is(keyLease(etcd, webKey), live.lease as string);
  t.is(keyLease(etcd, dbKey), live.lease as string);

  // Critical → the record is deleted (the endpoint record stays, marked critical); passing → back.
  web.status = 500;
  await waitFor(() => keysUnder(etcd, webKey).length === 0, { timeoutMs: 15_000, what: 'web record deleted while critical' });
  t.is(getJson(etcd, `${PREFIX}/v1/services/web/Node-A`)?.health, 'critical');
  t.truthy(getJson(etcd, dbKey), 'the other service\'s record stays');
  web.status = 200;
  await waitFor(() => getJson(etcd, webKey)?.host === '127.0.0.1', { timeoutMs: 15_000, what: 'web record back when passing' });
  t.is(keyLease(etcd, webKey), live.lease as string);

  // A hand-made delete is repaired (the registration watches its own keys, also outside the prefix).
  etcd.etcdctl(['del', dbKey]);
  await waitFor(() => getJson(etcd, dbKey)?.host === '10.1.2.3', { timeoutMs: 15_000, what: 'db record restored' });
  t.is(keyLease(etcd, dbKey), live.lease as string);

  // SIGKILL: nothing removes the records but the lease's expiry.
  await agent.stop('SIGKILL');
  t.is(keysUnder(etcd, '/skydns/').length, 2, 'still there right after the kill');
  await waitFor(() => keysUnder(etcd, '/skydns/').length === 0, { timeoutMs: 15_000, what: 'records expired with the lease' });
  t.deepEqual(keysUnder(etcd, `${PREFIX}/v1/services/`), []);
});

test.serial('off by default; `beacon validate` names the dns field and value of each problem', (t) => {
  const base = { node: { name: 'n1' }, services: [{ name: 'web', port: 80 }] };
  t.is(parseAgentConfig(base).dns, null, 'no section: no records');
  t.is(parseAgentConfig({ ...base, dns: { enabled: false } }).dns, null);
  t.deepEqual(parseAgentConfig({ ...base, dns: {} }).dns, { domain: 'beacon.local', prefix: '/skydns', ttl: 30 });
  t.deepEqual(parseAgentConfig({ ...base, dns: { domain: 'Svc.Example.', prefix: 'dns/', ttl: 5, instance: 'a1' } }).dns, {
    domain: 'svc.example',
    prefix: '/dns',
    ttl: 5,
    instance: 'a1',
  });
  const cases: [string, string][] = [
    ['dns: { domain: "beacon..local" }', 'dns.domain: label "" must be a DNS label'],
    ['dns: { domain: "be_acon.local" }', 'dns.domain: label "be_acon" must be a DNS label: lowercase letters, digits and "-", starting and ending with a letter or digit (got "be_acon.local")'],
    ['dns: { prefix: "/" }', 'dns.prefix: must name a path such as /skydns'],
    ['dns: { ttl: 0 }', 'dns.ttl: must be a whole number from 1 to 86400 (got 0)'],
    ['dns: { instance: "A.b" }', 'dns.instance: must be a DNS label'],
    ['dns: { tll: 5 }', 'dns.tll: unknown field (did you mean "ttl"?)'],
  ];
  for (const [section, message] of cases) {
    const r = beacon(['validate', writeConfig(`node: { name: n1 }\n${section}\nservices: [{ name: web, port: 80 }]\n`)]);
    t.is(r.code, 2, section);
    t.true(r.stderr.includes(message), `${section}\n${r.stderr}`);
  }
  // Names that cannot be DNS labels are errors only when dns is on, naming the field to change.
  const names = 'node: { name: node_1 }\nservices: [{ name: web_api, port: 80 }, { name: db, port: 5432 }, { name: DB, port: 5433 }]\n';
  t.is(beacon(['validate', writeConfig(names)]).code, 0);
  const r = beacon(['validate', writeConfig(`${names}dns: {}\n`)]);
  t.is(r.code, 2);
  t.true(r.stderr.includes('node.name: must be a DNS label'), r.stderr);
  t.true(r.stderr.includes('or set dns.instance (got "node_1")'), r.stderr);
  t.true(r.stderr.includes('services[0].name: must be a DNS label'), r.stderr);
  t.true(r.stderr.includes('services[2].name: same DNS label as services[1].name when dns is enabled: "db" (got "DB")'), r.stderr);
  t.is(beacon(['validate', writeConfig(`${names}dns: { instance: n1 }\n`)]).code, 2, 'services still checked');
});

test.serial('docs/consumers.md: the etcdctl command of the DNS section prints the records as shown', async (t) => {
  const doc = readDoc('docs/consumers.md');
  const dns = doc.slice(doc.indexOf('## DNS'));
  const sample = codeBlocks(dns, 'console')[0];
  if (!sample) return t.fail('docs/consumers.md has no console sample in its DNS section');
  const [command, ...shown] = sample.body.split('\n');
  t.regex(command!, /^\$ etcdctl /);
  web.status = 200;
  const agent = start(t, agentConfig('node1', ['dns: { domain: beacon.local }'], webService()));
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  await waitFor(() => keysUnder(etcd, '/skydns/local/beacon/web/').length === 1, { timeoutMs: 15_000, what: 'web record' });
  const args = command!.slice('$ etcdctl '.length).split(/\s+/);
  const out = etcd.etcdctl(args).trim().split('\n');
  t.deepEqual(out, shown.map((l) => l.replace('10.0.0.7', '127.0.0.1')));
  // The Corefile snippet reads the same path.
  const corefile = codeBlocks(dns, 'corefile')[0]?.body ?? '';
  t.regex(corefile, /etcd beacon\.local/);
  t.regex(corefile, /path \/skydns/);
  t.regex(corefile, /endpoint http/);
});
