// Property-based: whatever a config file holds, the loader answers with a frozen config or a
// ConfigError (never another exception), and never prints a password it was given.
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { parseAgentConfig, parseClientConfig, readConfigFile } from '../../src/config/load.js';
import { beacon } from '../helpers/process.js';

const opts = { env: {}, hostname: 'host1' };
// BEACON_PROP_RUNS=5000 for a longer hunt; CI keeps the default fast.
const RUNS = Number(process.env.BEACON_PROP_RUNS ?? 300);

/** Run `fn`; fail the property unless it returns or throws a ConfigError. */
function configOrConfigError(fn: () => unknown): ConfigError | undefined {
  try {
    const cfg = fn();
    if (typeof cfg !== 'object' || cfg === null || !Object.isFrozen(cfg)) throw new Error(`not a frozen config: ${String(cfg)}`);
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
}

// Keys the loader knows, plus keys that trip naive code (prototype names), at every level.
const KEYS = ['etcd', 'endpoints', 'prefix', 'node', 'name', 'ttl', 'labels', 'services', 'port', 'checks', 'problems', 'api', 'log', 'level',
  'watcher', 'hooks', 'caFile', 'certFile', 'keyFile', 'username', 'password', 'requestTimeout', '__proto__', 'constructor', 'toString', ''];
const key = fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 12 }));
const leaf = fc.oneof(
  fc.jsonValue({ maxDepth: 1 }),
  fc.constantFrom('10s', '-1s', '1e309', 'http://127.0.0.1:2379', 'https://[::1]:2379', '../..', '', ' ', '\u0000', 'NaN'),
  fc.double(),
  fc.bigInt().map(String),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('mapping')),
  array: fc.array(tie('tree'), { maxLength: 4 }),
  mapping: fc.dictionary(key, tie('tree'), { maxKeys: 6 }),
}));
const document = fc.dictionary(key, tree, { maxKeys: 8 });

test('any JSON value: a frozen config or a ConfigError', (t) => {
  fc.assert(fc.property(fc.jsonValue(), (raw) => void configOrConfigError(() => parseAgentConfig(raw, opts))), { numRuns: RUNS });
  t.pass();
});

