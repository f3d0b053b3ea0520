// Every probing check kind end to end: real servers and a fixture script drive transitions that show
// up in etcd and in `beacon services NAME -o json`; thresholds hold a flap back; a reload that changes
// one service's checks leaves the others alone.
import test from 'ava';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { REPO_ROOT, writeConfig } from '../helpers/process.js';
import { agentYaml, getJson, httpServer, shortTempDir, startAgent, TcpServer, waitHealth, type FlipServer } from './health-support.js';

const PREFIX = '/t-hchecks';
let etcd: EtcdCluster;
let web: FlipServer;
let db: TcpServer;

test.before(async () => {
  etcd = await EtcdCluster.start();
  web = await httpServer(200);
  db = await TcpServer.start();
});
test.after.always(async () => {
  await web?.close();
  await db?.close();
  await etcd?.destroy();
});

function services(codeFile: string, extraWeb: string[] = [], once = false): string[] {
  return [
    'services:',
    '  - name: web',
    '    port: 8080',
    '    checks:',
    `      - http: http://127.0.0.1:${web.port}/healthz`,
    '        interval: 1s',
    '        timeout: 500ms',
    ...extraWeb,
    '  - name: db',
    `    port: ${db.port}`,
    '    checks:',
    `      - tcp: 127.0.0.1:${db.port}`,
    '        interval: 1s',
    '        timeout: 500ms',
    '  - name: batch',
    '    port: 9000',
    '    checks:',
    `      - exec: [${join(REPO_ROOT, 'test/fixtures/health/exit-code-from.sh')}, ${codeFile}${once ? ', once' : ''}]`,
    '        interval: 1s',
    '        timeout: 900ms',
    '        failuresBeforeCritical: 2',
  ];
}

test.serial('http, tcp and exec checks drive passing → critical → passing through etcd', async (t) => {
  const dir = shortTempDir();
  const codeFile = join(dir, 'code');
  writeFileSync(codeFile, '0');
  const agent = startAgent(t, agentYaml(etcd, PREFIX, 'n1', join(dir, 'a.sock'), services(codeFile)));
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  for (const s of ['web', 'db', 'batch']) await waitHealth(etcd, PREFIX, s, 'passing');

  // http: a 500 is critical, 200 again passing; `since` moves with each change.
  const before = await waitHealth(etcd, PREFIX, 'web', 'passing');
  web.status = 500;
  const down = await waitHealth(etcd, PREFIX, 'web', 'critical');
  t.regex(String(down.output), /500/);
  t.not(down.since, before.since);
  web.status = 200;
  const up = await waitHealth(etcd, PREFIX, 'web', 'passing');
  t.is(up.output, '1 check passing');

  // tcp: refused connects are critical; listening again is passing.
  await db.close();
  const refused = await waitHealth(etcd, PREFIX, 'db', 'critical');
  t.regex(String(refused.output), /ECONNREFUSED|refused/i);
  await db.open();
  await waitHealth(etcd, PREFIX, 'db', 'passing');

  // exec: exit 1 is warning at once (Consul counts warning as a success); exit 2 is a failure and
  // turns critical at the second in a row (failuresBeforeCritical: 2).
  writeFileSync(codeFile, '1');
  const warn = await waitHealth(etcd, PREFIX, 'batch', 'warning');
  t.regex(String(warn.output), /exit code from .*: 1/);
  writeFileSync(codeFile, '2');
  await waitHealth(etcd, PREFIX, 'batch', 'critical');
  writeFileSync(codeFile, '0');
  await waitHealth(etcd, PREFIX, 'batch', 'passing');
  t.is(agent.withMsg('registration lost').length, 0);
  // Leave now (revoke at once): an expiring lease later would move the next test's revision.
  t.is(await agent.stop('SIGTERM'), 0);
});

test.serial('failuresBeforeCritical holds a single failure back; a reload changes only the service whose checks changed', async (t) => {
  const dir = shortTempDir();
  const codeFile = join(dir, 'code');
  writeFileSync(codeFile, '0');
  const yaml = (extraWeb: string[] = []) => agentYaml(etcd, PREFIX, 'n2', join(dir, 'a.sock'), services(codeFile, extraWeb, true));
  const cfg = writeConfig(yaml());
  const agent = startAgent(t, '', cfg);
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  const key = (s: string) => `${PREFIX}/v1/services/${s}/n2`;
  await waitFor(() => ['web', 'db', 'batch'].every((s) => getJson(etcd, key(s))?.health === 'passing'), { timeoutMs: 15_000, what: 'n2 passing' });

  // Exactly one failing run of the script (it removes the file), then successes: never critical.
  const batchBefore = getJson(etcd, key('batch'))!.since;
  const rev = etcd.revision();
  writeFileSync(codeFile, '2');
  await waitFor(() => !existsSync(codeFile), { timeoutMs: 5_000, what: 'the failing run' });
  await new Promise((r) => setTimeout(r, 2_500)); // two more (passing) runs
  t.is(getJson(etcd, key('batch'))?.health, 'passing', 'a single failure does not flip the endpoint');
  t.is(getJson(etcd, key('batch'))?.since, batchBefore);
  t.is(etcd.revision(), rev, 'nothing written');

  // Reload with a second http check on web only: web's checks restart, db and batch are untouched.
  const dbSince = getJson(etcd, key('db'))!.since;
  const batchSince = getJson(etcd, key('batch'))!.since;
  writeFileSync(cfg, yaml([`      - tcp: 127.0.0.1:${web.port}`, '        interval: 1s', '        timeout: 500ms']));
  const from = agent.lines.length;
  agent.kill('SIGHUP');
  await agent.waitLine((l) => l.msg === 'config reloaded', 10_000, from);
  t.truthy(agent.lines.slice(from).find((l) => l.msg === 'checks replaced' && l.service === 'web'));
  t.falsy(agent.lines.slice(from).find((l) => l.msg === 'checks replaced' && l.service !== 'web'));
  await waitFor(() => getJson(etcd, key('web'))?.output === '2 checks passing', { timeoutMs: 10_000, what: 'web with two checks' });
  t.is(getJson(etcd, key('db'))!.since, dbSince);
  t.is(getJson(etcd, key('batch'))!.since, batchSince);
});
