// The generator's output shape, pinned: decimal modes, the sha512- hash of the decompressed file with
// gzip, spec versions, flavour paths, drop-ins, TLS handling, and merging into an operator's config.
import test from 'ava';
import { ConfigError } from '../../src/errors.js';
import { decodeDataUrl, generateIgnition, tlsDropInFor, type IgnitionOptions } from '../../src/ignition/generate.js';
import type { IgnitionConfig } from '../../src/ignition/types.js';
import { loadUnitFiles } from '../../src/ignition/unit-files.js';

const units = loadUnitFiles();
const SHA = 'ab'.repeat(64);
const CONFIG = 'etcd:\n  endpoints: [http://10.0.0.2:2379]\nservices:\n  - name: web\n    port: 8080\n';
const PEM = (what: string) => `-----BEGIN ${what}-----\nAAAA\n-----END ${what}-----\n`;
const base: IgnitionOptions = { agentConfig: CONFIG, artifact: { url: 'https://example.com/beacon.gz', sha512: SHA }, units };

const file = (c: IgnitionConfig, path: string) => c.storage?.files?.find((f) => f.path === path);
const unit = (c: IgnitionConfig, name: string) => c.systemd?.units?.find((u) => u.name === name);

test('minimal form: spec 3.3.0, gzip artifact verified by sha512, config 0600, agent enabled', (t) => {
  const c = generateIgnition(base);
  t.is(c.ignition.version, '3.3.0');
  t.deepEqual(file(c, '/usr/local/bin/beacon'), {
    path: '/usr/local/bin/beacon',
    mode: 493,
    overwrite: true,
    contents: { source: 'https://example.com/beacon.gz', compression: 'gzip', verification: { hash: `sha512-${SHA}` } },
  });
  const cfg = file(c, '/etc/beacon/agent.yaml')!;
  t.is(cfg.mode, 384);
  t.is(decodeDataUrl(cfg.contents!.source!), CONFIG);
  t.deepEqual(c.systemd?.units?.map((u) => [u.name, u.enabled]), [['beacon-agent.service', true]]);
  t.is(unit(c, 'beacon-agent.service')!.contents, units.agent);
  t.deepEqual(unit(c, 'beacon-agent.service')!.dropins, [{ name: '10-metadata.conf', contents: units.metadataDropIns.fcos }]);
  t.is(c.storage?.files?.length, 2);
  t.deepEqual(c.passwd, { users: [{ name: 'beacon', system: true, noCreateHome: true, homeDir: '/', shell: '/sbin/nologin', gecos: 'beacon node agent' }] });
  // Modes are JSON numbers in decimal: no string, no octal.
  t.regex(JSON.stringify(c), /"mode":384/);
  t.notRegex(JSON.stringify(c), /"mode":"/);
});

test('spec 3.4.0 on request; anything else refused', (t) => {
  t.is(generateIgnition({ ...base, spec: '3.4.0' }).ignition.version, '3.4.0');
  const err = t.throws(() => generateIgnition({ ...base, spec: '3.5.0' as never }), { instanceOf: ConfigError });
  t.is(err.field, '--spec');
});

test('flatcar: binary under /opt/bin, ExecStart follows, coreos-metadata drop-in', (t) => {
  const c = generateIgnition({ ...base, flavor: 'flatcar', watcher: { config: CONFIG } });
  t.truthy(file(c, '/opt/bin/beacon'));
  t.falsy(file(c, '/usr/local/bin/beacon'));
  for (const name of ['beacon-agent.service', 'beacon-watcher.service']) {
    const text = unit(c, name)!.contents!;
    t.regex(text, /^ExecStart=\/opt\/bin\/beacon /m);
    t.notRegex(text, /\/usr\/local\/bin/);
  }
  t.deepEqual(unit(c, 'beacon-agent.service')!.dropins, [{ name: '10-metadata.conf', contents: units.metadataDropIns.flatcar }]);
  t.regex(units.metadataDropIns.flatcar, /coreos-metadata\.service/);
});

test('TLS: files 0600 under /etc/beacon/tls, a drop-in on each unit with only the files given', (t) => {
  const c = generateIgnition({ ...base, watcher: { config: CONFIG }, tls: { ca: PEM('CERTIFICATE'), cert: PEM('CERTIFICATE'), key: PEM('PRIVATE KEY') } });
  for (const p of ['/etc/beacon/tls/ca.pem', '/etc/beacon/tls/client.pem', '/etc/beacon/tls/client-key.pem', '/etc/beacon/watcher.yaml']) {
    t.is(file(c, p)?.mode, 384, p);
  }
  t.is(decodeDataUrl(file(c, '/etc/beacon/tls/client-key.pem')!.contents!.source!), PEM('PRIVATE KEY'));
  for (const name of ['beacon-agent.service', 'beacon-watcher.service']) {
    t.deepEqual(unit(c, name)!.dropins!.find((d) => d.name === '20-tls.conf')?.contents, units.tlsDropIn, name);
  }
  // The watcher reads no platform metadata.
  t.deepEqual(unit(c, 'beacon-watcher.service')!.dropins!.map((d) => d.name), ['20-tls.conf']);

  const caOnly = tlsDropInFor(units.tlsDropIn, { ca: PEM('CERTIFICATE') })!;
  t.regex(caOnly, /^LoadCredential=etcd-ca\.pem:\/etc\/beacon\/tls\/ca\.pem$/m);
  t.regex(caOnly, /^Environment=ETCDCTL_CACERT=%d\/etcd-ca\.pem$/m);
  t.notRegex(caOnly, /^[^#].*etcd-client/m);
  t.is(tlsDropInFor(units.tlsDropIn, {}), undefined);
});

test('TLS: a certificate needs its key, and a PEM must look like one', (t) => {
  t.is(t.throws(() => generateIgnition({ ...base, tls: { cert: PEM('CERTIFICATE') } }), { instanceOf: ConfigError }).field, '--cert-file');
  t.is(t.throws(() => generateIgnition({ ...base, tls: { ca: 'hello' } }), { instanceOf: ConfigError }).field, '--ca-file');
});

test('a config naming TLS files itself is refused: the service user could not read them', (t) => {
  const withCa = `${CONFIG.replace('etcd:\n', 'etcd:\n  caFile: /etc/beacon/tls/ca.pem\n')}`;
  const err = t.throws(() => generateIgnition({ ...base, agentConfig: withCa }), { instanceOf: ConfigError });
  t.is(err.field, '--config etcd.caFile');
  t.regex(err.message, /--ca-file/);
  t.is(t.throws(() => generateIgnition({ ...base, agentConfig: 'etcd: [' }), { instanceOf: ConfigError }).field, '--config');
});

test('artifact: hash accepted as hex, sha512- prefixed or sha512sum output; bad hash or URL refused', (t) => {
  const hash = (sha512: string) => file(generateIgnition({ ...base, artifact: { ...base.artifact, sha512 } }), '/usr/local/bin/beacon')!.contents!.verification!.hash;
  t.is(hash(SHA.toUpperCase()), `sha512-${SHA}`);
  t.is(hash(`sha512-${SHA}`), `sha512-${SHA}`);
  t.is(hash(`${SHA}  beacon\n`), `sha512-${SHA}`);
  for (const bad of ['abc', 'zz'.repeat(64), `${SHA}00`]) {
    t.is(t.throws(() => hash(bad), { instanceOf: ConfigError }).field, '--artifact-sha512');
  }
  for (const url of ['beacon.gz', 'ftp://example.com/beacon.gz', 'file:///tmp/beacon.gz']) {
    t.is(t.throws(() => generateIgnition({ ...base, artifact: { ...base.artifact, url } }), { instanceOf: ConfigError }).field, '--artifact-url');
  }
});

const existing = () => ({
  ignition: { version: '3.2.0', timeouts: { httpTotal: 30 } },
  passwd: { users: [{ name: 'core', sshAuthorizedKeys: ['ssh-ed25519 AAAA'] }] },
  storage: { files: [{ path: '/etc/hostname', mode: 420, contents: { source: 'data:,n1' } }], directories: [{ path: '/etc/beacon', mode: 448 }] },
  systemd: { units: [{ name: 'web.service', enabled: true, contents: '[Service]\nExecStart=/bin/true\n' }] },
});

test('merge: appends files and units, keeps everything else, version is the higher one', (t) => {
  const c = generateIgnition({ ...base, merge: existing() });
  t.is(c.ignition.version, '3.3.0');
  t.deepEqual(c.ignition.timeouts, { httpTotal: 30 });
  t.deepEqual(c.passwd?.users?.map((u) => u.name), ['core', 'beacon']);
  t.deepEqual(c.storage?.files?.map((f) => f.path), ['/etc/hostname', '/usr/local/bin/beacon', '/etc/beacon/agent.yaml']);
  t.deepEqual(c.storage?.directories, existing().storage.directories);
  t.deepEqual(c.systemd?.units?.map((u) => u.name), ['web.service', 'beacon-agent.service']);
  const newer = { ...existing(), ignition: { version: '3.4.0' } };
  t.is(generateIgnition({ ...base, merge: newer }).ignition.version, '3.4.0');
});

test('merge: refuses a path or unit beacon writes, a file where beacon needs a directory, and non-3.x configs', (t) => {
  const conflict = (mutate: (c: ReturnType<typeof existing>) => unknown) => {
    const c = existing();
    const r = mutate(c);
    const merged = typeof r === 'object' ? r : c; // push() returns a number: the mutated config stands
    return t.throws(() => generateIgnition({ ...base, merge: merged }), { instanceOf: ConfigError });
  };
  t.regex(conflict((c) => c.storage.files.push({ path: '/etc/beacon/agent.yaml', mode: 384, contents: { source: 'data:,' } })).message, /already defines this path in storage\.files.*\/etc\/beacon\/agent\.yaml/);
  t.regex(conflict((c) => c.storage.files.push({ path: '/usr/local//bin/beacon', mode: 493, contents: { source: 'data:,' } })).message, /\/usr\/local\/bin\/beacon/);
  t.regex(conflict((c) => c.systemd.units.push({ name: 'beacon-agent.service', enabled: false, contents: '' })).message, /already defines this unit.*beacon-agent\.service/);
  t.regex(conflict((c) => c.storage.files.push({ path: '/etc/beacon', mode: 420, contents: { source: 'data:,' } })).message, /beacon needs a directory there/);
  t.regex(conflict((c) => c.passwd.users.push({ name: 'beacon', sshAuthorizedKeys: [] })).message, /already defines this user in passwd\.users.*beacon/);
  t.regex(conflict(() => ({ ignition: { version: '2.3.0' } })).message, /released 3\.x spec/);
  t.regex(conflict(() => ({ ignition: { version: '3.5.0-experimental' } })).message, /released 3\.x spec/);
  t.regex(conflict(() => [1, 2]).message, /must be an Ignition config/);
  t.regex(conflict(() => ({ ignition: { version: '3.3.0' }, storage: { files: {} } })).message, /storage\.files/);
});

test('the generator does not mutate the config it merges into', (t) => {
  const c = existing();
  const before = JSON.stringify(c);
  generateIgnition({ ...base, merge: c });
  t.is(JSON.stringify(c), before);
});
