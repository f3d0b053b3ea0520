// Bad configs stop `beacon agent` and `beacon validate` with exit 2 and a message naming field and value,
// hostile ones (issue #12: deep, huge, FIFOs, past etcd's or the readers' limits) too, fast and without a stack trace.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BEACON_BIN, beacon, writeConfig } from '../helpers/process.js';

const base = (node: string, services: string) =>
  `etcd:\n  endpoints: [http://127.0.0.1:1]\nnode:\n${node}\nservices:\n${services}\n`;
const web = '  - name: web\n    port: 8080';

const cases: [string, string, RegExp][] = [
  ['port out of range', base('  name: n1', '  - name: web\n    port: 70000'), /services\[0\]\.port.*70000/],
  ['TTL below 2 s', base('  name: n1\n  ttl: 1s', web), /node\.ttl.*1s/],
  ['duplicate service names', base('  name: n1', `${web}\n${web}`), /services\[1\]\.name.*"web"/],
  ['keepalive that cannot fit the TTL', base('  name: n1\n  ttl: 3s\n  keepaliveInterval: 2s', web), /node\.keepaliveInterval.*ttl=3s/],
  ['unknown field', base('  name: n1\n  ttll: 10s', web), /node\.ttll/],
  ['wrong type', base('  name: n1', '  - name: web\n    port: eighty'), /services\[0\]\.port.*"eighty"/],
  ['bad node name', base('  name: ../etc', web), /node\.name.*"\.\.\/etc"/],
];

for (const [what, text, field] of cases) {
  test(`${what}: exit 2 naming the field`, (t) => {
    const path = writeConfig(text);
    for (const args of [['agent', '--config', path], ['validate', path]]) {
      const r = beacon(args);
      t.is(r.code, 2, `${args[0]}: ${r.stderr}`);
      t.regex(r.stderr, field, args[0]);
      t.is(r.stdout.trim(), '', 'nothing started, nothing logged');
    }
  });
}

test('a valid config validates with exit 0', (t) => {
  const r = beacon(['validate', writeConfig(base('  name: n1', web))]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /ok/);
});

test('validate reports every problem of every check and of the rule file, typos with the nearest field', (t) => {
  const rules = writeConfig(
    JSON.stringify({ conditions: [{ type: 'Stuck', reason: 'NotStuck', mesage: 'ok' }], rules: [{ type: 'permanent', condition: 'Stuck', reason: 'bad reason', pattern: '(' }] }),
    'rules.json',
  );
  const checks = [
    '      - tcp: 127.0.0.1:8080',
    '      - tcp: nohost',
    '        intervall: 5s',
    '      - http: http://127.0.0.1:8080/',
    '        interval: 2s',
    '        timeout: 3s',
    '        expectedStatus: 999',
  ].join('\n');
  const text = `problems:\n  kernel: { rules: ${rules} }\n${base('  name: n1', `${web}\n    checks:\n${checks}`)}`;
  const r = beacon(['validate', writeConfig(text)]);
  t.is(r.code, 2, r.stderr);
  for (const line of [
    'services[0].checks[1].tcp: must be host:port, e.g. 127.0.0.1:8080 or [::1]:8080 (got "nohost")',
    'services[0].checks[1].intervall: unknown field (did you mean "interval"?) (got "5s")',
    'services[0].checks[2].timeout: timeout must be less than interval: timeout=3s interval=2s (got "3s")',
    'services[0].checks[2].expectedStatus: must be an HTTP status code (100-599) or a list of them (got 999)',
  ]) {
    t.true(r.stderr.includes(line), `${line}\nin:\n${r.stderr}`);
  }
  // The rule file is read with the same reader: all its problems, typos with the nearest key.
  const rf = `${rules}: `;
  for (const line of [
    `${rf}conditions[0].message: must be a string of at most 1024 characters`,
    `${rf}conditions[0].mesage: unknown field (did you mean "message"?) (got "ok")`,
    `${rf}rules[0].reason: must be a PascalCase name such as KernelDeadlock (got "bad reason")`,
    `${rf}rules[0].pattern: invalid regular expression`,
  ]) {
    t.true(r.stderr.includes(line), `${line}\nin:\n${r.stderr}`);
  }
});

// ---- hostile configs (issue #12): each is exit 2 naming the field or the path, fast, without a stack trace ----

const STACK = /\n\s+at .+:\d+:\d+\)?$/m;
const service = (i: number) => `  - name: s${i}\n    port: ${1000 + i}`;

