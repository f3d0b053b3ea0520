import test from 'ava';
import net, { type AddressInfo } from 'node:net';
import { tcpProbe } from '../../src/checks/tcp.js';
import { spec } from './util.js';

const NEVER = new AbortController().signal;

test('a listening port is passing; a closed one critical', async (t) => {
  const server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const s = spec('tcp', { tcp: `127.0.0.1:${port}` });
  const up = await tcpProbe(s, NEVER);
  t.deepEqual(up, { status: 'passing', output: `TCP connect 127.0.0.1:${port}: Success` });
  await new Promise<void>((r) => server.close(() => r()));
  const down = await tcpProbe(s, NEVER);
  t.is(down.status, 'critical');
  t.regex(down.output, /ECONNREFUSED/);
});

test('the deadline turns a pending connect into a timeout', async (t) => {
  const s = spec('tcp', { tcp: '127.0.0.1:9', interval: '2s', timeout: '1s' });
  const r = await tcpProbe(s, AbortSignal.abort(new DOMException('deadline', 'TimeoutError')));
  t.deepEqual(r, { status: 'critical', output: 'TCP connect 127.0.0.1:9: timed out after 1s' });
  t.deepEqual(await tcpProbe(s, AbortSignal.abort()), { status: 'critical', output: 'TCP connect 127.0.0.1:9: cancelled' });
  // Abort while connecting (the reason decides the wording).
  const ac = new AbortController();
  const pending = tcpProbe(spec('tcp', { tcp: '10.255.255.1:9', interval: '2s', timeout: '1s' }), ac.signal);
  ac.abort(new DOMException('deadline', 'TimeoutError'));
  const r2 = await pending;
  t.is(r2.status, 'critical');
  t.regex(r2.output, /timed out after 1s|ENETUNREACH|EHOSTUNREACH/);
});
