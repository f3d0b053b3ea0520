// `beacon render` with a real nginx, real agents and a real etcd, using the template shipped in
// examples/render/nginx.conf.hbs (the one docs/consumers.md shows): the upstream is built from the passing
// endpoints of `web`, `nginx -t` checks every render and `nginx -s reload` applies it. A killed node leaves
// the upstream and nginx stops routing to it, though its backend still answers; a render nginx refuses
// leaves the old file in place and nginx serving.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '../../src/cli/command.js';
import { EtcdCluster, freePort, requireBinary, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beacon, writeConfig } from '../helpers/process.js';
import { TEMPLATE, batch, childrenOf, fetchBody, startBackend, stopNginx } from './nginx-support.js';

test('nginx follows the registry: all backends, then a killed node leaves the upstream; a refused render changes nothing', async (t) => {
  requireBinary('nginx');
  const dir = mkdtempSync(join(tmpdir(), 'beacon-nginx-'));
  const prefix = `${dir}/`;
  const out = join(dir, 'nginx.conf');
  const etcd = await EtcdCluster.start();
  const backends = await Promise.all(['b1', 'b2', 'b3'].map(startBackend));
  const agents: BeaconProcess[] = [];
  let render: BeaconProcess | undefined;
  let nginx: ChildProcess | undefined;
  t.teardown(async () => {
    await Promise.all([...agents.map((a) => a.stop('SIGKILL')), render?.stop('SIGKILL'), nginx ? stopNginx(nginx) : undefined]);
    await Promise.all(backends.map((b) => new Promise((r) => b.server.close(r))));
    await etcd.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  // One agent per backend, each registering it as `web` on a short lease.
  for (const [i, b] of backends.entries()) {
    const cfg = [
      'etcd:',
      `  endpoints: [${etcd.endpoints}]`,
      'node:',
      `  name: n${i + 1}`,
      '  address: { address: 127.0.0.1 }',
      '  ttl: 2s',
      'services:',
      '  - name: web',
      `    port: ${b.port}`,
      '',
    ].join('\n');
    const a = new BeaconProcess(['agent', '--config', writeConfig(cfg)], { BEACON_LOG_LEVEL: 'info' });
    agents.push(a);
  }
  await Promise.all(agents.map((a) => a.waitLine((l) => l.msg === 'registered', 30_000)));

  const nginxPort = await freePort();
  const env = { NGINX_LISTEN: `127.0.0.1:${nginxPort}`, BEACON_LOG_LEVEL: 'info' };
  const check = `nginx -t -q -c {{staged}} -p ${prefix}`;
  const reload = `nginx -s reload -c ${out} -p ${prefix}`;
  const common = ['--template', TEMPLATE, '--out', out, '--check-cmd', check, '--etcd', etcd.endpoints];

  // Bootstrap as a unit's ExecStartPre would: one checked render before nginx starts.
  const first = beacon(['render', ...common, '--once'], env);
  t.is(first.code, ExitCode.ok, first.stderr + first.stdout);
  const conf = readFileSync(out, 'utf8');
  for (const [i, b] of backends.entries()) t.true(conf.includes(`server 127.0.0.1:${b.port}; # node n${i + 1}`), `upstream has n${i + 1}`);

  nginx = spawn(requireBinary('nginx'), ['-c', out, '-p', prefix, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let nginxErr = '';
  nginx.stderr!.on('data', (d: Buffer) => (nginxErr += d.toString()));
  await waitFor(() => fetchBody(nginxPort).then(() => true), { timeoutMs: 10_000, what: `nginx listening (stderr: ${nginxErr})` });
  await waitFor(async () => new Set(await batch(nginxPort, 6)).size === 3, { timeoutMs: 10_000, what: 'requests reaching all three backends' });

  const healthFile = join(dir, 'render-health.json');
  render = new BeaconProcess(['render', ...common, '--reload-cmd', reload, '--debounce', '200ms', '--health-file', healthFile], env);
  await render.waitLine((l) => l.msg === 'render started', 15_000);
  await waitFor(() => existsSync(healthFile) && JSON.parse(readFileSync(healthFile, 'utf8')).healthy === true, { timeoutMs: 15_000, what: `a healthy status (stdout: ${JSON.stringify(render.lines.slice(-5))})` });
  t.is(render.withMsg('target replaced').length, 0, 'the rendered file was already current: not rewritten, not reloaded');

  // Kill node n2 outright: its lease expires, its endpoint goes, the render drops it and reloads nginx.
  const dead = backends[1]!;
  const oldWorkers = childrenOf(nginx.pid!);
  t.true(oldWorkers.length > 0, 'nginx has workers');
  await agents[1]!.stop('SIGKILL');
  await waitFor(() => !readFileSync(out, 'utf8').includes('# node n2'), { timeoutMs: 30_000, what: 'n2 to leave the rendered upstream' });
  await render.waitLine((l) => l.msg === 'reloaded', 15_000);
  const now = readFileSync(out, 'utf8');
  t.true(now.includes('# node n1') && now.includes('# node n3'), 'the others stay');
  // The reload starts new workers before the old ones stop accepting: wait until the old ones are gone.
  await waitFor(() => !childrenOf(nginx!.pid!).some((w) => oldWorkers.includes(w)), { timeoutMs: 15_000, what: "nginx's old workers to exit" });
  const deadHits = dead.hits;
  const served = await batch(nginxPort, 20);
  t.deepEqual([...new Set(served)].sort(), ['b1', 'b3'], 'served only by the remaining backends');
  t.is(dead.hits, deadHits, "b2's server is still up, yet nginx sent it nothing");
  t.is(await fetchBody(dead.port), 'b2', 'b2 itself still answers: the registry dropped it');

  // A template nginx refuses: the check fails, the old file stays byte for byte, nginx keeps serving.
  const badTemplate = join(dir, 'bad.conf.hbs');
  writeFileSync(badTemplate, readFileSync(TEMPLATE, 'utf8').replace('worker_processes 1;', 'worker_processes 1;\nno_such_directive on;'));
  const before = readFileSync(out, 'utf8');
  const bad = beacon(['render', '--template', badTemplate, '--out', out, '--check-cmd', check, '--reload-cmd', reload, '--etcd', etcd.endpoints, '--once'], env);
  t.is(bad.code, ExitCode.failure, bad.stderr);
  const refused = bad.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'check command refused the render; keeping the old file');
  t.truthy(refused, bad.stdout);
  t.regex(String(refused?.output), /no_such_directive/, "nginx's own complaint is in the log");
  t.is(readFileSync(out, 'utf8'), before, 'the old file stays');
  t.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.nginx.conf.beacon-')), [], 'no staged file left behind');
  const still = await batch(nginxPort, 6);
  t.deepEqual([...new Set(still)].sort(), ['b1', 'b3'], 'nginx still serves with the old config');
  t.is(nginx.exitCode, null, `nginx still running (stderr: ${nginxErr})`);
});
