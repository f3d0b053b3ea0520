// The local API refuses what a web page can send (simple cross-site POSTs, DNS-rebound hosts) and,
// with api.token, every caller without the token; `beacon maint` and `beacon check` send the token.
// Real HTTP against a real AgentApi (the handler behind it is an in-memory stand-in: pure bookkeeping).
import test from 'ava';
import { chmodSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { AgentApi, parseStatusWord, type AgentApiHandler, type MaintenanceState } from '../../src/agent/api.js';
import { CheckReportError, reportCheck } from '../../src/client/agent-api.js';
import { BeaconError } from '../../src/errors.js';
import { bearerMatches } from '../../src/util/api-guard.js';
import type { ApiConfig } from '../../src/config/api.js';
import { UnknownCheckError } from '../../src/checks/ttl.js';
import { createLogger } from '../../src/log.js';
import { freePort } from '../helpers/etcd.js';
import { execFile } from 'node:child_process';
import { BEACON_BIN } from '../helpers/process.js';

const TOKEN = 'e3b0c44298fc1c149afbf4c8996fb924-test-token';

/** What the API asked the agent to do. */
class Recorder implements AgentApiHandler {
  readonly calls: string[] = [];
  /** Each report's note, in order. */
  readonly notes: string[] = [];
  private state: MaintenanceState = { node: null, services: {} };
  reportCheck(id: string, status: string, note: string): void {
    if (id !== 'web-batch') throw new UnknownCheckError(id);
    this.calls.push(`check ${id} ${status}`);
    this.notes.push(note);
  }
  setMaintenance(service: string | undefined, reason: string | null): MaintenanceState {
    this.calls.push(`maint ${service ?? 'node'} ${reason}`);
    this.state = service === undefined ? { ...this.state, node: reason } : { ...this.state, services: reason === null ? {} : { [service]: reason } };
    return this.state;
  }
  maintenance(): MaintenanceState {
    return this.state;
  }
}

/** A running API with its recorder and its log lines. */
async function serve(t: import('ava').ExecutionContext, address: ApiConfig) {
  const handler = new Recorder();
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  const api = new AgentApi(address, handler, createLogger('debug', sink));
  await api.listen();
  const ac = new AbortController();
  const running = api.run(ac.signal);
  const stop = async () => {
    ac.abort();
    await running;
  };
  t.teardown(stop);
  return { api, handler, lines, stop };
}

interface Sent {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** One raw HTTP request; resolves the status, headers and body. */
function send(to: { port: number } | { socketPath: string }, { method = 'PUT', path = '/v1/maintenance', headers = {}, body }: Sent) {
  return new Promise<{ code: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request({ ...('port' in to ? { host: '127.0.0.1', port: to.port } : { socketPath: to.socketPath }), method, path, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Run the CLI without blocking this process, whose event loop serves the API it talks to. */
function beacon(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BEACON_BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const json = { 'content-type': 'application/json' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const reason = JSON.stringify({ reason: 'deploy' });

test('loopback port: a web page\'s simple cross-site POST is refused before it is read', async (t) => {
  const { api, handler } = await serve(t, { host: '127.0.0.1', port: 0, token: TOKEN });
  const to = { port: api.port! };
  // What a <form> or fetch(..., {mode: 'no-cors'}) on any web page sends: text/plain, Origin, Sec-Fetch-Site.
  const page = { 'content-type': 'text/plain', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };
  t.is((await send(to, { method: 'POST', headers: page, body: reason })).code, 403);
  // Even carrying the right token and JSON: browsers are refused outright.
  t.is((await send(to, { headers: { ...json, ...bearer(TOKEN), origin: 'https://evil.example' }, body: reason })).code, 403);
  t.is((await send(to, { headers: { ...json, ...bearer(TOKEN), origin: 'null' }, body: reason })).code, 403);
  t.is((await send(to, { headers: { ...json, ...bearer(TOKEN), 'sec-fetch-site': 'cross-site' }, body: reason })).code, 403);
  t.is((await send(to, { headers: { ...json, ...bearer(TOKEN), 'sec-fetch-site': 'same-origin' }, body: reason })).code, 403);
  // DNS rebinding: the page's own name, resolved to 127.0.0.1.
  t.is((await send(to, { headers: { ...json, ...bearer(TOKEN), host: `evil.example:${to.port}` }, body: reason })).code, 403);
  // Not JSON: 415, even from a caller with the token (a browser cannot send JSON cross-site without a preflight).
  const plain = await send(to, { method: 'POST', headers: { 'content-type': 'text/plain', ...bearer(TOKEN) }, body: reason });
  t.is(plain.code, 415);
  t.regex(plain.body, /application\/json/);
  t.is((await send(to, { headers: bearer(TOKEN), body: reason })).code, 415, 'no Content-Type at all');
  t.is((await send(to, { path: '/v1/check/web-batch', headers: { 'content-type': 'application/x-www-form-urlencoded', ...bearer(TOKEN) }, body: '{"status":"fail"}' })).code, 415);
  t.deepEqual(handler.calls, [], 'nothing reached the agent');
  t.deepEqual(handler.maintenance(), { node: null, services: {} });
});

test('loopback port with a token: missing or wrong token 401, the right one works', async (t) => {
  const { api, handler, lines } = await serve(t, { host: '127.0.0.1', port: 0, token: TOKEN });
  const to = { port: api.port! };
  const none = await send(to, { headers: json, body: reason });
  t.is(none.code, 401);
  t.is(none.headers['www-authenticate'], 'Bearer realm="beacon-agent"');
  t.is((await send(to, { headers: { ...json, ...bearer(`${TOKEN}x`) }, body: reason })).code, 401, 'longer');
  t.is((await send(to, { headers: { ...json, ...bearer(TOKEN.slice(0, -1)) }, body: reason })).code, 401, 'a prefix');
  t.is((await send(to, { headers: { ...json, ...bearer(TOKEN.replace('e3', 'f3')) }, body: reason })).code, 401, 'same length');
  t.is((await send(to, { headers: { ...json, authorization: `Basic ${TOKEN}` }, body: reason })).code, 401, 'not a bearer token');
  t.is((await send(to, { method: 'GET', headers: {} })).code, 401, 'reads need it too');
  t.deepEqual(handler.calls, []);
  const ok = await send(to, { headers: { ...json, ...bearer(TOKEN) }, body: reason });
  t.is(ok.code, 200, ok.body);
  t.deepEqual(JSON.parse(ok.body), { node: 'deploy', services: {} });
  t.is((await send(to, { path: '/v1/check/web-batch', headers: { 'content-type': 'application/json; charset=utf-8', ...bearer(TOKEN) }, body: '{"status":"fail"}' })).code, 200);
  t.is((await send(to, { method: 'GET', headers: { ...bearer(TOKEN), host: `localhost:${to.port}` } })).code, 200);
  t.deepEqual(handler.calls, ['maint node deploy', 'check web-batch critical']);
  // Refusals are logged, the caller's headers under their own keys; never the token.
  const refused = lines.filter((l) => l.msg === 'local API request refused');
  t.true(refused.length >= 1 && refused[0]!.code === 401);
  t.false(JSON.stringify(lines).includes(TOKEN));
  t.is(lines.find((l) => l.msg === 'local API listening')!.token, true);
});

test('loopback port without a token: works for local callers, still refuses browsers, and warns at start', async (t) => {
  const { api, handler, lines } = await serve(t, { host: '127.0.0.1', port: 0 });
  const to = { port: api.port! };
  t.is((await send(to, { method: 'POST', headers: { 'content-type': 'text/plain', origin: 'http://localhost:8080' }, body: reason })).code, 403);
  t.is((await send(to, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: reason })).code, 415);
  t.is((await send(to, { headers: json, body: reason })).code, 200);
  t.deepEqual(handler.calls, ['maint node deploy']);
  t.truthy(lines.find((l) => l.msg === 'local API on a loopback port without a token: every local user can use it' && l.level === 40));
});

test('unix socket: a token is asked for when configured; curl-style form bodies keep working', async (t) => {
  const socketPath = join(mkdtempSync(join(tmpdir(), 'beacon-api-')), 'agent.sock');
  const { handler } = await serve(t, { socketPath, mode: 0o660, token: TOKEN });
  const to = { socketPath };
  t.is((await send(to, { headers: json, body: reason })).code, 401);
  t.is((await send(to, { headers: { ...json, ...bearer(TOKEN), origin: 'https://evil.example' }, body: reason })).code, 403);
  // `curl -d` sends application/x-www-form-urlencoded: no browser reaches a unix socket, so it stays accepted.
  t.is((await send(to, { headers: { 'content-type': 'application/x-www-form-urlencoded', ...bearer(TOKEN) }, body: reason })).code, 200);
  t.deepEqual(handler.calls, ['maint node deploy']);
});

test('bearerMatches: exact match only', (t) => {
  t.true(bearerMatches(`Bearer ${TOKEN}`, TOKEN));
  t.true(bearerMatches(`bearer ${TOKEN}`, TOKEN));
  t.false(bearerMatches(undefined, TOKEN));
  t.false(bearerMatches('Bearer ', TOKEN));
  t.false(bearerMatches(`Bearer ${TOKEN} extra`, TOKEN));
  t.false(bearerMatches(TOKEN, TOKEN));
});

test('beacon maint and beacon check send the token from the config or --token-file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-api-cli-'));
  const tokenFile = join(dir, 'api-token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const port = await freePort();
  const { handler } = await serve(t, { host: '127.0.0.1', port, tokenFile });
  // The agent's own config: the CLI finds the port and the token file there (relative to the file).
  const cfg = join(dir, 'agent.yaml');
  writeFileSync(cfg, `node: { name: n1 }\napi:\n  listen: 127.0.0.1:${port}\n  tokenFile: api-token\n`, { mode: 0o640 });
  let r = await beacon(['maint', 'enable', '--reason', 'kernel upgrade', '-c', cfg]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /in maintenance: node: kernel upgrade/);
  r = await beacon(['check', 'pass', 'web-batch', '--note', 'ok', '-c', cfg]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(handler.calls, ['maint node kernel upgrade', 'check web-batch passing']);
  // A wrong token from --token-file (it wins over the config's): refused, exit 1, and the message says why.
  const wrong = join(dir, 'wrong-token');
  writeFileSync(wrong, 'not-the-token-0123456789\n', { mode: 0o600 });
  r = await beacon(['maint', 'disable', '-c', cfg, '--token-file', wrong]);
  t.is(r.code, 1);
  t.regex(r.stderr, /refused the request \(401\): missing or wrong token/);
  t.false(r.stderr.includes('not-the-token'), 'the token is never printed');
  r = await beacon(['check', 'fail', 'web-batch', '-c', cfg, '--token-file', wrong]);
  t.is(r.code, 1);
  t.regex(r.stderr, /401/);
  // A token file other users can read is a config error (exit 2), naming the file, not the token.
  chmodSync(tokenFile, 0o644);
  r = await beacon(['check', 'pass', 'web-batch', '-c', cfg]);
  t.is(r.code, 2);
  t.regex(r.stderr, /api\.tokenFile: holds a secret but is open to other users \(mode 0644\)/);
  t.false(r.stderr.includes(TOKEN));
  t.deepEqual(handler.calls, ['maint node kernel upgrade', 'check web-batch passing'], 'nothing else reached the agent');
});

test('status words: Consul\'s and the CLI\'s, nothing else (not even an object\'s own keys)', (t) => {
  t.is(parseStatusWord('pass'), 'passing');
  t.is(parseStatusWord('passing'), 'passing');
  t.is(parseStatusWord('warn'), 'warning');
  t.is(parseStatusWord('warning'), 'warning');
  t.is(parseStatusWord('fail'), 'critical');
  t.is(parseStatusWord('critical'), 'critical');
  t.is(parseStatusWord('ok'), undefined);
  t.is(parseStatusWord('toString'), undefined);
});

test('ttl reports over a unix socket reach the agent; the socket has its mode and is removed at stop', async (t) => {
  const socketPath = join(mkdtempSync(join(tmpdir(), 'beacon-api-')), 'agent.sock');
  const { handler, stop } = await serve(t, { socketPath, mode: 0o660 });
  t.is(statSync(socketPath).mode & 0o777, 0o660);

  await reportCheck({ socketPath }, 'web-batch', 'passing', 'nightly run ok');
  await reportCheck({ socketPath }, 'web-batch', 'critical', undefined);
  t.deepEqual(handler.calls, ['check web-batch passing', 'check web-batch critical']);
  t.deepEqual(handler.notes, ['nightly run ok', '']);

  const unknown = await t.throwsAsync(reportCheck({ socketPath }, 'nope', 'passing', undefined), { instanceOf: CheckReportError });
  t.is(unknown.statusCode, 404);
  t.regex(unknown.message, /no ttl check with id "nope"/);

  await stop();
  t.throws(() => statSync(socketPath));
  const down = await t.throwsAsync(reportCheck({ socketPath }, 'web-batch', 'passing', undefined), { instanceOf: CheckReportError });
  t.is(down.statusCode, undefined);
  t.regex(down.message, /cannot reach the beacon agent/);
  t.is(handler.calls.length, 2);
});

test('the socket takes the configured mode', async (t) => {
  const socketPath = join(mkdtempSync(join(tmpdir(), 'beacon-api-')), 'agent.sock');
  await serve(t, { socketPath, mode: 0o600 });
  t.is(statSync(socketPath).mode & 0o777, 0o600);
});

test('bad check reports are refused with a reason; a long note is cut', async (t) => {
  const socketPath = join(mkdtempSync(join(tmpdir(), 'beacon-api-')), 'agent.sock');
  const { handler } = await serve(t, { socketPath, mode: 0o660 });
  const to = { socketPath };
  const put = (body: string, path = '/v1/check/web-batch') => send(to, { path, body });
  t.like(await put('{"status":"ok"}'), { code: 400 });
  t.like(await put('not json'), { code: 400 });
  t.like(await put('["pass"]'), { code: 400 });
  t.like(await put('{"status":"pass","note":3}'), { code: 400 });
  const big = await put(JSON.stringify({ status: 'pass', note: 'z'.repeat(20_000) }));
  t.is(big.code, 413);
  t.regex(big.body, /body larger than 16384 bytes/);
  t.like(await send(to, { method: 'GET', path: '/v1/check/web-batch' }), { code: 405 });
  t.like(await put('{"status":"pass"}', '/v1/check/%E0%A4%A'), { code: 400 });
  t.like(await put('{}', '/v1/elsewhere'), { code: 404 });
  t.deepEqual(handler.calls, [], 'nothing reached the agent');
  t.like(await put('{"status":"warn","note":"n"}'), { code: 200 });
  // The note is cut at twice the output cap before it reaches the agent (which caps it again in bytes).
  t.like(await put(JSON.stringify({ status: 'fail', note: 'y'.repeat(9_000) })), { code: 200 });
  t.deepEqual(handler.calls, ['check web-batch warning', 'check web-batch critical']);
  t.deepEqual(handler.notes.map((n) => n.length), [1, 8192]);
});

test('a stale socket file is replaced; a live one or a non-socket is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-api-'));
  const socketPath = join(dir, 'agent.sock');
  // A socket file with nobody listening: a process that bound it and was SIGKILLed (no cleanup).
  const script = `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', script]);
  t.true(statSync(socketPath).isSocket());

  const { handler } = await serve(t, { socketPath, mode: 0o660 });
  await reportCheck({ socketPath }, 'web-batch', 'passing', undefined);
  t.deepEqual(handler.calls, ['check web-batch passing']);
  // The first server now owns the path: a second one must refuse rather than steal it.
  await t.throwsAsync(new AgentApi({ socketPath, mode: 0o660 }, new Recorder(), createLogger('silent')).listen(), { instanceOf: BeaconError, message: /in use/ });
  await reportCheck({ socketPath }, 'web-batch', 'passing', undefined);
  t.is(handler.calls.length, 2, 'the first server still answers');

  const file = join(dir, 'plain-file');
  writeFileSync(file, '');
  await t.throwsAsync(new AgentApi({ socketPath: file, mode: 0o660 }, new Recorder(), createLogger('silent')).listen(), { instanceOf: BeaconError, message: /not a socket/ });
});
