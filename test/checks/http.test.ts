import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { httpProbe, httpStatusToHealth } from '../../src/checks/http.js';
import { requireBinary } from '../helpers/etcd.js';
import { deadline, spec, tempDir } from './util.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(t: import('ava').ExecutionContext, handler: Handler): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const NEVER = new AbortController().signal;

test('status mapping: 2xx passing, 429 warning, else critical; expectedStatus overrides 2xx', (t) => {
  t.is(httpStatusToHealth(200), 'passing');
  t.is(httpStatusToHealth(204), 'passing');
  t.is(httpStatusToHealth(299), 'passing');
  t.is(httpStatusToHealth(301), 'critical');
  t.is(httpStatusToHealth(429), 'warning');
  t.is(httpStatusToHealth(500), 'critical');
  t.is(httpStatusToHealth(404), 'critical');
  t.is(httpStatusToHealth(404, [404]), 'passing');
  t.is(httpStatusToHealth(200, [204]), 'critical');
  t.is(httpStatusToHealth(429, [200]), 'warning');
});

test('a real server drives passing, warning and critical, with the body in the output', async (t) => {
  let code = 200;
  const seen: { method?: string; token?: string | string[] }[] = [];
  const base = await serve(t, (req, res) => {
    seen.push({ method: req.method!, token: req.headers['x-token'] });
    res.writeHead(code, { 'content-type': 'text/plain' });
    res.end(`state ${code}`);
  });
  const s = spec('http', { http: `${base}/healthz`, method: 'POST', headers: { 'X-Token': 'secret' } });
  let r = await httpProbe(s, NEVER);
  t.is(r.status, 'passing');
  t.is(r.output, `HTTP POST ${base}/healthz: 200 OK Output: state 200`);
  code = 429;
  r = await httpProbe(s, NEVER);
  t.is(r.status, 'warning');
  t.regex(r.output, /429 Too Many Requests Output: state 429/);
  code = 503;
  r = await httpProbe(s, NEVER);
  t.is(r.status, 'critical');
  t.regex(r.output, /503 Service Unavailable/);
  t.deepEqual(seen[0], { method: 'POST', token: 'secret' });
});

test('expectedStatus makes another status passing', async (t) => {
  const base = await serve(t, (_req, res) => res.writeHead(404).end());
  t.is((await httpProbe(spec('http', { http: base }), NEVER)).status, 'critical');
  t.is((await httpProbe(spec('http', { http: base, expectedStatus: 404 }), NEVER)).status, 'passing');
});

test('a large body is capped at 4 KiB with a note', async (t) => {
  const base = await serve(t, (_req, res) => res.writeHead(500).end('y'.repeat(10_000)));
  const r = await httpProbe(spec('http', { http: base }), NEVER);
  t.is(r.status, 'critical');
  t.regex(r.output, /\(captured 4096 of 10000 bytes\)$/);
  t.true(Buffer.byteLength(r.output) < 4096 + 200);
});

test('a refused connection is critical with the error', async (t) => {
  // Bind a port, then close it: nothing listens there any more.
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  const res = await httpProbe(spec('http', { http: `http://127.0.0.1:${port}/` }), NEVER);
  t.is(res.status, 'critical');
  t.regex(res.output, /^HTTP GET http:\/\/127\.0\.0\.1:\d+\/: .*ECONNREFUSED/);
});

test('a server that never answers times out at the deadline', async (t) => {
  const base = await serve(t, () => undefined); // accepts, never responds
  const s = spec('http', { http: base, interval: '2s', timeout: '300ms' });
  const started = Date.now();
  const r = await httpProbe(s, deadline(300));
  t.is(r.status, 'critical');
  t.regex(r.output, /timed out after 300ms/);
  t.true(Date.now() - started < 5_000);
});

test('https: verification, tlsSkipVerify and serverName (SNI)', async (t) => {
  requireBinary('openssl');
  const dir = tempDir();
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=web.internal',
    '-addext', 'subjectAltName=DNS:web.internal',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  const names: (string | false | null)[] = [];
  const server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    names.push((req.socket as import('node:tls').TLSSocket).servername);
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  const strict = await httpProbe(spec('http', { https: url }), NEVER);
  t.is(strict.status, 'critical');
  t.regex(strict.output, /self[- ]signed|certificate/i);

  const skip = await httpProbe(spec('http', { https: url, tlsSkipVerify: true, serverName: 'web.internal' }), NEVER);
  t.is(skip.status, 'passing', skip.output);
  t.is(names.at(-1), 'web.internal');

  // With verification on, the server name is what the certificate is checked against (still untrusted here).
  const named = await httpProbe(spec('http', { https: url, serverName: 'web.internal' }), NEVER);
  t.is(named.status, 'critical');
  t.notRegex(named.output, /altnames|Hostname\/IP does not match/);
});
