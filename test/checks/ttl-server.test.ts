import test from 'ava';
import { statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { TtlServer, parseStatusWord } from '../../src/checks/ttl-server.js';
import { CheckReportError, reportCheck } from '../../src/client/agent-api.js';
import { TtlBoard } from '../../src/checks/ttl.js';
import { BeaconError } from '../../src/errors.js';
import { silent, tempDir } from './util.js';

async function started(t: import('ava').ExecutionContext, server: TtlServer) {
  const ac = new AbortController();
  const done = server.run(ac.signal);
  await server.ready();
  const stop = async () => {
    ac.abort();
    await done;
  };
  t.teardown(stop);
  return stop;
}

function nextResult(board: TtlBoard, id: string) {
  return board.next(id, AbortSignal.timeout(5000));
}

test('status words', (t) => {
  t.is(parseStatusWord('pass'), 'passing');
  t.is(parseStatusWord('warn'), 'warning');
  t.is(parseStatusWord('fail'), 'critical');
  t.is(parseStatusWord('critical'), 'critical');
  t.is(parseStatusWord('ok'), undefined);
  t.is(parseStatusWord('toString'), undefined);
});

test('reports over a unix socket reach the board; the socket is private and removed at stop', async (t) => {
  const board = new TtlBoard();
  board.register({ id: 'web-batch', ttlMs: 60_000 });
  const socketPath = join(tempDir(), 'agent.sock');
  const stop = await started(t, new TtlServer(board, { socketPath }, silent));
  t.is(statSync(socketPath).mode & 0o777, 0o660);

  await reportCheck({ socketPath }, 'web-batch', 'passing', 'nightly run ok');
  t.deepEqual(await nextResult(board, 'web-batch'), { status: 'passing', output: 'nightly run ok' });
  await reportCheck({ socketPath }, 'web-batch', 'critical', undefined);
  t.deepEqual(await nextResult(board, 'web-batch'), { status: 'critical', output: '' });

  const unknown = await t.throwsAsync(reportCheck({ socketPath }, 'nope', 'passing', undefined), { instanceOf: CheckReportError });
  t.is(unknown.statusCode, 404);
  t.regex(unknown.message, /no ttl check with id "nope"/);

  await stop();
  t.throws(() => statSync(socketPath));
  const down = await t.throwsAsync(reportCheck({ socketPath }, 'web-batch', 'passing', undefined), { instanceOf: CheckReportError });
  t.is(down.statusCode, undefined);
  t.regex(down.message, /cannot reach the beacon agent/);
});

test('bad requests are refused with a reason', async (t) => {
  const board = new TtlBoard();
  board.register({ id: 'x', ttlMs: 60_000 });
  const socketPath = join(tempDir(), 'agent.sock');
  await started(t, new TtlServer(board, { socketPath }, silent));
  const send = (method: string, path: string, body: string) =>
    new Promise<{ code: number; body: string }>((resolve, reject) => {
      const req = http.request({ socketPath, method, path }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ code: res.statusCode!, body: b }));
      });
      req.on('error', reject);
      req.end(body);
    });
  t.like(await send('PUT', '/v1/check/x', '{"status":"ok"}'), { code: 400 });
  t.like(await send('PUT', '/v1/check/x', 'not json'), { code: 400 });
  t.like(await send('PUT', '/v1/check/x', '{"status":"pass","note":3}'), { code: 400 });
  t.like(await send('PUT', '/v1/check/x', JSON.stringify({ status: 'pass', note: 'z'.repeat(20_000) })), { code: 413 });
  t.like(await send('GET', '/v1/check/x', ''), { code: 405 });
  t.like(await send('PUT', '/v1/elsewhere', '{}'), { code: 404 });
  t.like(await send('PUT', '/v1/check/x', '{"status":"warn","note":"n"}'), { code: 200 });
  t.deepEqual(await nextResult(board, 'x'), { status: 'warning', output: 'n' });
});

test('a stale socket file is replaced; a live one or a non-socket is refused', async (t) => {
  const dir = tempDir();
  const socketPath = join(dir, 'agent.sock');
  // A socket file with nobody listening: a process that bound it and was SIGKILLed (no cleanup).
  const script = `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', script]);
  t.true(statSync(socketPath).isSocket());

  const board = new TtlBoard();
  await started(t, new TtlServer(board, { socketPath }, silent));
  // The first server now owns the path: a second one must refuse rather than steal it.
  await t.throwsAsync(new TtlServer(board, { socketPath }, silent).ready(), { instanceOf: BeaconError, message: /in use/ });

  const file = join(dir, 'plain-file');
  writeFileSync(file, '');
  await t.throwsAsync(new TtlServer(board, { socketPath: file }, silent).ready(), { message: /not a socket/ });
});

test('loopback mode on port 0; other addresses are refused', async (t) => {
  const board = new TtlBoard();
  board.register({ id: 'y', ttlMs: 60_000 });
  const server = new TtlServer(board, { host: '127.0.0.1', port: 0 }, silent);
  await started(t, server);
  t.true((server.port ?? 0) > 0);
  await reportCheck({ host: '127.0.0.1', port: server.port! }, 'y', 'passing', 'fine');
  t.deepEqual(await nextResult(board, 'y'), { status: 'passing', output: 'fine' });
  t.throws(() => new TtlServer(board, { host: '0.0.0.0', port: 0 }, silent), { message: /loopback/ });
  // The agent API's rules against web pages apply here too (src/util/api-guard.ts).
  const send = (headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: server.port!, method: 'POST', path: '/v1/check/y', headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end('{"status":"fail"}');
    });
  t.is(await send({ 'content-type': 'text/plain', origin: 'https://evil.example' }), 403);
  t.is(await send({ 'content-type': 'text/plain' }), 415);
  t.is(await send({ 'content-type': 'application/json', host: 'evil.example' }), 403);
  t.is(await send({ 'content-type': 'application/json' }), 200);
  t.deepEqual(await nextResult(board, 'y'), { status: 'critical', output: '' });
});
