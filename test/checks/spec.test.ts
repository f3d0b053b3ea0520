import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { parseChecks } from '../../src/checks/spec.js';
import { ConfigError, ConfigErrors } from '../../src/errors.js';

// The example from the Health issue, as users write it.
const ISSUE_EXAMPLE = `
services:
  - name: web
    port: 8080
    checks:
      - http: http://127.0.0.1:8080/healthz
        interval: 1s
        timeout: 500ms
      - tcp: 127.0.0.1:8080
      - exec: [/usr/local/bin/check-web, --quick]
      - systemd: web.service
      - ttl: 30s
        id: web-batch
`;

function checksOf(yaml: string) {
  const doc = parseYaml(yaml) as { services: { name: string; checks: unknown[] }[] };
  return parseChecks(doc.services[0]!.checks, 'services[0].checks', doc.services[0]!.name);
}

function rejects(t: import('ava').ExecutionContext, entries: unknown[], field: string, pattern: RegExp) {
  const err = t.throws(() => parseChecks(entries, 'services[0].checks', 'web'), { instanceOf: ConfigError });
  t.is((err as ConfigError).field, field);
  t.regex(err!.message, pattern);
  t.true(err!.message.startsWith(`${field}: `), err!.message);
}

test('the issue example parses with kinds, ids and defaults', (t) => {
  const specs = checksOf(ISSUE_EXAMPLE);
  t.deepEqual(
    specs.map((s) => [s.kind, s.id]),
    [
      ['http', 'web:http:0'],
      ['tcp', 'web:tcp:1'],
      ['exec', 'web:exec:2'],
      ['systemd', 'web:systemd:3'],
      ['ttl', 'web-batch'],
    ],
  );
  const [http, tcp, exec, systemd, ttl] = specs;
  t.like(http, { url: 'http://127.0.0.1:8080/healthz', method: 'GET', intervalMs: 1000, timeoutMs: 500, initialStatus: 'critical', tlsSkipVerify: false });
  t.like(tcp, { host: '127.0.0.1', port: 8080, intervalMs: 10_000, timeoutMs: 5_000 });
  t.deepEqual(exec!.kind === 'exec' && exec.argv, ['/usr/local/bin/check-web', '--quick']);
  t.like(systemd, { unit: 'web.service', service: 'web', field: 'services[0].checks[3]' });
  t.like(ttl, { ttlMs: 30_000 });
  t.like(http, { successBeforePassing: 0, failuresBeforeWarning: 0, failuresBeforeCritical: 0 });
  t.is(http!.name, 'http http://127.0.0.1:8080/healthz');
  t.true(Object.isFrozen(http));
});

test('default timeout is half the interval, capped at 5s', (t) => {
  const [a, b] = parseChecks([{ tcp: 'h:1', interval: '2s' }, { tcp: 'h:1', interval: '1m' }], 'c', 'web');
  t.is(a!.timeoutMs, 1000);
  t.is(b!.timeoutMs, 5000);
});

test('all options of an http check', (t) => {
  const [s] = parseChecks(
    [
      {
        https: 'https://127.0.0.1:8443/ready',
        method: 'head',
        headers: { 'X-Token': 'abc', Accept: ['text/plain', 'application/json'] },
        expectedStatus: [200, 204],
        tlsSkipVerify: true,
        serverName: 'web.internal',
        initialStatus: 'warning',
        successBeforePassing: 2,
        failuresBeforeWarning: 1,
        failuresBeforeCritical: 3,
        name: 'ready',
        id: 'web-ready',
      },
    ],
    'services[2].checks',
    'web',
  );
  t.like(s, {
    kind: 'http',
    id: 'web-ready',
    name: 'ready',
    method: 'HEAD',
    tlsSkipVerify: true,
    serverName: 'web.internal',
    initialStatus: 'warning',
    successBeforePassing: 2,
    failuresBeforeWarning: 1,
    failuresBeforeCritical: 3,
  });
  t.deepEqual(s!.kind === 'http' && s.headers, { 'X-Token': 'abc', Accept: 'text/plain, application/json' });
  t.deepEqual(s!.kind === 'http' && s.expectedStatus, [200, 204]);
});

test('exec as a string runs through /bin/sh -c; systemd bare names get .service; tcp takes [v6]:port', (t) => {
  const [e, s, c] = parseChecks([{ exec: 'test -f /run/web.ok' }, { systemd: 'web' }, { tcp: '[::1]:53' }], 'c', 'web');
  t.deepEqual(e!.kind === 'exec' && e.argv, ['/bin/sh', '-c', 'test -f /run/web.ok']);
  t.is(s!.kind === 'systemd' && s.unit, 'web.service');
  t.like(c, { host: '::1', port: 53 });
});

