// Shared plumbing of the single-purpose benchmarks (watcher-scale, mass-failure, leader-kill, artifact):
// percentiles, /proc samplers, and writing one generated block under a benchmark's own heading in
// docs/benchmarks.md (the prose around it stays hand-written).
import { readFileSync, writeFileSync } from 'node:fs';
import { DEFAULT_DOCS, updateBlock } from './fleet/docs.js';
import { machineLine, rssMiB, type Machine } from './fleet/machine.js';

export { DEFAULT_DOCS };

/** The p-th percentile (nearest rank) of `xs`; NaN when empty. */
export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Round to `digits` decimals. */
export const round = (x: number, digits = 1): number => +x.toFixed(digits);

/** Resolve after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Samples a process's RSS every `everyMs` until stopped; keeps the peak. */
export class RssSampler {
  peakMiB = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pid: number, everyMs = 200) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }
  private sample(): void {
    try {
      this.peakMiB = Math.max(this.peakMiB, rssMiB(this.pid));
    } catch {
      // the process is gone
    }
  }
  /** Stop sampling; returns the peak RSS in MiB. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return round(this.peakMiB);
  }
}

/** The command as typed (npm script or node + arguments), for the docs. */
export function commandLine(script: string): string {
  const args = process.argv.slice(2).filter((a) => a !== '--docs');
  return `node dist/bench/${script} ${args.join(' ')}`.trim();
}

/** Replace the generated block `name` under `heading` with a table and the run's raw JSON. */
export function writeSection(file: string, heading: string, name: string, m: Machine, command: string, table: string, raw: unknown): void {
  const body = [
    `Command: \`${command}\``,
    '',
    `Machine: ${machineLine(m)}; load average at start ${m.loadavg.join(' / ')}. Measured ${new Date().toISOString()}.`,
    '',
    table.trim(),
    '',
    '<details><summary>raw figures (JSON)</summary>',
    '',
    '```json',
    JSON.stringify(raw),
    '```',
    '',
    '</details>',
  ].join('\n');
  writeFileSync(file, updateBlock(readFileSync(file, 'utf8'), heading, name, body));
}
