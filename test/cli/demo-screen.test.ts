// The demo's live view: watcher events and hook outcomes as story lines, escaped; on a terminal one screen
// redrawn in place with only its own escape sequences; elsewhere each line once and the tables on change.
import test from 'ava';
import { Writable } from 'node:stream';
import { DemoScreen, eventLine, hookLine } from '../../src/cli/demo-screen.js';
import type { DemoState } from '../../src/demo/observer.js';
import type { NodeEvent } from '../../src/watcher/records.js';
import { assertNoRawControl } from '../helpers/terminal.js';
import { endpointRecord, liveRecord, watcherEventRecord } from '../helpers/records.js';

const HOSTILE = 'n\x1b]0;pwned\x07\r\n\u202eexe.png';

class Capture extends Writable {
  text = '';
  constructor(readonly isTTY: boolean, readonly rows = 40) {
    super();
  }
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

function state(node = 'node1', health: 'passing' | 'critical' = 'passing'): DemoState {
  const live = liveRecord({ name: node, address: '127.0.0.1' });
  return {
    snapshot: { nodes: new Map([[node, { name: node, live }]]), endpoints: [endpointRecord({ node, health })], errors: [] },
    events: [],
    skipped: 0,
  };
}

const event = (over: Record<string, unknown>) => watcherEventRecord(over) as unknown as NodeEvent;
// Our own sequences: CSI (colour, cursor home, clear line, clear screen).
const withoutOurEscapes = (s: string) => s.replace(/\x1b\[[0-9;]*[HJKm]/g, '');
const flush = () => new Promise((r) => setTimeout(r, 300));

test('events and hook outcomes read as one line each', (t) => {
  t.deepEqual(eventLine(event({ event: 'NodeFailed', node: 'node2', reason: 'LeaseExpired', detectedBy: 'watch' })), {
    text: 'watcher: NodeFailed node2 (LeaseExpired, seen by watch)',
    tone: 'bad',
  });
  t.is(eventLine(event({ event: 'NodeRecovered', node: 'node2', reason: 'Recovered', downtimeMs: 7_250 })).text, 'watcher: NodeRecovered node2 after 7.3 s down');
  const e = event({ event: 'NodeFailed', node: 'node2' });
  t.is(
    hookLine(e, 'would-reboot', { state: 'ok', attempts: 1, durationMs: 12, output: 'would reboot node2 (hook pid 42)\n' }).text,
    'hook would-reboot for NodeFailed node2: ok after 12 ms: would reboot node2 (hook pid 42)',
  );
  t.is(
    hookLine(e, 'would-reboot', { state: 'failed', attempts: 3, durationMs: 9, output: 'no BMC\nmore', exitCode: 2 }).text,
    'hook would-reboot for NodeFailed node2: failed (exit 2): no BMC',
  );
  t.is(
    hookLine(e, 'would-reboot', { state: 'suppressed', why: 'cooldown', detail: 'ran 2 min ago' }).text,
    'hook would-reboot for NodeFailed node2: suppressed (cooldown: ran 2 min ago)',
  );
});

test('text from etcd in a story line is escaped and cut', (t) => {
  const e = event({ event: 'NodeFailed', node: HOSTILE, reason: HOSTILE });
  assertNoRawControl(t, 'event line', eventLine(e).text);
  const line = hookLine(e, HOSTILE, { state: 'ok', attempts: 1, durationMs: 1, output: `${HOSTILE}${'x'.repeat(5000)}` });
  assertNoRawControl(t, 'hook line', line.text);
  t.true(line.text.length < 400, `cut: ${line.text.length} characters`);
  t.true(line.text.includes('\\x1b]0;pwned\\x07'), 'visible, not dropped');
});

test('a pipe gets each line once and the tables only when they change', async (t) => {
  const out = new Capture(false);
  const screen = new DemoScreen(out, false, false);
  screen.line('started node1 (pid 1)');
  screen.start({ nodes: 1, etcd: 'http://127.0.0.1:2379', statusUrl: 'http://127.0.0.1:9465/' });
  screen.update(state());
  await flush();
  screen.update(state());
  await flush();
  screen.update(state('node1', 'critical'));
  await flush();
  screen.add({ time: new Date(), ...eventLine(event({ event: 'NodeJoined', node: HOSTILE })) });
  screen.stop();
  t.is(out.text.match(/started node1 \(pid 1\)/g)?.length, 1);
  t.regex(out.text, /^status page: http:\/\/127\.0\.0\.1:9465\/$/m);
  t.is(out.text.match(/^NAME\s+STATUS/gm)?.length, 2, 'the same tables are not printed twice');
  t.regex(out.text, /^web\s+node1\s+10\.0\.0\.21:8080\s+critical/m);
  t.false(out.text.includes('\x1b'), 'no escape sequence at all on a pipe');
  assertNoRawControl(t, 'pipe output', out.text);
});

test('a terminal gets one screen redrawn in place, with hostile text escaped', async (t) => {
  const out = new Capture(true, 30);
  const screen = new DemoScreen(out, true, true);
  screen.start({ nodes: 1, etcd: 'http://127.0.0.1:2379', statusUrl: 'http://127.0.0.1:9465/' });
  const s = state();
  s.snapshot.nodes.get('node1')!.live!.labels = { zone: HOSTILE };
  s.snapshot.endpoints[0]!.tags = [HOSTILE];
  screen.update(s);
  for (let i = 0; i < 50; i++) screen.line(`line ${i}`);
  screen.add({ time: new Date(), ...eventLine(event({ event: 'NodeFailed', node: HOSTILE })) });
  await flush();
  screen.stop();
  t.true(out.text.startsWith('\x1b[2J'), 'cleared once at the start');
  const frames = out.text.split('\x1b[H').slice(1);
  t.true(frames.length >= 2, 'redrawn');
  const last = frames.at(-1)!;
  t.regex(last, /status page: http:\/\/127\.0\.0\.1:9465\//);
  t.regex(last, /EVENTS/);
  t.regex(last, /line 49/);
  t.notRegex(last, /line 0\b/, 'only the newest lines fit the screen');
  t.true(last.split('\n').length <= 31, `fits 30 rows: ${last.split('\n').length}`);
  t.regex(last, /\x1b\[32m/, 'coloured on a terminal');
  assertNoRawControl(t, 'terminal output', withoutOurEscapes(out.text));
});