test('documents shaped like configs with hostile values: a frozen config or a ConfigError, for agent and client', (t) => {
  fc.assert(
    fc.property(document, (raw) => {
      configOrConfigError(() => parseAgentConfig(raw, opts));
      configOrConfigError(() => parseClientConfig(raw, opts));
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('deeply nested input does not overflow the stack', (t) => {
  let deep: unknown = 'x';
  for (let i = 0; i < 5_000; i++) deep = i % 2 ? [deep] : { node: deep };
  for (const raw of [deep, { node: deep }, { etcd: deep }, { services: [deep] }]) {
    t.notThrows(() => configOrConfigError(() => parseAgentConfig(raw, opts)));
  }
});

test('a password is never shown in a config error, wherever else the document is wrong', (t) => {
  const password = fc.stringMatching(/^[a-z0-9]{10,16}$/).map((s) => `pw-${s}`);
  fc.assert(
    fc.property(password, document, fc.constantFrom('password', 'pasword', 'passwd', 'secret', 'token'), (pw, raw, field) => {
      const etcd = { ...(typeof raw.etcd === 'object' && raw.etcd !== null && !Array.isArray(raw.etcd) ? raw.etcd : {}), [field]: pw };
      for (const doc of [{ ...raw, etcd }, { ...raw, etcd: { ...etcd, password: [pw] } }, { ...raw, etcd: { ...etcd, password: { x: pw } } }]) {
        const err = configOrConfigError(() => parseAgentConfig(doc, opts));
        if (err && err.message.includes(pw)) throw new Error(`password shown: ${err.message}`);
      }
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('any file text, as .yaml or .json: a document or a ConfigError', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-prop-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.json().map((j) => j.slice(0, Math.max(0, j.length - 1))), // truncated JSON
    fc.constantFrom('a: &a [*a]', 'a: !!binary x', '---\na: 1\n---\nb: 2', 'x: [' + '['.repeat(2000), 'a: 1\na: 2', '\ufeffa: 1', '? [a]\n: b'),
  );
  let i = 0;
  await fc.assert(
    fc.asyncProperty(text, fc.constantFrom('.yaml', '.json'), async (body, ext) => {
      const path = join(dir, `c${i++}${ext}`);
      writeFileSync(path, body, { mode: 0o600 });
      try {
        const raw = await readConfigFile(path);
        configOrConfigError(() => parseAgentConfig(raw, opts));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        if (!err.message.startsWith(path)) throw new Error(`error does not name the file: ${err.message}`);
      }
    }),
    { numRuns: Math.ceil((RUNS * 2) / 3) },
  );
  t.pass();
});

test('a YAML document that contains itself through an alias is a ConfigError, not a stack overflow', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-prop-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'self.yaml');
  writeFileSync(path, 'node: &n\n  name: a\n  labels: [*n]\n', { mode: 0o600 });
  await t.throwsAsync(readConfigFile(path), { instanceOf: ConfigError, message: `${path}: not usable YAML: an alias refers to a node that contains it` });
  // Shared (acyclic) aliases stay fine.
  writeFileSync(path, 'node: { name: &n a, labels: { role: *n, also: *n } }\n', { mode: 0o600 });
  t.deepEqual(parseAgentConfig(await readConfigFile(path), opts).node.labels, { role: 'a', also: 'a' });
});

// YAML text nested at random depths (block and flow, past the 32-level limit and below it), with garbage
// mixed in: the loader answers with a document or a ConfigError naming the file, never another exception.
const nestedYaml = fc
  .tuple(
    fc.integer({ min: 1, max: 3_000 }),
    fc.constantFrom('flow-seq', 'flow-map', 'block-map', 'block-seq', 'mixed'),
    fc.constantFrom('node', 'services', 'etcd', 'labels', 'x'),
    fc.string({ unit: 'binary', maxLength: 20 }),
  )
  .map(([depth, style, top, junk]) => {
    const d = style === 'block-map' || style === 'block-seq' ? Math.min(depth, 400) : depth; // indentation grows quadratically
    let body: string;
    if (style === 'flow-seq') body = `${'['.repeat(d)}${JSON.stringify(junk)}${']'.repeat(d)}`;
    else if (style === 'flow-map') body = `${'{a: '.repeat(d)}${JSON.stringify(junk)}${'}'.repeat(d)}`;
    else if (style === 'mixed') body = `${'[{a: '.repeat(d)}1${'}]'.repeat(d)}`;
    else {
      const lines = Array.from({ length: d }, (_, i) => `${' '.repeat(2 * (i + 1))}${style === 'block-map' ? 'a:' : '-'}`);
      body = `\n${lines.join('\n')} ${JSON.stringify(junk)}`;
    }
    return `${top}: ${body}\n`;
  });

test('randomly nested and garbage YAML: a document or a ConfigError naming the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-prop-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let i = 0;
  let refusedDeep = 0;
  await fc.assert(
    fc.asyncProperty(nestedYaml, async (body) => {
      const path = join(dir, `n${i++}.yaml`);
      writeFileSync(path, body, { mode: 0o600 });
      try {
        const raw = await readConfigFile(path);
        configOrConfigError(() => parseAgentConfig(raw, opts));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        if (!err.message.startsWith(path)) throw new Error(`error does not name the file: ${err.message}`);
        if (/deeper than 32/.test(err.message)) refusedDeep++;
      }
    }),
    { numRuns: RUNS },
  );
  // The generator reaches past the limit: a property whose deep cases all passed would test nothing.
  t.true(refusedDeep > 0, 'no input was refused as too deep');
});

test('the real CLI on random nested and garbage YAML: exit 0 or 2 with a field- or file-naming message, never a stack trace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-prop-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const text = fc.oneof(nestedYaml, fc.string({ unit: 'binary', maxLength: 200 }), document.map((d) => JSON.stringify(d)));
  let i = 0;
  // A process per run: few runs (BEACON_PROP_RUNS scales them too).
  await fc.assert(
    fc.asyncProperty(text, async (body) => {
      const path = join(dir, `c${i++}.yaml`);
      writeFileSync(path, body, { mode: 0o600 });
      const r = beacon(['validate', path]);
      if (r.code === 0) return;
      if (r.code !== 2) throw new Error(`exit ${r.code}: ${r.stderr}`);
      if (/\n\s+at .+:\d+:\d+\)?$/m.test(r.stderr)) throw new Error(`stack trace: ${r.stderr}`);
      // `invalid config FILE:` then one line per problem, each starting with a field path or the file.
      const [head, ...problems] = r.stderr.trimEnd().split('\n');
      if (head !== `invalid config ${path}:`) throw new Error(`unexpected head: ${r.stderr}`);
      for (const line of problems) {
        // A path: names, [index] and ["quoted key"] segments (a quoted key may hold a colon). The terminal
        // escaping doubles a backslash, so a key's escaped quote (\") is printed as \\".
        if (!/^ {2}(?=[A-Za-z$_/[-])(?:\["(?:\\\\"|[^"\\]|\\.)*"\]|[^:[]|\[)+(:\d+:\d+)?: /.test(line)) throw new Error(`problem line names nothing: ${JSON.stringify(line)}`);
      }
    }),
    { numRuns: Math.max(10, Math.ceil(RUNS / 15)) },
  );
  t.pass();
});
