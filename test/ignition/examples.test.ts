// ignition/examples/*.ign are regenerated here from ignition/examples/inputs/ and must match what is
// checked in; every example (and the Butane example's translation) passes the real ignition-validate.
// After a deliberate change: BEACON_UPDATE_EXAMPLES=1 npx ava dist/test/ignition/examples.test.js
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseAgentConfig } from '../../src/config/load.js';
import { dataUrl, generateIgnition, type IgnitionOptions } from '../../src/ignition/generate.js';
import type { IgnitionConfig } from '../../src/ignition/types.js';
import { loadUnitFiles } from '../../src/ignition/unit-files.js';
import { requireBinary } from '../helpers/etcd.js';
import { repoRoot } from '../units/systemd-root.js';

const dir = join(repoRoot, 'ignition', 'examples');
const input = (name: string) => readFileSync(join(dir, 'inputs', name), 'utf8');
const agentConfig = input('agent.yaml');
// Examples point at a made-up download location; the all-zero sum marks the hash as an example too.
const artifact = { url: 'https://artifacts.example.com/beacon/0.1.0/beacon.gz', sha512: '0'.repeat(128) };
const tls = { ca: input('ca.pem'), cert: input('client.pem'), key: input('client-key.pem') };

/** Every generated example: file name → generator options (the `beacon ignition` flags in the comment). */
const examples: Record<string, Omit<IgnitionOptions, 'units' | 'agentConfig' | 'artifact'>> = {
  // beacon ignition --config agent.yaml --artifact-url URL --artifact-sha512 HEX
  'beacon-fcos.ign': {},
  // ... --flavor flatcar
  'beacon-flatcar.ign': { flavor: 'flatcar' },
  // ... --spec 3.4.0 --ca-file ca.pem --cert-file client.pem --key-file client-key.pem --watcher
  'beacon-fcos-tls-watcher.ign': { spec: '3.4.0', tls, watcher: { config: agentConfig } },
  // ... --merge existing.ign
  'beacon-merged.ign': { merge: JSON.parse(input('existing.ign')) },
};

const render = (name: string) =>
  `${JSON.stringify(generateIgnition({ ...examples[name]!, agentConfig, artifact, units: loadUnitFiles() }), null, 2)}\n`;

function validate(t: { is: (a: unknown, b: unknown, m?: string) => void }, file: string): void {
  const r = spawnSync(requireBinary('ignition-validate'), [file], { encoding: 'utf8' });
  // It prints warnings and errors (with exit 0 for warnings): any output is a finding.
  t.is(`${r.stdout}${r.stderr}`, '', file);
  t.is(r.status, 0, file);
}

test('the example agent config is a valid agent config', (t) => {
  t.notThrows(() => parseAgentConfig(parseYaml(agentConfig), { env: {}, hostname: 'example' }));
});

for (const name of Object.keys(examples)) {
  test(`${name} is what the generator produces today`, (t) => {
    const path = join(dir, name);
    const fresh = render(name);
    if (process.env.BEACON_UPDATE_EXAMPLES === '1') writeFileSync(path, fresh);
    t.is(readFileSync(path, 'utf8'), fresh, `stale example: BEACON_UPDATE_EXAMPLES=1 npx ava dist/test/ignition/examples.test.js`);
  });
}

