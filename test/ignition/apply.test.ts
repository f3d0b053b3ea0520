// The generated config applied by the real Ignition to a temp root, the artifact fetched over HTTP
// and verified as on a real host; then systemd-analyze verify on what Ignition installed.
import test from 'ava';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { generateIgnition, type IgnitionOptions, type OsFlavor } from '../../src/ignition/generate.js';
import { loadUnitFiles } from '../../src/ignition/unit-files.js';
import { requireBinary } from '../helpers/etcd.js';
import { SystemdRoot } from '../units/systemd-root.js';
import { FileServer, IGNITION_BIN, runIgnition } from './ignition-run.js';

const EXE = Buffer.from('#!/bin/sh\necho beacon stub\n');
const GZ = gzipSync(EXE);
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');
const CONFIG = 'etcd:\n  endpoints: [https://10.0.0.2:2379]\nservices:\n  - name: web\n    port: 8080\n';
const PEM = (what: string) => `-----BEGIN ${what}-----\nAAAA\n-----END ${what}-----\n`;

let server: FileServer;
test.before(async () => {
  if (!existsSync(IGNITION_BIN)) throw new Error(`${IGNITION_BIN} is missing: apt-get install ignition`);
  requireBinary('systemd-analyze');
  server = await FileServer.start({ '/beacon.gz': GZ });
});
test.after.always(async () => server?.close());

function options(flavor: OsFlavor, sha = sha512(EXE)): IgnitionOptions {
  return {
    flavor,
    agentConfig: CONFIG,
    artifact: { url: `${server.base}/beacon.gz`, sha512: sha },
    tls: { ca: PEM('CERTIFICATE'), cert: PEM('CERTIFICATE'), key: PEM('PRIVATE KEY') },
    watcher: { config: CONFIG },
    units: loadUnitFiles(),
  };
}

/** A root with systemd's unit tree, so verify can run on what Ignition wrote into it. */
function hostRoot(): { root: SystemdRoot; done: () => void } {
  const root = new SystemdRoot([]);
  return { root, done: () => root.destroy() };
}

const mode = (p: string) => statSync(p).mode & 0o777;

for (const [flavor, bin] of [['fcos', '/usr/local/bin/beacon'], ['flatcar', '/opt/bin/beacon']] as const) {
  test(`${flavor}: Ignition fetches and verifies the artifact, writes root-only files and enables the units`, async (t) => {
    const { root, done } = hostRoot();
    try {
      const before = server.requests.length;
      const r = await runIgnition(generateIgnition(options(flavor)), root.dir);
      t.true(r.ok, r.output);
      t.true(server.requests.slice(before).includes('/beacon.gz'));
      const at = (p: string) => join(root.dir, p);
      t.deepEqual(readFileSync(at(bin)), EXE, 'decompressed');
      t.is(mode(at(bin)), 0o755);
      for (const p of ['/etc/beacon/agent.yaml', '/etc/beacon/watcher.yaml', '/etc/beacon/tls/ca.pem', '/etc/beacon/tls/client.pem', '/etc/beacon/tls/client-key.pem']) {
        t.is(mode(at(p)), 0o600, p);
        t.is(statSync(at(p)).uid, 0, p);
      }
      t.is(readFileSync(at('/etc/beacon/agent.yaml'), 'utf8'), CONFIG);
      t.is(readFileSync(at('/etc/beacon/tls/client-key.pem'), 'utf8'), PEM('PRIVATE KEY'));
      // The static service user, made by Ignition's useradd (a system uid, no login).
      t.regex(readFileSync(at('/etc/passwd'), 'utf8'), /^beacon:[^:]*:\d{1,3}:\d+:[^:]*:\/:\/sbin\/nologin$/m);
      // Presets, not symlinks: systemd enables them at first boot (with /etc/machine-id "uninitialized").
      const preset = readFileSync(at('/etc/systemd/system-preset/20-ignition.preset'), 'utf8');
      t.regex(preset, /^enable beacon-agent\.service$/m);
      t.regex(preset, /^enable beacon-watcher\.service$/m);
      t.true(existsSync(at('/etc/systemd/system/beacon-agent.service.d/10-metadata.conf')));
      t.true(existsSync(at('/etc/systemd/system/beacon-watcher.service.d/20-tls.conf')));
      t.regex(readFileSync(at('/etc/systemd/system/beacon-agent.service'), 'utf8'), new RegExp(`^ExecStart=${bin} agent `, 'm'));

      // What Ignition installed is a clean systemd setup (the binary at bin is the fetched stub).
      const v = root.verify('beacon-agent.service', 'beacon-watcher.service');
      t.is(v.stderr, '', v.stderr);
      t.is(v.status, 0);
    } finally {
      done();
    }
  });
}

test('a wrong sha512 fails Ignition and installs no binary', async (t) => {
  const { root, done } = hostRoot();
  try {
    const r = await runIgnition(generateIgnition(options('fcos', 'ab'.repeat(64))), root.dir);
    t.false(r.ok);
    t.regex(r.output, /hash verification failed/);
    t.false(existsSync(join(root.dir, 'usr/local/bin/beacon')));
  } finally {
    done();
  }
});

test('with gzip, Ignition checks the sum of the decompressed file: the sum of beacon.gz is refused', async (t) => {
  const { root, done } = hostRoot();
  try {
    const r = await runIgnition(generateIgnition(options('fcos', sha512(GZ))), root.dir);
    t.false(r.ok, 'beacon.gz.sha512 is not what --artifact-sha512 takes');
    t.true(r.output.includes(`hash verification failed (calculated ${sha512(EXE)} but expected ${sha512(GZ)})`), r.output);
  } finally {
    done();
  }
});
