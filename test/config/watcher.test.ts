// The watcher's config sections: defaults, every field, and errors that name the field and the value.
// The agent's loader accepts (and checks) these sections; the watcher's loader accepts the agent's.
import test, { type ExecutionContext } from 'ava';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, ConfigErrors } from '../../src/errors.js';
import { parseAgentConfig } from '../../src/config/load.js';
import { defaultWatcherId, loadWatcherConfig, parseWatcherConfig } from '../../src/config/watcher.js';

const opts = { hostname: 'host1', env: {} };
const exec = { name: 'restart', kind: 'exec', command: ['/usr/local/bin/remedy', '--hard'] };

function problems(t: ExecutionContext, raw: unknown): string[] {
  const err = t.throws(() => parseWatcherConfig(raw, opts), { instanceOf: ConfigError });
  return err instanceof ConfigErrors ? err.errors.map((e) => e.message) : [err!.message];
}

test('defaults: an empty file is a working watcher with no hooks', (t) => {
  const c = parseWatcherConfig({}, opts);
  t.deepEqual(c.watcher, {
    id: `host1-${process.pid}`,
    electionTtl: 10,
    eventRetentionMs: 3_600_000,
    probeIntervalMs: 2_000,
    cooldownMs: 600_000,
    rateLimit: { everyMs: 10_000, burst: 3 },
    massFailure: { share: 0.55, windowMs: 60_000, minNodes: 3, holdMs: 4_000 },
    leaseAudit: { enabled: true, maxRate: 1_000 },
  });
  t.deepEqual(c.hooks, []);
  t.is(c.prefix, '/beacon');
  t.deepEqual(c.etcd.endpoints, ['http://127.0.0.1:2379']);
  t.true(Object.isFrozen(c) && Object.isFrozen(c.watcher.massFailure));
});

test('every field, both hook kinds', (t) => {
  const c = parseWatcherConfig(
    {
      etcd: { endpoints: ['http://10.0.0.1:2379'] },
      prefix: '/reg',
      watcher: {
        id: 'w1',
        electionTtl: '5s',
        eventRetention: '2h',
        probeInterval: '1s',
        cooldown: '5m',
        rateLimit: { every: '30s', burst: 2 },
        massFailure: { share: 0.4, window: '2m', minNodes: 5, hold: '3s' },
      },
      hooks: [
        { ...exec, events: ['NodeFailed', 'NodeRebooted'], timeout: '1m', retries: 0, backoff: '2s', concurrency: 4, env: { ZONE: 'a' } },
        { name: 'page', kind: 'webhook', url: 'https://alerts.example/hook', headers: { Authorization: 'Bearer x' }, alertOnly: true, events: ['PartitionSuspected'] },
      ],
    },
    opts,
  );
  t.like(c.watcher, { id: 'w1', electionTtl: 5, eventRetentionMs: 7_200_000, probeIntervalMs: 1_000, cooldownMs: 300_000 });
  t.deepEqual(c.watcher.rateLimit, { everyMs: 30_000, burst: 2 });
  t.deepEqual(c.watcher.massFailure, { share: 0.4, windowMs: 120_000, minNodes: 5, holdMs: 3_000 });
  t.deepEqual(c.hooks[0], {
    name: 'restart',
    kind: 'exec',
    command: ['/usr/local/bin/remedy', '--hard'],
    env: { ZONE: 'a' },
    events: ['NodeFailed', 'NodeRebooted'],
    timeoutMs: 60_000,
    retries: 0,
    backoffMs: 2_000,
    concurrency: 4,
    alertOnly: false,
  });
  t.like(c.hooks[1], { kind: 'webhook', url: 'https://alerts.example/hook', headers: { Authorization: 'Bearer x' }, alertOnly: true });
  // Hook defaults: NodeFailed only, 30 s, two retries from 1 s, two at a time, a remedy.
  t.like(parseWatcherConfig({ hooks: [exec] }, opts).hooks[0], {
    events: ['NodeFailed'],
    timeoutMs: 30_000,
    retries: 2,
    backoffMs: 1_000,
    concurrency: 2,
    alertOnly: false,
    env: {},
  });
});

