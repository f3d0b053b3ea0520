// `beacon demo`'s live view. On a terminal: one screen redrawn in place (every second, so AGE moves, and on
// every change): the header, the nodes and services tables and the newest lines of the story. Elsewhere (a
// pipe, a test): the header once, each story line once as it happens, and the tables again whenever the
// registry changed. Everything read from etcd is escaped (safe-text.ts) before it reaches the terminal.
import type { Writable } from 'node:stream';
import type { DemoState, FinalOutcome } from '../demo/observer.js';
import { nodeViews } from '../registry/reader.js';
import type { NodeEvent } from '../watcher/records.js';
import { paint, renderTable, type Tone } from './output.js';
import { safeText } from './safe-text.js';
import { nodeColumns, serviceColumns } from './views.js';

/** One line of the story. */
export interface StoryLine {
  time: Date;
  text: string;
  tone?: Tone;
}

// Cut untrusted text for one line of the story (hook output may be 4 KiB).
const LINE_CELL = 120;

/** A watcher event as one line of the story. */
export function eventLine(e: NodeEvent): Omit<StoryLine, 'time'> {
  const node = safeText(e.node, 60);
  const reason = safeText(e.reason, 40);
  switch (e.event) {
    case 'NodeFailed':
      return { text: `watcher: NodeFailed ${node} (${reason}, seen by ${safeText(e.detectedBy, 20)})`, tone: 'bad' };
    case 'NodeRecovered': {
      const down = typeof e.downtimeMs === 'number' ? ` after ${(e.downtimeMs / 1000).toFixed(1)} s down` : '';
      return { text: `watcher: NodeRecovered ${node}${down}`, tone: 'good' };
    }
    case 'NodeJoined':
      return { text: `watcher: NodeJoined ${node}`, tone: 'good' };
    case 'NodeLeft':
      return { text: `watcher: NodeLeft ${node}`, tone: 'warn' };
    case 'PartitionSuspected':
      return { text: `watcher: PartitionSuspected (${reason}): remedies suspended`, tone: 'bad' };
    default:
      return { text: `watcher: ${safeText(e.event, 40)} ${node} (${reason})` };
  }
}

/** A hook's final outcome for an event as one line of the story. */
export function hookLine(e: NodeEvent, hook: string, o: FinalOutcome): Omit<StoryLine, 'time'> {
  const head = `hook ${safeText(hook, 60)} for ${safeText(e.event, 40)} ${safeText(e.node, 60)}`;
  if (o.state === 'suppressed') return { text: `${head}: suppressed (${safeText(o.why, 40)}: ${safeText(o.detail, LINE_CELL)})`, tone: 'warn' };
  const output = safeText(o.output.trim().split('\n')[0] ?? '', LINE_CELL);
  if (o.state === 'ok') return { text: `${head}: ok after ${o.durationMs} ms: ${output || '(no output)'}`, tone: 'good' };
  const why = o.exitCode !== undefined ? `exit ${o.exitCode}` : o.httpStatus !== undefined ? `HTTP ${o.httpStatus}` : safeText(o.error ?? '', 60);
  return { text: `${head}: ${o.state} (${why}): ${output}`, tone: 'bad' };
}

/** The header: what runs and where to look. */
export interface DemoHeader {
  nodes: number;
  etcd: string;
  statusUrl: string;
}

function clock(d: Date): string {
  return d.toTimeString().slice(0, 8);
}

/** Renders the demo to `out`: a redrawn screen on a terminal, a stream of lines elsewhere. */
export class DemoScreen {
  private readonly lines: StoryLine[] = [];
  private state: DemoState | undefined;
  private header: DemoHeader | undefined;
  private lastTables = '';
  private timer: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: Writable,
    private readonly tty: boolean,
    private readonly colour: boolean,
  ) {}

  /** Add a story line (escaped here: callers may pass text from anywhere). */
  line(text: string, tone?: Tone): void {
    this.add({ time: new Date(), text: safeText(text, 400), ...(tone ? { tone } : {}) });
  }

  /** Add a line already escaped (eventLine, hookLine). */
  add(line: StoryLine): void {
    this.lines.push(line);
    // Only the newest lines fit on a screen; a long run must not grow without bound.
    if (this.lines.length > 200) this.lines.splice(0, this.lines.length - 200);
    if (this.tty) this.schedule();
    else this.out.write(`${this.format(line)}\n`);
  }

  /** Start showing the fleet (after it started). */
  start(header: DemoHeader): void {
    this.header = header;
    if (this.tty) {
      this.out.write('\x1b[2J');
      this.draw();
      // AGE and the clock move even when nothing else does.
      this.ticker = setInterval(() => this.draw(), 1_000);
    } else {
      this.out.write(`${this.headerText()}\n`);
    }
  }

  /** A new view of the registry. */
  update(state: DemoState): void {
    this.state = state;
    this.schedule();
  }

  /** Stop redrawing (the last screen stays). */
  stop(): void {
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    this.timer = this.ticker = undefined;
    if (this.tty && this.header) this.draw();
  }

  // Changes come in bursts (a node's keys expire together): draw once per burst.
  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      if (this.tty) this.draw();
      else this.printTables();
    }, 150);
  }

  private format(l: StoryLine): string {
    return `${clock(l.time)}  ${paint(l.text, l.tone, this.colour)}`;
  }

  private headerText(): string {
    const h = this.header!;
    return [
      `beacon demo: ${h.nodes} agent${h.nodes === 1 ? '' : 's'}, a watcher and a private etcd, on this machine (Ctrl-C to stop)`,
      `etcd: ${h.etcd}   try: beacon nodes --etcd ${h.etcd}; beacon events --etcd ${h.etcd}`,
      `status page: ${h.statusUrl}`,
    ].join('\n');
  }

  private tables(): string {
    if (!this.state) return '';
    const s = this.state;
    const opts = { colour: this.colour };
    const skipped = s.skipped > 0 ? `\n(${s.skipped} undecodable record${s.skipped === 1 ? '' : 's'} skipped)\n` : '';
    return `${renderTable(nodeColumns, nodeViews(s.snapshot), opts)}\n${renderTable(serviceColumns, s.snapshot.endpoints, opts)}${skipped}`;
  }

  private printTables(): void {
    if (!this.header) return;
    const text = this.tables();
    if (!text || text === this.lastTables) return;
    this.lastTables = text;
    this.out.write(`\n${text}\n`);
  }

  // Home, each line cleared to its end, the rest of the screen cleared: no flicker, no scrolling.
  private draw(): void {
    if (!this.header) return;
    const top = `${this.headerText()}   ${clock(new Date())}\n\n${this.tables()}\nEVENTS\n`;
    const rows = (this.out as NodeJS.WriteStream).rows ?? 40;
    const room = Math.max(5, rows - top.split('\n').length - 1);
    const story = this.lines.slice(-room).map((l) => this.format(l)).join('\n');
    const frame = `${top}${story}`.split('\n').map((l) => `${l}\x1b[K`).join('\n');
    this.out.write(`\x1b[H${frame}\n\x1b[J`);
  }
}
