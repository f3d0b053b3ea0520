// Kubernetes quantities: the examples of the Kubernetes docs, the bad inputs of issue #17, and
// properties (a formatted value parses back to itself; nothing throws; every value is finite and ≥ 0).
import test from 'ava';
import fc from 'fast-check';
import { formatCpu, formatMemory, humanBytes, parseCpu, parseMemory, parseQuantity, MAX_MEMORY_BYTES } from '../../src/util/quantity.js';

const RUNS = Number(process.env.BEACON_PROP_RUNS ?? 500);

const value = (r: { value: number } | { problem: string }) => ('value' in r ? r.value : r.problem);

test('cpu quantities as a pod spec writes them', (t) => {
  t.is(value(parseCpu('500m')), 0.5);
  t.is(value(parseCpu(0.5)), 0.5);
  t.is(value(parseCpu('2')), 2);
  t.is(value(parseCpu(1)), 1);
  t.is(value(parseCpu('1.5')), 1.5);
  t.is(value(parseCpu('100m')), 0.1);
  t.is(value(parseCpu('1e-3')), 0.001);
  // Kubernetes rounds a finer request up to a millicore.
  t.is(value(parseCpu('0.0001')), 0.001);
  t.is(value(parseCpu('250000u')), 0.25);
});

test('memory quantities as a pod spec writes them', (t) => {
  t.is(value(parseMemory('256Mi')), 256 * 2 ** 20);
  t.is(value(parseMemory('1Gi')), 2 ** 30);
  t.is(value(parseMemory('1G')), 1e9);
  t.is(value(parseMemory('129e6')), 129e6);
  t.is(value(parseMemory('128974848')), 128974848);
  t.is(value(parseMemory(1024)), 1024);
  t.is(value(parseMemory('1.5Gi')), 1.5 * 2 ** 30);
  t.is(value(parseMemory('0.5')), 1, 'a fraction of a byte rounds up');
});

test('bad quantities name the problem (issue #17: -1, 1e400, 12Xi)', (t) => {
  t.is(value(parseCpu('-1')), 'must not be negative');
  t.is(value(parseCpu(-1)), 'must not be negative');
  t.is(value(parseMemory('-1')), 'must not be negative');
  t.is(value(parseMemory('1e400')), 'is too large');
  t.is(value(parseMemory(Infinity)), 'is too large');
  t.is(value(parseCpu('1e400')), 'is too large');
  t.regex(String(value(parseMemory('12Xi'))), /must be a quantity/);
  t.regex(String(value(parseMemory(''))), /must be a quantity/);
  t.regex(String(value(parseMemory('1 Gi'))), /must be a quantity/);
  t.regex(String(value(parseMemory('0x10'))), /must be a quantity/);
  t.regex(String(value(parseMemory(true))), /must be a number or a quantity/);
  t.regex(String(value(parseMemory(null))), /must be a number or a quantity/);
  t.is(value(parseMemory('9Pi')), 'must be at most 8Pi');
  t.is(value(parseCpu('2M')), 'must be at most 1000000 cores');
  t.regex(String(value(parseCpu('1'.repeat(100)))), /at most 64 characters/);
});

test('property: every formatted cpu value parses back to itself', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1_000_000_000 }), (milli) => {
      const cores = milli / 1000;
      return value(parseCpu(formatCpu(cores))) === cores;
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('property: every formatted memory value parses back to itself', (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: 0, max: MAX_MEMORY_BYTES }), fc.integer({ min: 0, max: 2 ** 23 }).map((n) => n * 2 ** 20)), (bytes) => {
      return value(parseMemory(formatMemory(bytes))) === bytes;
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('property: any input gives a finite non-negative value or a problem, never an exception', (t) => {
  const text = fc.oneof(
    fc.string({ maxLength: 70 }),
    fc.tuple(fc.constantFrom('', '-', '+'), fc.stringMatching(/^[0-9]{0,30}(\.[0-9]{0,30})?$/), fc.constantFrom('', 'Ki', 'Mi', 'Xi', 'm', 'k', 'e400', 'E-5', 'e', 'Ei')).map((p) => p.join('')),
  );
  const input = fc.oneof(text, fc.double(), fc.anything());
  fc.assert(
    fc.property(input, (v) => {
      for (const r of [parseCpu(v), parseMemory(v)]) {
        if ('value' in r && !(Number.isFinite(r.value) && r.value >= 0)) return false;
        if ('problem' in r && typeof r.problem !== 'string') return false;
      }
      const q = typeof v === 'string' ? parseQuantity(v) : { value: 0 };
      return 'problem' in q || Number.isFinite(q.value);
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('human forms', (t) => {
  t.is(humanBytes(1.5 * 2 ** 30), '1.5Gi');
  t.is(humanBytes(300 * 2 ** 20), '300Mi');
  t.is(humanBytes(512), '512');
  t.is(formatCpu(0.5), '500m');
  t.is(formatMemory(256 * 2 ** 20), '256Mi');
  t.is(formatMemory(1000), '1000');
});
