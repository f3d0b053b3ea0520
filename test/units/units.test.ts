// The shipped units: systemd-analyze verify is clean (stderr, since it exits 0 on unknown keys and bad
// values), systemd-analyze security scores them at 2.0 or lower, and the settings the install relies on
// are there. PID 1 here is not systemd: both modes run offline against a temp root (see systemd-root.ts).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SystemdRoot, parseUnit, repoRoot } from './systemd-root.js';
import { UNIT_FILE_PATHS } from '../../src/ignition/unit-files.js';

const read = (rel: string) => readFileSync(join(repoRoot, rel), 'utf8');
const units = {
  'beacon-agent.service': read(UNIT_FILE_PATHS.agent),
  'beacon-watcher.service': read(UNIT_FILE_PATHS.watcher),
};
const tls = read(UNIT_FILE_PATHS.tlsDropIn);
const metadata = { fcos: read(UNIT_FILE_PATHS.metadataDropIns.fcos), flatcar: read(UNIT_FILE_PATHS.metadataDropIns.flatcar) };

/** Every combination a host can end up with: bare, and each flavour's metadata drop-in plus TLS. */
const variants: { title: string; dropins: (unit: string) => Record<string, string> }[] = [
  { title: 'bare', dropins: () => ({}) },
  { title: 'fcos + tls', dropins: (u) => ({ ...(u === 'beacon-agent.service' ? { '10-metadata.conf': metadata.fcos } : {}), '20-tls.conf': tls }) },
  { title: 'flatcar + tls', dropins: (u) => ({ ...(u === 'beacon-agent.service' ? { '10-metadata.conf': metadata.flatcar } : {}), '20-tls.conf': tls }) },
];

for (const v of variants) {
  test(`systemd-analyze verify: both units, ${v.title}, nothing on stderr`, (t) => {
    const root = new SystemdRoot();
    try {
      for (const [name, text] of Object.entries(units)) root.installUnit(name, text, v.dropins(name));
      const r = root.verify(...Object.keys(units));
      t.is(r.stderr, '', r.stderr);
      t.is(r.status, 0);
    } finally {
      root.destroy();
    }
  });

  for (const name of Object.keys(units)) {
    test(`systemd-analyze security: ${name}, ${v.title}, exposure at most 2.0`, (t) => {
      const root = new SystemdRoot();
      try {
        root.installUnit(name, units[name as keyof typeof units], v.dropins(name));
        const r = root.security(name);
        t.log(`${name} (${v.title}): ${r.exposure}`);
        t.true(r.exposure <= 2.0, r.stdout);
      } finally {
        root.destroy();
      }
    });
  }
}

test('verify under a temp root does report problems: unknown key, bad value, missing binary', (t) => {
  const root = new SystemdRoot([]);
  try {
    const broken = units['beacon-agent.service'].replace('RestartSec=2s', 'RestartSec=soon').replace('[Install]', 'Bogus=1\n[Install]');
    root.installUnit('beacon-agent.service', broken);
    const r = root.verify('beacon-agent.service');
    t.regex(r.stderr, /Failed to parse sec value.*soon/);
    t.regex(r.stderr, /Unknown key 'Bogus'/);
    t.regex(r.stderr, /\/usr\/local\/bin\/beacon is not executable/);
    t.not(r.status, 0);
  } finally {
    root.destroy();
  }
});

test('security scoring sees the hardening: the same unit without it scores far worse', (t) => {
  const root = new SystemdRoot();
  try {
    const bare = units['beacon-agent.service']
      .split('\n')
      .filter((l) => !/^(DynamicUser|Protect|Private|Restrict|SystemCall|CapabilityBoundingSet|NoNewPrivileges)/.test(l))
      .join('\n');
    root.installUnit('beacon-agent.service', bare);
    t.true(root.security('beacon-agent.service').exposure > 5);
  } finally {
    root.destroy();
  }
});

for (const [name, text] of Object.entries(units)) {
  test(`${name} carries the settings the install relies on`, (t) => {
    const u = parseUnit(text);
    const one = (section: string, key: string) => {
      const values = u.get(section)?.get(key);
      t.truthy(values, `${section}.${key} is set`);
      return values?.at(-1);
    };
    t.is(one('Unit', 'StartLimitIntervalSec'), '0');
    t.is(one('Unit', 'Wants'), 'network-online.target');
    t.is(one('Unit', 'After'), 'network-online.target');
    t.is(one('Service', 'Type'), 'notify');
    t.is(one('Service', 'NotifyAccess'), 'all');
    t.regex(one('Service', 'WatchdogSec') ?? '', /^\d+s$/);
    t.is(one('Service', 'Restart'), 'always');
    t.regex(one('Service', 'TimeoutStopSec') ?? '', /^\d+s$/);
    t.is(one('Service', 'DynamicUser'), 'yes');
    // The static user Ignition creates (dbus-daemon refuses dynamic ones); dynamic where it is missing.
    t.is(one('Service', 'User'), 'beacon');
    t.is(one('Service', 'ProtectSystem'), 'strict');
    t.is(one('Service', 'CapabilityBoundingSet'), '');
    t.is(one('Service', 'RestrictAddressFamilies'), 'AF_UNIX AF_INET AF_INET6 AF_NETLINK');
    t.true(u.get('Service')!.get('SystemCallFilter')!.some((f) => f.startsWith('@system-service')));
    // V8's JIT needs writable+executable pages; ProcSubset=pid would hide /proc/meminfo and boot_id.
    t.false(u.get('Service')!.has('MemoryDenyWriteExecute'));
    t.false(u.get('Service')!.has('ProcSubset'));
    const start = one('Service', 'ExecStart') ?? '';
    t.true(start.startsWith('/usr/local/bin/beacon '), start);
    // The config travels as a credential, so the root-only file never needs to be readable by the service.
    const cred = one('Service', 'LoadCredential') ?? '';
    const [id, path] = cred.split(':');
    t.is(path, `/etc/beacon/${id}`);
    t.true(start.endsWith(`--config %d/${id}`), start);
    t.is(one('Install', 'WantedBy'), 'multi-user.target');
  });
}

test('metadata drop-ins order the agent after the metadata service without requiring it', (t) => {
  for (const [flavor, service] of [['fcos', 'afterburn.service'], ['flatcar', 'coreos-metadata.service']] as const) {
    const u = parseUnit(metadata[flavor]).get('Unit');
    t.deepEqual(u?.get('After'), [service]);
    t.deepEqual(u?.get('Wants'), [service]);
    t.false(u?.has('Requires') ?? true);
    t.false(u?.has('BindsTo') ?? true);
  }
});

test('the TLS drop-in hands each file over as a credential and names it through etcdctl variables', (t) => {
  const s = parseUnit(tls).get('Service')!;
  t.deepEqual(s.get('LoadCredential'), [
    'etcd-ca.pem:/etc/beacon/tls/ca.pem',
    'etcd-client.pem:/etc/beacon/tls/client.pem',
    'etcd-client-key.pem:/etc/beacon/tls/client-key.pem',
  ]);
  t.deepEqual(s.get('Environment'), [
    'ETCDCTL_CACERT=%d/etcd-ca.pem',
    'ETCDCTL_CERT=%d/etcd-client.pem',
    'ETCDCTL_KEY=%d/etcd-client-key.pem',
  ]);
});