const hostile: [string, () => string, RegExp][] = [
  ['a config nested 3,000 levels deep', () => `node:\n  name: n1\n  labels: ${'['.repeat(3000)}${']'.repeat(3000)}\n`, /config\.yaml:3:\d+: nested deeper than 32 levels/],
  ['a request timeout of 1e12 s', () => base('  name: n1', web).replace('etcd:\n', 'etcd:\n  requestTimeout: 1e12\n'), /etcd\.requestTimeout: must be from 1ms to 5m \(got 1000000000000\)/],
  ['a dial timeout past Node timers', () => base('  name: n1', web).replace('etcd:\n', 'etcd:\n  dialTimeout: 720h\n'), /etcd\.dialTimeout: must be from 1ms to 5m \(got "720h"\)/],
  ['a TTL of a year', () => base('  name: n1\n  ttl: 8760h', web), /node\.ttl: must be from 2s to 24h .*"8760h"/],
  ['a check interval of 1e9 s', () => base('  name: n1', `${web}\n    checks:\n      - tcp: 127.0.0.1:8080\n        interval: 1000000000`), /services\[0\]\.checks\[0\]\.interval: must be from 1s to 24h/],
  ['a threshold of a billion', () => base('  name: n1', `${web}\n    checks:\n      - tcp: 127.0.0.1:8080\n        failuresBeforeCritical: 1000000000`), /services\[0\]\.checks\[0\]\.failuresBeforeCritical: must be a whole number from 0 to 1000/],
  ['130 services (past etcd\'s 128 operations per transaction)', () => base('  name: n1', Array.from({ length: 130 }, (_, i) => service(i)).join('\n')),
    /services: need 133 operations .* more than etcd's limit of 128 \(--max-txn-ops\): at most 125 services .*\(got "130 services"\)/],
  ['70 services with dns on', () => `dns: {}\n${base('  name: n1', Array.from({ length: 70 }, (_, i) => service(i)).join('\n'))}`,
    /services: need 143 operations .*limit of 128 .*at most 62 services with dns/],
  ['1,200 long labels', () => base(`  name: n1\n  labels:\n${Array.from({ length: 1200 }, (_, i) => `    k${i}: "${'v'.repeat(250)}"`).join('\n')}`, web),
    /node\.labels: must have at most 64 entries \(got "1200 entries"\)/],
  ['a label value of 300 characters', () => base(`  name: n1\n  labels: { k: "${'v'.repeat(300)}" }`, web), /node\.labels\.k: must be at most 256 characters/],
  ['100 tags', () => base('  name: n1', `${web}\n    tags: [${Array.from({ length: 100 }, (_, i) => `t${i}`).join(', ')}]`), /services\[0\]\.tags: must have at most 64 items \(got "100 items"\)/],
  ['100 meta entries', () => base('  name: n1', `${web}\n    meta: { ${Array.from({ length: 100 }, (_, i) => `m${i}: x`).join(', ')} }`), /services\[0\]\.meta: must have at most 64 entries/],
  ['40 checks on one service', () => base('  name: n1', `${web}\n    checks:\n${Array.from({ length: 40 }, (_, i) => `      - tcp: 127.0.0.1:${8000 + i}`).join('\n')}`), /services\[0\]\.checks: must have at most 32 checks \(got "40 checks"\)/],
  ['caFile that is not PEM', () => base('  name: n1', web).replace('http://127.0.0.1:1', 'https://127.0.0.1:1').replace('etcd:\n', 'etcd:\n  caFile: /etc/hostname\n'),
    /etcd\.caFile: is not a usable PEM CA bundle \(no start line\) \(got "\/etc\/hostname"\)/],
  ['caFile that is a directory', () => base('  name: n1', web).replace('http://127.0.0.1:1', 'https://127.0.0.1:1').replace('etcd:\n', 'etcd:\n  caFile: /etc\n'),
    /etcd\.caFile: is a directory, not a regular file \(got "\/etc"\)/],
  ['an alias bomb', () => `${['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`)].join('\n')}\n`,
    /config\.yaml: not usable YAML: Excessive alias count/],
];

for (const [what, text, message] of hostile) {
  test(`hostile: ${what}: exit 2 naming it, for validate and agent`, (t) => {
    const path = writeConfig(text());
    for (const args of [['validate', path], ['agent', '--config', path]]) {
      const r = beacon(args);
      t.is(r.code, 2, `${args[0]}: ${r.stderr}`);
      t.regex(r.stderr, message, args[0]);
      t.notRegex(r.stderr, STACK, `${args[0]}: no stack trace`);
      t.is(r.stdout.trim(), '', `${args[0]}: nothing started`);
    }
  });
}

test('hostile: the largest config that fits etcd\'s transaction limit validates', (t) => {
  // 125 services + live + identity + maintenance = 128 operations: the limit itself, still accepted.
  const r = beacon(['validate', writeConfig(base('  name: n1', Array.from({ length: 125 }, (_, i) => service(i)).join('\n')))]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /ok \(node n1, 125 services\)/);
});

// Spawned asynchronously: a hang must fail the test at its deadline, not block the worker.
function run(args: string[], deadlineMs: number, wrap: string[] = []): Promise<{ code: number | null; signal: string | null; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const argv = [...wrap, process.execPath, BEACON_BIN, ...args];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, ms: Date.now() - started });
    });
  });
}

test('hostile: a FIFO as the config is refused at once, not read', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-fifo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'config.yaml');
  execFileSync('mkfifo', [fifo]);
  for (const args of [['validate', fifo], ['agent', '--config', fifo]]) {
    const r = await run(args, 20_000);
    t.is(r.signal, null, `${args[0]} had to be killed at the deadline: it hung`);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, new RegExp(`${fifo.replaceAll('/', '\\/')}: is a FIFO, not a regular file`));
  }
});

test('hostile: a FIFO or a huge file as the rule file, or a FIFO as caFile, is refused naming it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-fifo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'rules.json');
  execFileSync('mkfifo', [fifo]);
  const huge = join(dir, 'huge.json');
  writeFileSync(huge, '');
  truncateSync(huge, 2 * 1024 * 1024);
  const cases: [string, RegExp][] = [
    [`problems: { kernel: { rules: ${fifo} } }\n${base('  name: n1', web)}`, /rules\.json: is a FIFO, not a regular file/],
    [`problems: { kernel: { rules: ${huge} } }\n${base('  name: n1', web)}`, /huge\.json: is larger than 1 MiB \(2 MiB\)/],
    [base('  name: n1', web).replace('http://127.0.0.1:1', 'https://127.0.0.1:1').replace('etcd:\n', `etcd:\n  caFile: ${fifo}\n`), /etcd\.caFile: is a FIFO, not a regular file/],
  ];
  for (const [text, message] of cases) {
    const r = await run(['validate', writeConfig(text)], 20_000);
    t.is(r.signal, null, 'validate hung');
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
  }
});

test('hostile: a 96 MB config is refused fast, by its size', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-huge-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.yaml');
  // Real content, not a sparse file: one label per line, as the 96 MB config of the issue.
  const line = Buffer.from('    label-with-a-long-name: value-of-the-label-that-is-long\n');
  const block = Buffer.concat(Array<Buffer>(16_384).fill(line));
  const fd = openSync(path, 'w');
  writeSync(fd, 'node:\n  name: n1\n  labels:\n');
  for (let n = 0; n < 96_000_000; n += block.length) writeSync(fd, block);
  closeSync(fd);
  // The child's own CPU time and peak RSS, measured by /usr/bin/time: neither this worker's event loop nor
  // a loaded machine (wall clock) inflates them the way they would a stopwatch here.
  if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time is not installed (Debian package "time")');
  const r = await run(['validate', path], 120_000, ['/usr/bin/time', '-f', 'time: %U s user %S s sys %M KiB']);
  t.is(r.signal, null, 'validate hung');
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /config\.yaml: is larger than 1 MiB \(\d+ bytes\): not a file beacon reads/);
  const m = /time: ([\d.]+) s user ([\d.]+) s sys (\d+) KiB/.exec(r.stderr);
  t.truthy(m, r.stderr);
  const [cpu, kib] = [Number(m![1]) + Number(m![2]), Number(m![3])];
  t.log(`refused with ${cpu.toFixed(2)} s of CPU, peak RSS ${Math.round(kib / 1024)} MiB (wall ${r.ms} ms)`);
  // Reading and parsing it took ~10 s of CPU and 1.4 GB; refusing it costs what starting Node costs.
  t.true(cpu < 4, `${cpu} s of CPU`);
  t.true(kib < 200 * 1024, `peak RSS ${kib} KiB`);
});
