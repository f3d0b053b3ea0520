// A smoke-sized fleet benchmark (5 nodes a side, 2 s window) so the harness cannot rot: it must run
// end to end, register everyone, and show beacon's steady state as free of writes. No speed asserted.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FLEET_HEADING, storedRuns, updateBlock, writeFleetDocs } from '../../bench/fleet/docs.js';
import type { FleetResult } from '../../bench/fleet/fleet.js';
import { requireBinary } from '../helpers/etcd.js';

const MAIN = fileURLToPath(new URL('../../bench/fleet/main.js', import.meta.url));

const OTHERS = '# Benchmarks\n\nIntro.\n\n## Agent\n\nTheirs.\n\n## Watcher\n\nAlso theirs.\n';

test('fleet benchmark: 5 beacon nodes and 5 sidekick nodes, end to end, docs table written', async (t) => {
  requireBinary('etcd');
  requireBinary('etcdctl');
  const docs = join(mkdtempSync(join(tmpdir(), 'beacon-fleet-')), 'benchmarks.md');
  writeFileSync(docs, OTHERS);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [MAIN, '--nodes', '5', '--workers', '2', '--ttl', '5', '--window', '2', '--settle', '1', '--docs', '--docs-file', docs],
    { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
  );
  const r = JSON.parse(stdout) as FleetResult & { command: string };
  const b = r.beacon!;
  const s = r.sidekick!;

  t.is(b.registered, 5, 'every beacon node registered');
  t.is(s.registered, 5, 'every sidekick node announced');
  t.is(b.client.registeredAtEnd, 5);
  t.is(s.client.registeredAtEnd, 5);
  // The claim the benchmark exists for: keepalives only, no raft writes while nothing changes.
  t.is(b.etcd.revisions, 0, 'beacon moved no revision at steady state');
  t.is(b.etcd.raftEntries, 0, 'beacon appended no raft entry at steady state');
  t.is(b.etcd.leases, 5, 'one lease per beacon node');
  t.true(b.client.keepalivesPerNodeSecond > 0, 'beacon nodes sent keepalives in the window');
  t.is(b.client.lost, 0);
  // The baseline really rewrites its keys (else the comparison would be empty).
  t.true(s.etcd.revisions > 0, 'sidekick rewrote keys in the window');
  t.true(s.client.putsPerNodeSecond > 0);
  t.is(r.ratios?.revisionsPerNodeHour, null, 'sidekick ÷ beacon revisions: beacon is 0');

  const text = readFileSync(docs, 'utf8');
  t.true(text.startsWith(OTHERS.trimEnd()), 'the other sections are untouched');
  t.is(text.split(FLEET_HEADING).length, 2, 'one fleet heading');
  t.regex(text, /### 5 nodes, TTL 5 s/);
  t.regex(text, /\| \*\*etcd revisions \(writes\) per node-hour\*\*, steady state \| \*\*0\*\* \|/);
  t.is(storedRuns<FleetResult>(text, 'fleet:runs').length, 1);

  // The same configuration again replaces its table; another N adds one.
  writeFleetDocs(docs, r, r.command);
  t.is(storedRuns<FleetResult>(readFileSync(docs, 'utf8'), 'fleet:runs').length, 1);
  writeFleetDocs(docs, { ...r, options: { ...r.options, nodes: 7 } }, r.command);
  const twice = readFileSync(docs, 'utf8');
  t.is(storedRuns<FleetResult>(twice, 'fleet:runs').length, 2);
  t.true(twice.indexOf('### 5 nodes') < twice.indexOf('### 7 nodes'), 'tables sorted by N');
});

test('updateBlock keeps prose around the block and the sections after it', (t) => {
  const doc = `${OTHERS}\n${FLEET_HEADING}\n\nHand-written analysis.\n\n## Later\n\nSomeone else's.\n`;
  const once = updateBlock(doc, FLEET_HEADING, 'x', 'first');
  const twice = updateBlock(once, FLEET_HEADING, 'x', 'second');
  t.true(twice.includes('Hand-written analysis.'));
  t.true(twice.includes("## Later\n\nSomeone else's.\n"));
  t.false(twice.includes('first'));
  t.is(twice.split('<!-- x:begin').length, 2);
  t.true(twice.indexOf('second') < twice.indexOf('## Later'), 'the block stays inside its section');
  const other = updateBlock(twice, FLEET_HEADING, 'y', 'summary');
  t.true(other.indexOf('second') < other.indexOf('summary') && other.indexOf('summary') < other.indexOf('## Later'));
});