test('every .ign under ignition/examples passes ignition-validate, with the shape pinned', (t) => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ign'));
  t.deepEqual(files.sort(), Object.keys(examples).sort(), 'every checked-in example is generated here');
  const tmp = mkdtempSync(join(tmpdir(), 'beacon-ign-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  for (const f of files) {
    const c = JSON.parse(readFileSync(join(dir, f), 'utf8')) as IgnitionConfig;
    if (c.ignition.version === '3.3.0') {
      validate(t, join(dir, f));
    } else {
      // Debian's Ignition 2.14 knows spec 3.4.0 only as 3.4.0-experimental, and 3.4.0 adds nothing
      // beacon writes: validate the same config labelled 3.3.0.
      t.is(c.ignition.version, '3.4.0');
      writeFileSync(join(tmp, f), JSON.stringify({ ...c, ignition: { ...c.ignition, version: '3.3.0' } }));
      validate(t, join(tmp, f));
    }
    t.regex(c.ignition.version, /^3\.[34]\.0$/);
    for (const file of c.storage?.files ?? []) {
      t.true(Number.isInteger(file.mode), `${f} ${file.path} mode is a decimal number`);
      if (file.path.startsWith('/etc/beacon/')) t.is(file.mode, 384, `${f} ${file.path}`);
      if (file.path.endsWith('/bin/beacon')) {
        t.is(file.mode, 493);
        t.is(file.contents?.compression, 'gzip');
        t.regex(file.contents?.verification?.hash ?? '', /^sha512-[0-9a-f]{128}$/);
      }
    }
  }
});

test('ignition-validate does reject a broken config (the check can fail)', (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'beacon-ign-'));
  try {
    const bad = JSON.parse(render('beacon-fcos.ign')) as IgnitionConfig;
    bad.storage!.files![0]!.contents!.verification = { hash: 'md5-abc' };
    writeFileSync(join(tmp, 'bad.ign'), JSON.stringify(bad));
    const r = spawnSync(requireBinary('ignition-validate'), [join(tmp, 'bad.ign')], { encoding: 'utf8' });
    t.not(r.status, 0);
    t.regex(`${r.stdout}${r.stderr}`, /hash/i);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

/**
 * Butane is not packaged for Debian 12, so the example's translation is done here for the subset it
 * uses (Butane's own rules: fcos 1.4.0 → spec 3.3.0, `local` merged configs inlined as data URLs,
 * snake_case → camelCase, YAML 1.1 octal modes); anything outside that subset fails the test.
 */
function translateButane(text: string, filesDir: string): IgnitionConfig {
  const doc = parseYaml(text, { version: '1.1' }) as Record<string, any>;
  const known = new Set(['variant', 'version', 'ignition', 'passwd', 'storage']);
  const extra = Object.keys(doc).filter((k) => !known.has(k));
  if (extra.length) throw new Error(`agent.bu uses ${extra.join(', ')}: extend translateButane`);
  if (doc.variant !== 'fcos' || doc.version !== '1.4.0') throw new Error(`unexpected variant/version ${doc.variant} ${doc.version}`);
  return {
    ignition: {
      version: '3.3.0',
      config: { merge: (doc.ignition?.config?.merge ?? []).map((m: { local: string }) => ({ source: dataUrl(readFileSync(join(filesDir, m.local), 'utf8')) })) },
    },
    passwd: { users: (doc.passwd?.users ?? []).map((u: any) => ({ name: u.name, sshAuthorizedKeys: u.ssh_authorized_keys })) },
    storage: {
      files: (doc.storage?.files ?? []).map((f: any) => ({ path: f.path, mode: f.mode, contents: { source: dataUrl(f.contents.inline) } })),
    },
  };
}

test('the Butane example translates to a valid config that merges a generated example', (t) => {
  const text = readFileSync(join(dir, 'agent.bu'), 'utf8');
  const c = translateButane(text, dir);
  t.is((c.storage!.files![0] as { mode: number }).mode, 0o644, 'YAML 1.1 octal, as Butane reads it');
  const merged = (c.ignition.config as { merge: { source: string }[] }).merge;
  t.is(merged.length, 1);
  t.is(merged[0]!.source, dataUrl(readFileSync(join(dir, 'beacon-fcos.ign'), 'utf8')));
  const tmp = mkdtempSync(join(tmpdir(), 'beacon-bu-'));
  try {
    writeFileSync(join(tmp, 'host.ign'), JSON.stringify(c));
    validate(t, join(tmp, 'host.ign'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
