// The status stream's publisher on a real HTTP endpoint with real streaming clients: a burst of changes
// is one snapshot built once and the same bytes written to every client; nothing is sent when nothing
// changed; a stream opening gets the current state at once; shutdown ends every stream.
import test from 'ava';
import { pino } from 'pino';
import { HttpEndpoint } from '../../src/metrics/http.js';
import { LiveFeed } from '../../src/watcher/live-feed.js';
import { statusRoutes } from '../../src/watcher/status-page.js';
import type { StatusSnapshot } from '../../src/watcher/status-types.js';
import { waitFor } from '../helpers/etcd.js';

const log = pino({ level: 'silent' });

function state(nodes: string[]): Omit<StatusSnapshot, 'seq' | 'generatedAt'> {
  return {
    schema: 1,
    watcher: { id: 'w', role: 'leader', etcdAnswering: true, inSync: true, massFailure: false, endpointsSynced: true },
    invalid: { current: 0, total: 0 },
    nodes: nodes.map((name) => ({
      name, state: 'up', address: '10.0.0.1', labels: {}, registeredAt: null, agentVersion: null, ttl: null,
      facts: null, utilization: null, conditions: [], maintenance: null, leftAt: null,
    })),
    services: [],
    events: [],
    eventsTotal: 0,
    capacity: { nodes: [], services: [] },
  };
}

// A streaming client: every `status` message's data, as it arrives.
async function client(url: string, signal: AbortSignal): Promise<{ messages: string[] }> {
  const res = await fetch(url, { signal });
  const out = { messages: [] as string[] };
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data) out.messages.push(data);
      }
    }
  })();
  return out;
}

test('a burst of changes is built once and the same message reaches every client; no change, no message', async (t) => {
  let nodes = ['a'];
  let builds = 0;
  const feed = new LiveFeed({ build: () => (builds++, state(nodes)), log });
  const endpoint = new HttpEndpoint({ host: '127.0.0.1', port: 0 }, statusRoutes(feed), log);
  const { port } = await endpoint.listen();
  const ac = new AbortController();
  const run = Promise.all([endpoint.run(ac.signal), feed.run(ac.signal)]);
  const streams = new AbortController();
  t.teardown(() => (streams.abort(), ac.abort()));
  const url = `http://127.0.0.1:${port}/v1/status/stream`;
  const clients = await Promise.all([client(url, streams.signal), client(url, streams.signal), client(url, streams.signal)]);
  await waitFor(() => clients.every((c) => c.messages.length === 1), { what: 'the current state on connect' });
  t.is(feed.clientCount, 3);
  t.deepEqual(clients.map((c) => JSON.parse(c.messages[0]!).nodes.map((n: { name: string }) => n.name)), [['a'], ['a'], ['a']]);

  const before = builds;
  nodes = ['a', 'b'];
  for (let i = 0; i < 50; i++) feed.poke();
  await waitFor(() => clients.every((c) => c.messages.length === 2), { what: 'one message after the burst' });
  t.is(builds - before, 1, 'one build for 50 pokes and 3 clients');
  t.is(new Set(clients.map((c) => c.messages[1])).size, 1, 'the same bytes to every client');
  const second = JSON.parse(clients[0]!.messages[1]!) as StatusSnapshot;
  t.is(second.seq, JSON.parse(clients[0]!.messages[0]!).seq + 1);
  t.deepEqual(second.nodes.map((n) => n.name), ['a', 'b']);

  // A poke with nothing changed sends nothing (seq unchanged in /v1/status too).
  feed.poke();
  await new Promise((r) => setTimeout(r, 600));
  t.true(clients.every((c) => c.messages.length === 2));
  t.is(((await (await fetch(`http://127.0.0.1:${port}/v1/status`)).json()) as StatusSnapshot).seq, second.seq);

  // Shutdown ends the streams and resolves.
  ac.abort();
  await run;
  t.is(feed.clientCount, 0);
});
