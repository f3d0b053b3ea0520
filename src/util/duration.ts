// Durations in config files: Go-style strings (`10s`, `500ms`, `1m30s`, `1h`) or plain seconds (`10`, `1.5`).
// Parsed once at load into whole milliseconds; the rest of beacon only sees numbers.
import { ConfigError } from '../errors.js';

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
const PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;
const SECONDS = /^\d+(?:\.\d+)?$/;
const EXPECTED = 'must be a duration such as "10s", "500ms", "1m30s" or a number of seconds';

/** Parse a duration into milliseconds; throws a ConfigError naming `field` when it is not one. */
export function parseDuration(value: unknown, field: string): number {
  let ms: number | undefined;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ConfigError(field, value, EXPECTED);
    if (value < 0) throw new ConfigError(field, value, 'must not be negative');
    ms = value * 1000;
  } else if (typeof value === 'string') {
    ms = parseText(value.trim());
  }
  if (ms === undefined) throw new ConfigError(field, value, EXPECTED);
  // Decimal input (`1.1s`) carries float noise: accept it when it is a whole millisecond within 1 ns.
  const whole = Math.round(ms);
  if (Math.abs(ms - whole) > 1e-6) throw new ConfigError(field, value, 'must be a whole number of milliseconds');
  if (!Number.isSafeInteger(whole)) throw new ConfigError(field, value, 'is too large');
  return whole;
}

function parseText(s: string): number | undefined {
  if (SECONDS.test(s)) return Number(s) * 1000;
  if (s === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const m = PART.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  }
  return total;
}

/** Render milliseconds the way a config would write them: 90000 → `1m30s`, 2500 → `2s500ms`, 0 → `0s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out || `${ms}ms`;
}
