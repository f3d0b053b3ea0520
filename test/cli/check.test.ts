// `beacon check pass|warn|fail ID` end to end: the CLI reports over the agent's unix socket, the agent's
// ttl check follows, the endpoint in etcd changes; silence past the TTL turns it critical. The TTL (10 s)
// leaves room for a CLI that starts slowly on a loaded machine: a report must not race the expiry.
import test from 'ava';
import { join } from 'node:path';
import { EtcdCluster } from '../helpers/etcd.js';
import { beacon, writeConfig } from '../helpers/process.js';
import { ExitCode } from '../../src/cli/command.js';
import { agentYaml, shortTempDir, startAgent, TcpServer, waitHealth } from '../agent/health-support.js';

const PREFIX = '/t-check';

test('ttl checks fed by `beacon check` over the local socket', async (t) => {
  const etcd = await EtcdCluster.start();
  const tcp = await TcpServer.start();
  t.teardown(async () => {
    await tcp.close();
    await etcd.destroy();
  });
  const socket = join(shortTempDir(), 'agent.sock');
  const cfg = writeConfig(
    agentYaml(etcd, PREFIX, 'n1', socket, [
      'services:',
      '  - name: batch',
      '    port: 9000',
      '    checks:',
      '      - ttl: 10s',
      '        id: batch-run',
      '  - name: db',
      `    port: ${tcp.port}`,
      '    checks:',
      `      - tcp: 127.0.0.1:${tcp.port}`,
      '        id: db-tcp',
    ]),
  );
  const agent = startAgent(t, '', cfg);
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  const initial = await waitHealth(etcd, PREFIX, 'batch', 'critical');
  t.regex(String(initial.output), /no result yet/);

  const check = (...args: string[]) => beacon(['check', ...args, '--socket', socket]);
  let r = check('pass', 'batch-run', '--note', 'nightly export ok');
  t.is(r.code, ExitCode.ok, r.stderr);
  t.is((await waitHealth(etcd, PREFIX, 'batch', 'passing')).output, '1 check passing');

  r = check('warn', 'batch-run', '--note', 'export slow: 41 min');
  t.is(r.code, ExitCode.ok, r.stderr);
  t.is((await waitHealth(etcd, PREFIX, 'batch', 'warning')).output, 'ttl 10s: export slow: 41 min');

  // Consul's words work too, and --config finds the socket in the agent's config file.
  r = beacon(['check', 'critical', 'batch-run', '--note', 'export failed', '-c', cfg]);
  t.is(r.code, ExitCode.ok, r.stderr);
  t.is((await waitHealth(etcd, PREFIX, 'batch', 'critical')).output, 'ttl 10s: export failed');

  // Passing, then silence: the TTL expires and the endpoint turns critical by itself.
  t.is(check('pass', 'batch-run').code, ExitCode.ok);
  await waitHealth(etcd, PREFIX, 'batch', 'passing');
  const expired = await waitHealth(etcd, PREFIX, 'batch', 'critical', 20_000);
  t.regex(String(expired.output), /TTL expired \(no report for 10s\)/);

  // Mistakes get distinct exit codes.
  r = check('pass', 'no-such-check');
  t.is(r.code, ExitCode.notFound);
  t.regex(r.stderr, /no ttl check with id "no-such-check"/);
  t.is(check('pass', 'db-tcp').code, ExitCode.notFound, 'a check that is not a ttl check cannot be reported');
  t.is(check('maybe', 'batch-run').code, ExitCode.usage);
  t.is(check('pass').code, ExitCode.usage);
  r = beacon(['check', 'pass', 'batch-run', '--socket', join(shortTempDir(), 'nobody.sock')]);
  t.is(r.code, ExitCode.failure);
  t.regex(r.stderr, /cannot reach the beacon agent/);
  t.is(agent.withMsg('registration lost').length, 0);
});