test('failuresBeforeWarning defaults to failuresBeforeCritical (Consul)', (t) => {
  const [s] = parseChecks([{ tcp: 'h:1', failuresBeforeCritical: 4 }], 'c', 'web');
  t.like(s, { failuresBeforeWarning: 4, failuresBeforeCritical: 4 });
});

test('unknown kind is rejected on its key', (t) => {
  rejects(t, [{ tcp: 'h:1' }, { script: '/bin/true' }], 'services[0].checks[1].script', /unknown check kind "script"/);
});

test('a check without a kind, or with two, is rejected', (t) => {
  rejects(t, [{ interval: '5s' }], 'services[0].checks[0]', /must name a check kind/);
  rejects(t, [{ http: 'http://a/', tcp: 'a:1' }], 'services[0].checks[0]', /more than one check kind: http, tcp/);
  rejects(t, ['tcp: a:1'], 'services[0].checks[0]', /must be a mapping/);
});

test('timeout must be less than the interval, naming both values', (t) => {
  rejects(t, [{ tcp: 'h:1' }, { tcp: 'h:1', interval: '2s', timeout: '2s' }], 'services[0].checks[1].timeout', /timeout must be less than interval: timeout=2s interval=2s/);
  rejects(t, [{ tcp: 'h:1', timeout: '11s' }], 'services[0].checks[0].timeout', /timeout=11s interval=10s/);
});

test('interval must be at least 1s', (t) => {
  rejects(t, [{ tcp: 'h:1', interval: '500ms' }], 'services[0].checks[0].interval', /at least 1s/);
  rejects(t, [{ tcp: 'h:1', interval: 'often' }], 'services[0].checks[0].interval', /must be a duration/);
});

