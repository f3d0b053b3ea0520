// docs/agent.md cannot drift: the log messages it lists are the agent's, the address order is the
// default one, the examples it points to exist and validate, and its `beacon validate` sample is real.
import test from 'ava';
import { chmodSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { REPO_ROOT, beacon, writeConfig } from '../helpers/process.js';
import { DEFAULT_ADDRESS_ORDER } from '../../src/config/node.js';
import { agentSections } from '../../src/config/load.js';
import { code, codeBlocks, readDoc, tables } from './markdown.js';
import { makeCerts } from '../security/certs.js';

const doc = readDoc('docs/agent.md');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('every log message in the table is one the code logs', (t) => {
  const src = sourceFiles(join(REPO_ROOT, 'src')).map((f) => readFileSync(f, 'utf8')).join('\n');
  const table = tables(doc).find((x) => x.headers[0] === 'Message');
  if (!table) return t.fail('docs/agent.md has no log message table');
  t.true(table.rows.length >= 10);
  for (const row of table.rows) {
    const msg = code(row[0]!);
    t.true(src.includes(`'${msg}'`), `src/ logs ${JSON.stringify(msg)}`);
    t.regex(row[1]!, /^(trace|debug|info|warn|error|fatal)$/, `level of ${msg}`);
  }
});

test('the address source order is the default order, loopback last', (t) => {
  const section = doc.slice(doc.indexOf('## Address selection'), doc.indexOf('## Lease and keepalive'));
  const listed = [...section.matchAll(/^\d+\. `([a-z-]+)`/gm)].map((m) => m[1]);
  t.deepEqual(listed, [...DEFAULT_ADDRESS_ORDER, 'loopback']);
});

test('the config sections named are the loader\'s', (t) => {
  for (const s of Object.keys(agentSections)) t.true(doc.includes(`\`${s}\``), `docs/agent.md names the ${s} section`);
});

test('the examples it points to exist and validate', (t) => {
  const certs = makeCerts();
  t.teardown(() => rmSync(certs.dir, { recursive: true, force: true }));
  chmodSync(certs.clientKey, 0o600);
  const named = [...new Set([...doc.matchAll(/`(examples\/[^`]+)`/g)].map((m) => m[1]!))];
  t.true(named.length >= 3);
  for (const path of named) {
    const text = readFileSync(join(REPO_ROOT, path), 'utf8');
    // A checkout leaves examples world-readable, and beacon refuses such a file when it holds a
    // password (docs/security.md): validate a copy only its owner can read (its paths are absolute).
    // `beacon validate` reads the TLS files as the agent would: point the example's at real ones.
    const withCerts = text
      .replace(/^(\s*caFile:).*$/m, `$1 ${certs.caFile}`)
      .replace(/^(\s*certFile:).*$/m, `$1 ${certs.clientCert}`)
      .replace(/^(\s*keyFile:).*$/m, `$1 ${certs.clientKey}`);
    const file = /^\s*password:/m.test(text) || withCerts !== text ? writeConfig(withCerts, basename(path)) : join(REPO_ROOT, path);
    if (file !== join(REPO_ROOT, path)) chmodSync(file, 0o600);
    const r = beacon(['validate', file]);
    t.is(r.code, 0, `${path}: ${r.stderr}`);
  }
});

test('the `beacon validate` sample shows what beacon prints', (t) => {
  const sample = codeBlocks(doc, 'text').find((b) => b.body.startsWith('$ beacon validate bad.yaml'));
  if (!sample) return t.fail('docs/agent.md has no `beacon validate` sample');
  const file = writeConfig('node:\n  name: n1\n  ttl: 1s\nservices:\n  - name: web\n    port: 70000\n', 'bad.yaml');
  const r = beacon(['validate', file]);
  t.is(r.code, 2);
  const printed = (r.stdout + r.stderr).replaceAll(file, 'bad.yaml');
  for (const line of sample.body.split('\n').slice(1)) t.true(printed.includes(line), `beacon prints ${JSON.stringify(line)}\n${printed}`);
});

test('the Limits sample (130 services) shows what beacon prints', (t) => {
  const sample = codeBlocks(doc, 'text').find((b) => b.body.startsWith('$ beacon validate many-services.yaml'));
  if (!sample) return t.fail('docs/agent.md has no many-services sample');
  const services = Array.from({ length: 130 }, (_, i) => `  - name: s${i}\n    port: ${1000 + i}`).join('\n');
  const file = writeConfig(`node:\n  name: n1\nservices:\n${services}\n`, 'many-services.yaml');
  const r = beacon(['validate', file]);
  t.is(r.code, 2);
  const printed = (r.stdout + r.stderr).replaceAll(file, 'many-services.yaml');
  for (const line of sample.body.split('\n').slice(1)) t.true(printed.includes(line), `beacon prints ${JSON.stringify(line)}\n${printed}`);
});
