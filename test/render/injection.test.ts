// Config injection through `beacon render` (beacon issue #12), end to end with a real nginx and the shipped
// template: an endpoint record whose `address` closes the upstream and opens a server block serving /etc
// (a node may write exactly this key under `beacon rbac`) sits beside a good one. The hostile record never
// reaches the template (the codec refuses an address that is not an IP), the render passes `nginx -t`, the
// good upstream is there, and nginx serves no listing of /etc.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '../../src/cli/command.js';
import { Keys } from '../../src/etcd/keys.js';
import { EtcdCluster, freePort, requireBinary, waitFor } from '../helpers/etcd.js';
import { beacon } from '../helpers/process.js';
import { TEMPLATE, fetchBody, startBackend, stopNginx } from './nginx-support.js';
import { endpoint } from './support.js';

test('a hostile endpoint address does not inject an nginx server block; the good upstream is rendered', async (t) => {
  const nginxBin = requireBinary('nginx');
  const dir = mkdtempSync(join(tmpdir(), 'beacon-inject-'));
  const out = join(dir, 'nginx.conf');
  const etcd = await EtcdCluster.start();
  const good = await startBackend('good');
  let nginx: ChildProcess | undefined;
  t.teardown(async () => {
    if (nginx) await stopNginx(nginx);
    await new Promise((r) => good.server.close(r));
    await etcd.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const keys = new Keys();
  const nginxPort = await freePort();
  const evilPort = await freePort();
  // The record of the issue, verbatim but for the port: health passing, port 80.
  const evil = `127.0.0.1:1;\n }\n server {\n listen 127.0.0.1:${evilPort};\n location / { root /etc; autoindex on; }\n }\n upstream injected {\n server 127.0.0.1`;
  etcd.etcdctl(['put', keys.endpoint('web', 'evil'), endpoint('web', 'evil', 80, { address: evil })]);
  etcd.etcdctl(['put', keys.endpoint('web', 'good'), endpoint('web', 'good', good.port)]);

  const env = { NGINX_LISTEN: `127.0.0.1:${nginxPort}`, BEACON_LOG_LEVEL: 'info' };
  const r = beacon(['render', '--template', TEMPLATE, '--out', out, '--check-cmd', `nginx -t -q -c {{staged}} -p ${dir}/`, '--etcd', etcd.endpoints, '--once'], env);
  t.is(r.code, ExitCode.ok, `render --once: ${r.stderr}${r.stdout}`);
  const conf = readFileSync(out, 'utf8');
  t.true(conf.includes(`server 127.0.0.1:${good.port}; # node good`), `the good upstream is rendered:\n${conf}`);
  t.false(conf.includes('# node evil'), 'the hostile endpoint is not rendered at all');
  for (const injected of ['autoindex', 'root /etc', `listen 127.0.0.1:${evilPort}`, 'upstream injected']) {
    t.false(conf.includes(injected), `the rendered config has no ${JSON.stringify(injected)}`);
  }

  // nginx runs the rendered file: it serves the good backend, and nothing listens where the injection asked.
  nginx = spawn(nginxBin, ['-c', out, '-p', `${dir}/`, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let nginxErr = '';
  nginx.stderr!.on('data', (d: Buffer) => (nginxErr += d.toString()));
  const body = await waitFor(() => fetchBody(nginxPort), { timeoutMs: 10_000, what: `nginx answering (stderr: ${nginxErr})` });
  t.is(body, 'good', 'nginx proxies to the good backend');
  const listing = await fetchBody(evilPort).then(
    (b) => `served: ${b.slice(0, 200)}`,
    (err: NodeJS.ErrnoException) => err.code,
  );
  t.is(listing, 'ECONNREFUSED', 'no server block listens on the injected port, so /etc is not listed');
});