test('bad targets are rejected with the field named', (t) => {
  rejects(t, [{ http: 'localhost:8080/healthz' }], 'services[0].checks[0].http', /http:\/\/ or https:\/\//);
  rejects(t, [{ https: 'http://a/' }], 'services[0].checks[0].https', /must use an https/);
  rejects(t, [{ tcp: '127.0.0.1' }], 'services[0].checks[0].tcp', /host:port/);
  rejects(t, [{ tcp: '127.0.0.1:70000' }], 'services[0].checks[0].tcp', /1-65535/);
  rejects(t, [{ exec: [] }], 'services[0].checks[0].exec', /list of strings/);
  rejects(t, [{ exec: ['/bin/x', 3] }], 'services[0].checks[0].exec', /list of strings/);
  rejects(t, [{ systemd: '--all' }], 'services[0].checks[0].systemd', /unit name/);
  rejects(t, [{ ttl: '500ms' }], 'services[0].checks[0].ttl', /at least 1s/);
});

test('options that do not fit the kind are rejected', (t) => {
  rejects(t, [{ tcp: 'h:1', method: 'GET' }], 'services[0].checks[0].method', /only to http/);
  rejects(t, [{ ttl: '30s', interval: '10s' }], 'services[0].checks[0].interval', /does not apply to ttl/);
  rejects(t, [{ http: 'http://a/', tlsSkipVerify: true }], 'services[0].checks[0].tlsSkipVerify', /only to https/);
  rejects(t, [{ http: 'http://a/', bogus: 1 }], 'services[0].checks[0].bogus', /unknown field/);
});

test('threshold and status fields are validated', (t) => {
  rejects(t, [{ tcp: 'h:1', initialStatus: 'ok' }], 'services[0].checks[0].initialStatus', /passing, warning, critical/);
  rejects(t, [{ tcp: 'h:1', successBeforePassing: -1 }], 'services[0].checks[0].successBeforePassing', /whole number/);
  rejects(
    t,
    [{ tcp: 'h:1', failuresBeforeWarning: 5, failuresBeforeCritical: 3 }],
    'services[0].checks[0].failuresBeforeWarning',
    /failuresBeforeWarning=5 failuresBeforeCritical=3/,
  );
  rejects(t, [{ http: 'http://a/', expectedStatus: 999 }], 'services[0].checks[0].expectedStatus', /100-599/);
  rejects(t, [{ http: 'http://a/', headers: { 'Bad Header': 'x' } }], 'services[0].checks[0].headers["Bad Header"]', /header name/);
});

test('ids are validated and must be unique', (t) => {
  rejects(t, [{ tcp: 'h:1', id: 'has space' }], 'services[0].checks[0].id', /letters, digits/);
  rejects(t, [{ tcp: 'h:1', id: 'x' }, { ttl: '5s', id: 'x' }], 'services[0].checks[1].id', /duplicate check id/);
});

test('a non-list is rejected', (t) => {
  const err = t.throws(() => parseChecks({ tcp: 'a:1' } as unknown as unknown[], 'services[0].checks', 'web'), { instanceOf: ConfigError });
  t.is((err as ConfigError).field, 'services[0].checks');
});

test('every bad check is reported at once, typos with the nearest key', (t) => {
  const err = t.throws(
    () => parseChecks([{ tcp: 'nohost' }, { http: 'http://a/', intervall: '5s', timout: '1s' }, { exec: ['true'] }], 'services[0].checks', 'web'),
    { instanceOf: ConfigErrors },
  ) as ConfigErrors;
  t.deepEqual(
    err.errors.map((e) => e.field),
    ['services[0].checks[0].tcp', 'services[0].checks[1].intervall', 'services[0].checks[1].timout'],
  );
  t.regex(err.errors[1]!.message, /unknown field \(did you mean "interval"\?\)/);
  t.regex(err.errors[2]!.message, /unknown field \(did you mean "timeout"\?\)/);
});

test('every bad field of every check is reported, not the first of each check', (t) => {
  const err = t.throws(
    () =>
      parseChecks(
        [
          { tcp: 'h:1' },
          { tcp: 'nohost', interval: 'often', timeout: '0s', initialStatus: 'ok', successBeforePassing: -1, method: 'GET' },
          { http: 'http://a/', timeout: '20s', expectedStatus: 999, headers: { 'Bad Header': 'x', Good: 'a\nb' }, tlsSkipVerify: true },
          { ttl: 'soon', interval: '10s', id: 'has space', name: '' },
        ],
        'services[0].checks',
        'web',
      ),
    { instanceOf: ConfigErrors },
  ) as ConfigErrors;
  t.deepEqual(
    err.errors.map((e) => e.message),
    [
      'services[0].checks[1].interval: must be a duration such as "10s", "500ms", "1m30s" or a number of seconds (got "often")',
      'services[0].checks[1].timeout: must be greater than 0 (got "0s")',
      'services[0].checks[1].initialStatus: must be one of passing, warning, critical (got "ok")',
      'services[0].checks[1].successBeforePassing: must be a whole number from 0 to 1000 (got -1)',
      'services[0].checks[1].tcp: must be host:port, e.g. 127.0.0.1:8080 or [::1]:8080 (got "nohost")',
      'services[0].checks[1].method: applies only to http checks, not tcp (got "GET")',
      'services[0].checks[2].timeout: timeout must be less than interval: timeout=20s interval=10s (got "20s")',
      'services[0].checks[2].headers["Bad Header"]: is not a valid header name (got "Bad Header")',
      'services[0].checks[2].headers.Good: must be a string (or a list of strings) without line breaks (got "a\\nb")',
      'services[0].checks[2].expectedStatus: must be an HTTP status code (100-599) or a list of them (got 999)',
      'services[0].checks[2].tlsSkipVerify: applies only to https:// URLs (got true)',
      'services[0].checks[3].id: must be 1-128 letters, digits or ".", "_", ":", "@", "-", starting with a letter or digit (got "has space")',
      'services[0].checks[3].name: must be a non-empty string of at most 256 characters (got "")',
      'services[0].checks[3].interval: does not apply to ttl checks (the ttl is the deadline) (got "10s")',
      'services[0].checks[3].ttl: must be a duration such as "10s", "500ms", "1m30s" or a number of seconds (got "soon")',
    ],
  );
});

test('typos inside a check get the nearest known field, kind keys and http options included', (t) => {
  const err = t.throws(
    () => parseChecks([{ http: 'http://a/', metod: 'HEAD', expectedStatu: 200 }, { tcp: 'h:1', htttp: 'x' }], 'services[0].checks', 'web'),
    { instanceOf: ConfigErrors },
  ) as ConfigErrors;
  t.deepEqual(
    err.errors.map((e) => e.message),
    [
      'services[0].checks[0].metod: unknown field (did you mean "method"?) (got "HEAD")',
      'services[0].checks[0].expectedStatu: unknown field (did you mean "expectedStatus"?) (got 200)',
      'services[0].checks[1].htttp: unknown field (did you mean "http"?) (got "x")',
    ],
  );
});

test('a secret in a mistyped header or field is not shown', (t) => {
  const err = t.throws(() => parseChecks([{ http: 'http://a/', headers: { 'X-Token': 'a\nb' }, apiToken: 's3cret' }], 'c', 'web'), { instanceOf: ConfigErrors }) as ConfigErrors;
  t.false(err.message.includes('s3cret'), err.message);
  t.false(err.message.includes('a\\nb'), err.message);
});
