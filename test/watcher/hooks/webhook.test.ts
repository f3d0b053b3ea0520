// The webhook runner against a real HTTP server on port 0: 2xx is ok, anything else fails with the status
// and body, no answer within the timeout is a timeout.
import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhookHookConfig } from '../../../src/config/watcher.js';
import { webhookHook } from '../../../src/watcher/hooks/webhook.js';
import type { Invocation } from '../../../src/watcher/hooks/hook.js';

const inv: Invocation = {
  hook: 'web',
  attempt: 1,
  watcherId: 'w1',
  event: {
    schema: 1,
    id: 'n1.00ab.NodeFailed',
    event: 'NodeFailed',
    node: 'n1',
    time: '2024-01-01T00:00:00.000Z',
    reason: 'LeaseExpired',
    detectedBy: 'watch',
    lease: '00ab',
    bootId: 'b1',
    address: '10.0.0.7',
    previous: 'up',
  },
};

interface Seen {
  headers: IncomingMessage['headers'];
  body: string;
}

async function server(t: { teardown(fn: () => unknown): void }, handle: (res: ServerResponse) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ headers: req.headers, body });
      handle(res);
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    s.closeAllConnections();
    s.close();
  });
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/hook`, seen };
}

function hook(url: string, timeoutMs = 5_000): WebhookHookConfig {
  return {
    name: 'web',
    kind: 'webhook',
    url,
    headers: { authorization: 'Bearer t' },
    events: ['NodeFailed'],
    timeoutMs,
    retries: 0,
    backoffMs: 0,
    concurrency: 1,
    alertOnly: false,
  };
}

test('2xx: ok; the event is POSTed as JSON with an idempotency key', async (t) => {
  const { url, seen } = await server(t, (res) => res.writeHead(202).end('queued'));
  const res = await webhookHook.run(hook(url), inv, new AbortController().signal);
  t.like(res, { state: 'ok', httpStatus: 202, output: 'queued' });
  t.is(seen[0]!.headers['content-type'], 'application/json');
  t.is(seen[0]!.headers['idempotency-key'], 'n1.00ab.NodeFailed');
  t.is(seen[0]!.headers.authorization, 'Bearer t');
  t.like(JSON.parse(seen[0]!.body), { event: 'NodeFailed', node: 'n1', address: '10.0.0.7', idempotencyKey: 'n1.00ab.NodeFailed' });
});

test('non-2xx: failed with the status and the body', async (t) => {
  const { url } = await server(t, (res) => res.writeHead(503).end('try later'));
  const res = await webhookHook.run(hook(url), inv, new AbortController().signal);
  t.like(res, { state: 'failed', httpStatus: 503, output: 'try later', error: 'HTTP 503' });
});

test('no answer in time: timeout', async (t) => {
  const { url } = await server(t, () => undefined);
  const res = await webhookHook.run(hook(url, 300), inv, new AbortController().signal);
  t.is(res.state, 'timeout');
});

test('nobody listening: failed, with the reason', async (t) => {
  const { url } = await server(t, (res) => res.end());
  const res = await webhookHook.run(hook(url.replace(/:\d+\//, ':1/')), inv, new AbortController().signal);
  t.is(res.state, 'failed');
  t.regex(res.error ?? '', /ECONNREFUSED|fetch failed/);
});