test('errors name the field and the value', (t) => {
  t.deepEqual(problems(t, { watcher: { electionTtl: '1s' } }), [
    `watcher.electionTtl: must be from 2s to 1h (etcd's minimum lease TTL is 2 s) (got "1s")`,
  ]);
  t.deepEqual(problems(t, { watcher: { massFailure: { share: 1.5 } } }), [
    'watcher.massFailure.share: must be a number greater than 0 and at most 1 (got 1.5)',
  ]);
  t.deepEqual(problems(t, { watcher: { massFailure: { hold: '2m' } } }), [
    'watcher.massFailure.hold: must be shorter than watcher.massFailure.window: window=1m hold=2m (got "2m")',
  ]);
  t.deepEqual(problems(t, { watcher: { id: 'a/b' } }), [
    'watcher.id: must be letters, digits, ".", "_" or "-", start and end with a letter or digit, no ".." (got "a/b")',
  ]);
  t.deepEqual(problems(t, { watcher: { rateLimit: { burst: 0 } } }), ['watcher.rateLimit.burst: must be a whole number from 1 to 10000 (got 0)']);
  t.deepEqual(problems(t, { hooks: [{ name: 'x', kind: 'ssh' }] }), ['hooks[0].kind: must be one of exec, webhook (got "ssh")']);
  t.deepEqual(problems(t, { hooks: [{ name: 'x', kind: 'exec' }] }), ['hooks[0].command: is required']);
  t.deepEqual(problems(t, { hooks: [{ ...exec, command: [] }] }), ['hooks[0].command: must name the program to run (got [])']);
  t.deepEqual(problems(t, { hooks: [{ ...exec, events: ['NodeExploded'] }] }), [
    'hooks[0].events[0]: must be one of NodeJoined, NodeFailed, NodeLeft, NodeRecovered, NodeRebooted, PartitionSuspected, LeaseRevoked (got "NodeExploded")',
  ]);
  t.deepEqual(problems(t, { hooks: [{ name: 'w', kind: 'webhook', url: 'ftp://x' }] }), ['hooks[0].url: must be an http:// or https:// URL (got "ftp://x")']);
  t.deepEqual(problems(t, { hooks: [{ ...exec, alertOnly: 'yes' }] }), ['hooks[0].alertOnly: must be true or false (got "yes")']);
  t.deepEqual(problems(t, { hooks: [{ ...exec, retrys: 3 }] }), ['hooks[0].retrys: unknown field (did you mean "retries"?) (got 3)']);
  t.deepEqual(problems(t, { hooks: [exec, exec] }), ['hooks[1].name: duplicate hook name: hooks[0] and hooks[1] are both "restart" (got "restart")']);
  t.deepEqual(problems(t, { hooks: { name: 'x' } }), ['hooks: must be a list (got {"name":"x"})']);
  t.deepEqual(problems(t, { hooks: [{ ...exec, env: { '1BAD': 'x' } }] }), [
    'hooks[0].env["1BAD"]: key must be a variable name (letters, digits, "_", not starting with a digit) (got "1BAD")',
  ]);
  // Several problems at once, all reported.
  t.deepEqual(problems(t, { watcher: { cooldown: 'soon' }, hooks: [{ kind: 'exec' }] }), [
    'watcher.cooldown: must be a duration such as "10s", "500ms", "1m30s" or a number of seconds (got "soon")',
    'hooks[0].name: is required',
    'hooks[0].command: is required',
  ]);
});

test('one file for agent and watcher: each loader accepts the other one\'s sections', (t) => {
  const shared = {
    etcd: { endpoints: 'http://e1:2379' },
    node: { name: 'n1', ttl: '5s' },
    services: [{ name: 'web', port: 80 }],
    watcher: { id: 'w1' },
    hooks: [exec],
  };
  const agent = parseAgentConfig(shared, opts);
  t.is(agent.node.name, 'n1');
  t.false('watcher' in agent);
  t.true(Object.isFrozen(agent));
  t.is(parseWatcherConfig(shared, opts).hooks[0]!.name, 'restart');
  // The agent checks the watcher's sections too, so `beacon validate` catches a broken hook.
  t.throws(() => parseAgentConfig({ ...shared, hooks: [{ name: 'x', kind: 'ssh' }] }, opts), {
    message: 'hooks[0].kind: must be one of exec, webhook (got "ssh")',
  });
  // Unknown top-level keys are still refused by the watcher.
  t.deepEqual(problems(t, { watchr: {} }), ['watchr: unknown field (did you mean "watcher"?) (got {})']);
});

test('--etcd and --prefix win over the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-wcfg-'));
  const path = join(dir, 'watcher.yaml');
  writeFileSync(path, 'etcd:\n  endpoints: [http://file:2379]\nprefix: /file\nwatcher:\n  id: w9\n');
  const c = await loadWatcherConfig(path, { env: {}, overrides: { etcd: 'http://flag:2379', prefix: '/flag' } });
  t.deepEqual(c.etcd.endpoints, ['http://flag:2379']);
  t.is(c.prefix, '/flag');
  t.is(c.watcher.id, 'w9');
  const none = await loadWatcherConfig(undefined, { env: { BEACON_PREFIX: '/env' }, hostname: 'h' });
  t.is(none.prefix, '/env');
});

test('the default id is one key segment built from the hostname and pid', (t) => {
  t.is(defaultWatcherId('web-1.example.com', 42), 'web-1.example.com-42');
  t.is(defaultWatcherId('_odd host!', 7), 'odd-host--7');
  t.is(defaultWatcherId(undefined, 7), 'watcher-7');
});

test('leaseAudit: a section, or false for off', (t) => {
  t.deepEqual(parseWatcherConfig({ watcher: { leaseAudit: false } }, { env: {} }).watcher.leaseAudit, { enabled: false, maxRate: 1_000 });
  t.deepEqual(parseWatcherConfig({ watcher: { leaseAudit: { maxRate: 200 } } }, { env: {} }).watcher.leaseAudit, { enabled: true, maxRate: 200 });
  t.regex(t.throws(() => parseWatcherConfig({ watcher: { leaseAudit: { maxRate: 1 } } }, { env: {} }))!.message, /watcher\.leaseAudit\.maxRate/);
});
