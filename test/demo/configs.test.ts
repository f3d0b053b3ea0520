// The configs `beacon demo` writes load with the agent's and the watcher's own loaders, show every check
// kind, keep the watcher's hold above what the demo's TTL needs, and the hook says what it would do.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { parseAgentConfig } from '../../src/config/load.js';
import { parseWatcherConfig } from '../../src/config/watcher.js';
import { DEMO_HOOK, DEMO_TTL_SECONDS, agentConfig, demoNodeNames, watcherConfig } from '../../src/demo/configs.js';

const ENDPOINT = 'http://127.0.0.1:2379';

test('every demo node config loads, with an http, a tcp and an exec check, and no local API', (t) => {
  const names = demoNodeNames(4);
  t.deepEqual(names, [
    { name: 'node1', zone: 'a' },
    { name: 'node2', zone: 'b' },
    { name: 'node3', zone: 'c' },
    { name: 'node4', zone: 'a' },
  ]);
  for (const [i, { name, zone }] of names.entries()) {
    const raw = agentConfig({ name, zone, webPort: 30000 + i, apiPort: 31000 + i, batchPort: 32000 + i, spoolDir: `/tmp/demo/${name}` }, ENDPOINT);
    const cfg = parseAgentConfig(raw, { env: {}, hostname: 'host' });
    t.is(cfg.node.name, name);
    t.is(cfg.node.ttl, DEMO_TTL_SECONDS);
    t.is(cfg.api, null, 'no local socket: several demo agents share the host');
    const kinds = cfg.services.map((s) => s.checks.map((c) => c.kind).join(','));
    t.deepEqual(kinds, ['http', 'tcp', 'exec']);
    t.deepEqual(
      cfg.services.map((s) => s.port),
      [30000 + i, 31000 + i, 32000 + i],
    );
  }
});

test('the watcher config loads: one exec remedy hook on NodeFailed, a hold the demo TTL needs, loopback HTTP', (t) => {
  const cfg = parseWatcherConfig(watcherConfig(ENDPOINT, 45678), { env: {}, hostname: 'host' });
  t.deepEqual(cfg.http?.listen, { host: '127.0.0.1', port: 45678 });
  t.is(cfg.hooks.length, 1);
  const hook = cfg.hooks[0]!;
  t.is(hook.name, DEMO_HOOK);
  t.is(hook.kind, 'exec');
  t.deepEqual(hook.events, ['NodeFailed']);
  t.false(hook.alertOnly, 'a remedy: it goes through the brakes like a real one');
  // docs/watcher.md: set hold above T/3 + 0.5 s for the TTL the nodes use.
  t.true(cfg.watcher.massFailure.holdMs > (DEMO_TTL_SECONDS * 1000) / 3 + 500);
});

test('the hook only says what it would do, with its pid', (t) => {
  const hook = parseWatcherConfig(watcherConfig(ENDPOINT, 45678), { env: {}, hostname: 'host' }).hooks[0]!;
  if (hook.kind !== 'exec') return t.fail('not an exec hook');
  const r = spawnSync(hook.command[0]!, hook.command.slice(1), { encoding: 'utf8', env: { PATH: process.env.PATH, BEACON_NODE: 'node2' } });
  t.is(r.status, 0);
  t.regex(r.stdout, /^would reboot node2 \(hook pid \d+\)\n$/);
});
