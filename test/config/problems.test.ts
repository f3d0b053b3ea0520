// The `problems` and `api` sections: defaults, validation with the field named, and the rule file.
import test, { type ExecutionContext } from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, ConfigErrors } from '../../src/errors.js';
import { parseAgentConfig } from '../../src/config/load.js';
import { DEFAULT_API_SOCKET } from '../../src/config/api.js';
import { DEFAULT_EVENT_RETENTION_MS, loadKernelRules } from '../../src/config/problems.js';
import { DEFAULT_THRESHOLDS } from '../../src/problems/pressure.js';
import { writeConfig } from '../helpers/process.js';

const node = { name: 'n1' };
const parse = (raw: Record<string, unknown>) => parseAgentConfig({ node, ...raw }, { hostname: 'h', baseDir: '/etc/beacon' });

function problems(t: ExecutionContext, raw: Record<string, unknown>): string[] {
  const err = t.throws(() => parse(raw), { instanceOf: ConfigError });
  return err instanceof ConfigErrors ? err.errors.map((e) => e.message) : [err!.message];
}

test('no problems section: no node problem detection; the API listens on the default socket', (t) => {
  const c = parse({});
  t.is(c.problems, null);
  t.deepEqual(c.api, { socketPath: DEFAULT_API_SOCKET, mode: 0o660 });
});

test('problems: {} turns everything on with defaults', (t) => {
  const p = parse({ problems: {} }).problems!;
  t.deepEqual(p.kernel, { format: 'auto' });
  t.deepEqual(p.pressure, { intervalMs: 10_000, transitionPeriodMs: 300_000, thresholds: { ...DEFAULT_THRESHOLDS, diskIgnoreTypes: [...DEFAULT_THRESHOLDS.diskIgnoreTypes] } });
  t.is(p.eventRetentionMs, DEFAULT_EVENT_RETENTION_MS);
  t.is(p.stateFile, undefined);
});

test('every problems field', (t) => {
  const p = parse({
    problems: {
      kernel: { rules: 'rules/kernel.json', source: 'file', path: '/var/log/kern.log', format: 'raw' },
      pressure: { interval: '30s', transitionPeriod: '1m', memoryAvailablePercent: 10, diskUsedPercent: 85, diskMounts: { '/var': 80 }, diskIgnoreTypes: ['tmpfs'], pidUsedPercent: 95 },
      events: { retention: '2h' },
      stateFile: '/var/lib/beacon/state.json',
    },
  }).problems!;
  t.deepEqual(p.kernel, { rules: '/etc/beacon/rules/kernel.json', source: 'file', path: '/var/log/kern.log', format: 'raw' }, 'relative to the config file');
  t.like(p.pressure, { intervalMs: 30_000, transitionPeriodMs: 60_000, thresholds: { memoryAvailablePercent: 10, diskUsedPercent: 85, diskMounts: { '/var': 80 }, diskIgnoreTypes: ['tmpfs'], pidUsedPercent: 95 } });
  t.is(p.eventRetentionMs, 7_200_000);
  t.is(p.stateFile, '/var/lib/beacon/state.json');
  t.is(parse({ problems: { enabled: false, kernel: { source: 'kmsg' } } }).problems, null);
  t.is(parse({ problems: { kernel: { enabled: false } } }).problems!.kernel, null);
  t.is(parse({ problems: { pressure: { enabled: false } } }).problems!.pressure, null);
});

test('problems mistakes name the field', (t) => {
  t.deepEqual(problems(t, { problems: { kernel: { source: 'dmesg' } } }), ['problems.kernel.source: must be one of kmsg, journal, file (got "dmesg")']);
  t.deepEqual(problems(t, { problems: { kernel: { source: 'file' } } }), ['problems.kernel.path: is required when source is file']);
  t.deepEqual(problems(t, { problems: { kernel: { source: 'journal', path: '/var/log/x' } } }), [
    'problems.kernel.path: does not apply to the journal source (it reads journalctl -k) (got "/var/log/x")',
  ]);
  t.deepEqual(problems(t, { problems: { pressure: { diskUsedPercent: 120 } } }), ['problems.pressure.diskUsedPercent: must be a percentage from 0 to 100 (got 120)']);
  t.deepEqual(problems(t, { problems: { pressure: { diskMounts: { var: 80 } } } }), ['problems.pressure.diskMounts["var"]: must be an absolute mount point (got "var")']);
  t.deepEqual(problems(t, { problems: { events: { retention: '5s' } } }), ['problems.events.retention: must be from 10s to 720h (events live on an etcd lease) (got "5s")']);
  t.deepEqual(problems(t, { problems: { stateFile: 'state.json' } }), ['problems.stateFile: must be an absolute path (got "state.json")']);
  t.deepEqual(problems(t, { problems: { kernal: {} } }), ['problems.kernal: unknown field (did you mean "kernel"?) (got {})']);
});

test('api: socket, mode, loopback listen, off', (t) => {
  t.deepEqual(parse({ api: { socket: '/run/x/agent.sock', socketMode: '0600' } }).api, { socketPath: '/run/x/agent.sock', mode: 0o600 });
  t.deepEqual(parse({ api: { listen: '127.0.0.1:7070' } }).api, { host: '127.0.0.1', port: 7070 });
  t.deepEqual(parse({ api: { listen: '[::1]:7070' } }).api, { host: '::1', port: 7070 });
  t.is(parse({ api: { enabled: false } }).api, null);
  t.deepEqual(problems(t, { api: { listen: '0.0.0.0:7070' } }), [
    'api.listen: must be a loopback address and port, such as 127.0.0.1:7070 (the API is local only) (got "0.0.0.0:7070")',
  ]);
  t.deepEqual(problems(t, { api: { socketMode: 660 } }), ['api.socketMode: must be an octal file mode in quotes, such as "0660" (got 660)']);
  t.deepEqual(problems(t, { api: { socket: 'agent.sock' } }), ['api.socket: must be an absolute path (got "agent.sock")']);
  t.deepEqual(problems(t, { api: { socket: '/run/a.sock', listen: '127.0.0.1:1' } }), ['api.listen: listen and socket are alternatives: set one of api.listen, api.socket (got "127.0.0.1:1")']);
});

test('the kernel rule file: the shipped one by default, a named one with errors naming file and field', async (t) => {
  const shipped = await loadKernelRules({ format: 'auto' });
  t.is(shipped.source, 'kernel-monitor');
  t.true(shipped.rules.some((r) => r.reason === 'OOMKilling'));
  const bad = join(writeConfig('{}', 'x.json'), '..', 'bad-rules.json');
  writeFileSync(bad, JSON.stringify({ conditions: [], rules: [{ type: 'temporary', reason: 'Oops', pattern: 'BUG: (unclosed' }] }));
  const err = await t.throwsAsync(loadKernelRules({ rules: bad, format: 'auto' }), { instanceOf: ConfigError });
  t.regex(err!.message, /bad-rules\.json: rules\[0\]\.pattern: invalid regular expression/);
});
