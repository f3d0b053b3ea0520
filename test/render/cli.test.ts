// `beacon render` as a process: the exit codes a script running it with --once sees (usage problems are 2
// and nothing is written, an unreachable etcd is 4), and SIGHUP/SIGTERM of the long-running form.
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '../../src/cli/command.js';
import { EtcdCluster, freePort, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beacon } from '../helpers/process.js';
import { endpoint } from './support.js';

function workdir(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'beacon-render-cli-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('usage problems exit 2 and write nothing', async (t) => {
  const d = workdir(t);
  const good = join(d, 'good.hbs');
  writeFileSync(good, '{{#each passing.web}}{{address}}\n{{/each}}');
  const bad = join(d, 'bad.hbs');
  writeFileSync(bad, '{{#each passing.web}}\n');
  const out = join(d, 'out.conf');
  const etcd = `http://127.0.0.1:${await freePort()}`;
  const cases: [string[], RegExp][] = [
    [['render', '--template', good, '--once', '--etcd', etcd], /--template and --out are required/],
    [['render', '--template', bad, '--out', out, '--once', '--etcd', etcd], /template error: .*bad\.hbs/],
    [['render', '--template', join(d, 'missing.hbs'), '--out', out, '--once', '--etcd', etcd], /missing\.hbs/],
    [['render', '--template', good, '--out', join(d, 'no/such/dir/out.conf'), '--once', '--etcd', etcd], /--out: its directory must exist/],
    [['render', '--template', good, '--out', out, '--debounce', 'soon', '--once', '--etcd', etcd], /--debounce/],
    [['render', '--template', good, '--out', out, '--service', 'web', '--service', 'bad/name', '--once', '--etcd', etcd], /--service: must be .*\(got "bad\/name"\)/],
    [['render', '--template', good, '--out', out, '--service', '', '--once', '--etcd', etcd], /--service: must not be empty/],
  ];
  for (const [args, stderr] of cases) {
    const r = beacon(args);
    t.is(r.code, ExitCode.usage, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, stderr);
  }
  t.false(existsSync(out));
});

test('--once against an etcd that does not answer exits 4 and writes nothing', async (t) => {
  const d = workdir(t);
  const tpl = join(d, 't.hbs');
  writeFileSync(tpl, 'x');
  const out = join(d, 'out.conf');
  const r = beacon(['render', '--template', tpl, '--out', out, '--once', '--etcd', `http://127.0.0.1:${await freePort()}`]);
  t.is(r.code, ExitCode.etcdUnavailable, r.stderr);
  t.regex(r.stderr, /etcd unavailable/);
  t.false(existsSync(out));
});

test('long-running: renders, re-reads the template on SIGHUP (keeping the old one when it does not parse), exits 0 on SIGTERM', async (t) => {
  const etcd = await EtcdCluster.start();
  const d = workdir(t);
  let render: BeaconProcess | undefined;
  t.teardown(async () => {
    await render?.stop('SIGKILL');
    await etcd.destroy();
  });
  const tpl = join(d, 't.hbs');
  const out = join(d, 'out.conf');
  writeFileSync(tpl, 'v1 {{#each services.web}}{{node}}{{else}}none{{/each}}\n');
  render = new BeaconProcess(['render', '--template', tpl, '--out', out, '--debounce', '50ms', '--etcd', etcd.endpoints], { BEACON_LOG_LEVEL: 'info' });
  const read = () => (existsSync(out) ? readFileSync(out, 'utf8') : '');
  await waitFor(() => read() === 'v1 none\n', { timeoutMs: 15_000, what: 'the first render' });
  writeFileSync(tpl, 'v2 {{#each services.web}}{{node}}{{else}}none{{/each}}\n');
  render.kill('SIGHUP');
  await waitFor(() => read() === 'v2 none\n', { timeoutMs: 15_000, what: 'the render with the re-read template' });
  writeFileSync(tpl, 'v3 {{#each services.web}}\n');
  render.kill('SIGHUP');
  const failed = await render.waitLine((l) => l.msg === 'template reload failed; keeping the old one', 15_000);
  t.regex(JSON.stringify(failed), /Parse error/);
  t.is(read(), 'v2 none\n');
  render.kill('SIGTERM');
  t.is(await render.exited, ExitCode.ok, render.stderr);
});

test('long-running with --service and a reload that fails twice: only that service renders, the reload is retried, the health file is healthy again', async (t) => {
  const etcd = await EtcdCluster.start();
  const d = workdir(t);
  let render: BeaconProcess | undefined;
  t.teardown(async () => {
    await render?.stop('SIGKILL');
    await etcd.destroy();
  });
  const tpl = join(d, 't.hbs');
  const out = join(d, 'out.conf');
  const health = join(d, 'health.json');
  const counter = join(d, 'count');
  writeFileSync(tpl, '{{#each services}}{{@key}}:{{#each this}}{{node}}{{/each}} {{/each}}\n');
  const put = (service: string, node: string) =>
    etcd.etcdctl(['put', `/beacon/v1/services/${service}/${node}`, endpoint(service, node, 80)]);
  put('web', 'a');
  put('other', 'b');
  const reload = `n=$(( $(cat '${counter}' 2>/dev/null || echo 0) + 1 )); echo $n > '${counter}'; [ $n -gt 2 ]`;
  render = new BeaconProcess(['render', '--template', tpl, '--out', out, '--service', 'web', '--reload-cmd', reload, '--debounce', '50ms', '--health-file', health, '--etcd', etcd.endpoints], { BEACON_LOG_LEVEL: 'info' });
  const started = await render.waitLine((l) => l.msg === 'render started', 15_000);
  t.deepEqual(started.services, ['web']);
  const status = () => (existsSync(health) ? (JSON.parse(readFileSync(health, 'utf8')) as { healthy: boolean; lastError?: unknown }) : undefined);
  await waitFor(() => existsSync(out) && readFileSync(out, 'utf8') === 'web:a \n', { timeoutMs: 15_000, what: 'the render of web only' });
  await waitFor(() => status()?.healthy === true && readFileSync(counter, 'utf8').trim() === '3', { timeoutMs: 20_000, what: `the retried reload (stdout: ${JSON.stringify(render.lines.slice(-4))})` });
  t.is(render.withMsg('reload retry failed; the new file is in place').length, 1);
  t.is(render.withMsg('reloaded after retry').length, 1);
  t.is(status()?.lastError, undefined);
  render.kill('SIGTERM');
  t.is(await render.exited, ExitCode.ok, render.stderr);
});
