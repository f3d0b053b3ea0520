// Memory: execa (~15 MiB) and systeminformation (~9 MiB) load only when something configured needs
// them: an exec or systemd check or the journal source for execa, pressure sampling for systeminformation.
// The agent runs for real with a loader hook that records every ES module it loads.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EtcdCluster } from '../helpers/etcd.js';
import { BeaconProcess, REPO_ROOT, writeConfig } from '../helpers/process.js';
import { agentYaml, httpServer, shortTempDir, TcpServer, waitHealth } from './health-support.js';

const PREFIX = '/t-hlazy';
let etcd: EtcdCluster;
test.before(async () => {
  etcd = await EtcdCluster.start();
});
test.after.always(async () => {
  await etcd?.destroy();
});

/** Run an agent with `rest` until `ready` holds, and return the packages it loaded. */
async function loadedPackages(t: { teardown(fn: () => unknown): void }, node: string, rest: string[], ready: () => Promise<unknown>): Promise<Set<string>> {
  const dir = shortTempDir();
  const trace = join(dir, 'imports.txt');
  const agent = new BeaconProcess(['agent', '--config', writeConfig(agentYaml(etcd, PREFIX, node, join(dir, 'a.sock'), rest))], {
    BEACON_TRACE_IMPORTS: trace,
    NODE_OPTIONS: `--import ${join(REPO_ROOT, 'test/fixtures/health/trace-imports.mjs')}`,
  });
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  await ready();
  await agent.stop('SIGTERM');
  return new Set([...readFileSync(trace, 'utf8').matchAll(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]!));
}

test('http and tcp checks load neither execa nor systeminformation', async (t) => {
  const web = await httpServer(200);
  const db = await TcpServer.start();
  t.teardown(async () => {
    await web.close();
    await db.close();
  });
  const pkgs = await loadedPackages(
    t,
    'plain',
    [
      'services:',
      '  - name: web',
      '    port: 8080',
      '    checks:',
      `      - http: http://127.0.0.1:${web.port}/`,
      '        interval: 1s',
      `      - tcp: 127.0.0.1:${db.port}`,
      '        interval: 1s',
    ],
    () => waitHealth(etcd, PREFIX, 'web', 'passing'),
  );
  t.true(pkgs.has('pino'), `the trace works: ${[...pkgs].join(', ')}`);
  t.false(pkgs.has('execa'), 'no execa');
  t.false(pkgs.has('systeminformation'), 'no systeminformation');
});

test('an exec check loads execa, pressure sampling loads systeminformation', async (t) => {
  const pkgs = await loadedPackages(
    t,
    'heavy',
    [
      'services:',
      '  - name: job',
      '    port: 9000',
      '    checks:',
      '      - exec: [/bin/true]',
      '        interval: 1s',
      'problems:',
      '  kernel: { enabled: false }',
      '  pressure: { interval: 1s }',
    ],
    async () => {
      await waitHealth(etcd, PREFIX, 'job', 'passing');
      await new Promise((r) => setTimeout(r, 1_500)); // a pressure sample or two
    },
  );
  t.true(pkgs.has('execa'));
  t.true(pkgs.has('systeminformation'));
});
