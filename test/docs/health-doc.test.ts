// docs/health.md cannot drift: its config examples parse, the fields its tables list are the ones
// the parsers know, every check kind is described, and the log messages it lists are the code's.
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadAgentConfig, parseAgentConfig } from '../../src/config/load.js';
import { CHECK_KINDS } from '../../src/checks/types.js';
import { ConfigError, ConfigErrors } from '../../src/errors.js';
import { REPO_ROOT } from '../helpers/process.js';
import { code, codeBlocks, readDoc, tables } from './markdown.js';

const doc = readDoc('docs/health.md');
const parse = (raw: Record<string, unknown>) => parseAgentConfig({ node: { name: 'n1' }, ...raw }, { hostname: 'h' });

/** The messages of every problem `raw` has (none when it parses). */
function problems(raw: Record<string, unknown>): string[] {
  try {
    parse(raw);
    return [];
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => e.message);
    if (err instanceof ConfigError) return [err.message];
    throw err;
  }
}

function table(firstHeader: string, headingPart: string) {
  const t = tables(doc).find((x) => x.headers[0] === firstHeader && x.heading.includes(headingPart));
  if (!t) throw new Error(`docs/health.md has no ${firstHeader} table under ${headingPart}`);
  return t;
}

test('every yaml example is a valid agent config', (t) => {
  const blocks = codeBlocks(doc, 'yaml');
  t.true(blocks.length >= 3);
  for (const b of blocks) t.deepEqual(problems(parseYaml(b.body) as Record<string, unknown>), [], `docs/health.md:${b.line}`);
});

test('every problems example loads as the agent loads it on a fresh host, rule files included', async (t) => {
  // Other snippets name host files on purpose (api.tokenFile): the problems ones must work as pasted.
  const blocks = codeBlocks(doc, 'yaml').filter((b) => /^problems:/m.test(b.body));
  t.true(blocks.length >= 1);
  const dir = mkdtempSync(join(tmpdir(), 'beacon-health-doc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [i, b] of blocks.entries()) {
    const file = join(dir, `block${i}.yaml`);
    writeFileSync(file, `node: { name: n1 }\n${b.body}`, { mode: 0o600 });
    await t.notThrowsAsync(loadAgentConfig(file, { env: {}, hostname: 'h' }), `docs/health.md:${b.line}`);
  }
  // The probe can fail: a rule file that is not on this host is refused.
  const file = join(dir, 'missing.yaml');
  writeFileSync(file, 'node: { name: n1 }\nproblems: { kernel: { rules: /nonexistent/kernel-monitor.json } }\n');
  await t.throwsAsync(loadAgentConfig(file, { env: {}, hostname: 'h' }), { message: /cannot read rule file/ });
});

test('every check kind is in the kinds table, and the table lists only kinds', (t) => {
  const kinds = table('Kind', 'Checks').rows.map((r) => code(r[0]!));
  t.deepEqual([...kinds].sort(), [...CHECK_KINDS].sort());
});

test('the check fields listed are the ones the check parser knows', (t) => {
  const fields = table('Field', 'Checks').rows.map((r) => code(r[0]!));
  t.true(fields.length >= 8);
  for (const f of fields) {
    // A wrong value gives a type error; a field the parser does not know gives "unknown field".
    const msgs = problems({ services: [{ name: 'web', port: 1, checks: [{ tcp: '127.0.0.1:1', [f]: { wrong: true } }] }] });
    t.true(msgs.length > 0 && !msgs.some((m) => m.includes('unknown field')), `${f}: ${msgs.join('; ')}`);
  }
  t.regex(problems({ services: [{ name: 'web', port: 1, checks: [{ tcp: '127.0.0.1:1', intervall: '1s' }] }] })[0]!, /unknown field \(did you mean "interval"\?\)/, 'the probe can fail');
});

test('the problems fields listed are the ones the problems parser knows', (t) => {
  const fields = table('Field', 'Node problems').rows.map((r) => code(r[0]!));
  t.true(fields.length >= 12);
  for (const f of fields) {
    const parts = f.split('.');
    const raw = parts.reduceRight<unknown>((v, k) => ({ [k]: v }), { wrong: true }) as Record<string, unknown>;
    const msgs = problems({ problems: raw });
    t.true(msgs.length > 0 && !msgs.some((m) => m.includes('unknown field')), `problems.${f}: ${msgs.join('; ')}`);
  }
  t.regex(problems({ problems: { kernel: { sauce: 'file' } } })[0]!, /unknown field/, 'the probe can fail');
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('every log message in the table is one the code logs', (t) => {
  const src = sourceFiles(join(REPO_ROOT, 'src')).map((f) => readFileSync(f, 'utf8')).join('\n');
  const rows = table('Message', 'Logs').rows;
  t.true(rows.length >= 8);
  for (const row of rows) {
    const msg = code(row[0]!);
    t.true(src.includes(`'${msg}'`), `src/ logs ${JSON.stringify(msg)}`);
  }
});
