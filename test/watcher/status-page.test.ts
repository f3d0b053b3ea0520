// The live status page in a real browser (Debian's chromium, headless) against real agents, a real
// watcher process and a real etcd: nodes listed, a SIGKILLed node turning failed and an endpoint whose
// HTTP check starts failing turning critical on the open page without a reload, markup from etcd shown as
// text (no script runs, with or without the Content-Security-Policy), no serious accessibility violation,
// and the headers and methods the page is served with.
import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'puppeteer-core';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { axeViolations, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { EtcdCluster, freePort, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, REPO_ROOT, writeConfig } from '../helpers/process.js';
import { nodeEventRecord } from '../helpers/records.js';
import { watcherConfigFile } from './support.js';

let etcd: EtcdCluster;
let chrome: TestBrowser;

// A fresh bundle from the sources under test (the same script `npm run build` runs).
async function buildUi(): Promise<string> {
  const mod = (await import(pathToFileURL(join(REPO_ROOT, 'scripts/build-ui.mjs')).href)) as { buildUi(): Promise<string> };
  return mod.buildUi();
}

test.before(async () => {
  [etcd, chrome] = await Promise.all([EtcdCluster.start(), launchBrowser(), buildUi()]);
});

test.after.always(async () => {
  await chrome?.close();
  await etcd?.destroy();
});

type Teardown = { teardown(fn: () => unknown): void };

const XSS_LABEL = '<script>window.__xss = "label"</script>';
const XSS_OUTPUT = '<img src=x onerror="window.__xss = \'output\'"><b>bold?</b>';

// The HTTP server an agent's check probes: the test decides the status.
async function checkedServer(t: Teardown): Promise<{ port: number; setStatus(code: number): void }> {
  let status = 200;
  const server: Server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'text/html' });
    res.end(XSS_OUTPUT);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, setStatus: (c) => (status = c) };
}

async function agent(t: Teardown, prefix: string, node: string, extra: string[] = []): Promise<BeaconProcess> {
  const cfg = ['etcd:', `  endpoints: [${etcd.endpoints}]`, `prefix: ${prefix}`, 'node:', `  name: ${node}`, '  ttl: 2s', ...extra, ''].join('\n');
  const p = new BeaconProcess(['agent', '--config', writeConfig(cfg)]);
  t.teardown(() => p.stop('SIGKILL'));
  await p.waitLine((l) => l.msg === 'registered', 30_000);
  return p;
}

async function watcherWithPage(t: Teardown, prefix: string): Promise<string> {
  const port = await freePort();
  const w = new BeaconProcess(['watcher', '--config', watcherConfigFile({ endpoints: etcd.endpoints, prefix, id: `w-${prefix.slice(1)}` }), '--listen', `127.0.0.1:${port}`]);
  t.teardown(() => w.stop('SIGKILL'));
  await w.waitLine((l) => l.msg === 'http listening', 20_000);
  return `http://127.0.0.1:${port}`;
}

async function openPage(t: Teardown, url: string, opts: { bypassCsp?: boolean } = {}): Promise<Page> {
  const page = await chrome.browser.newPage();
  t.teardown(() => page.close().catch(() => undefined));
  if (opts.bypassCsp) await page.setBypassCSP(true);
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
  return page;
}

// The text of one cell of the page, or undefined while it is not there.
function text(page: Page, selector: string): Promise<string | undefined> {
  return page.evaluate((s) => document.querySelector(s)?.textContent ?? undefined, selector);
}

async function pageShows(page: Page, selector: string, want: string | RegExp, what: string, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  await waitFor(async () => {
    const got = await text(page, selector);
    return got !== undefined && (typeof want === 'string' ? got === want : want.test(got));
  }, { timeoutMs, intervalMs: 25, what: `${what} (${selector})` });
  return Date.now() - started;
}

test('the page lists the nodes and follows a killed node and a failing check live; etcd markup is text', async (t) => {
  const prefix = '/sp1';
  const http = await checkedServer(t);
  const [, b] = await Promise.all([
    agent(t, prefix, 'a1', [
      `  labels: { note: ${JSON.stringify(XSS_LABEL)}, rack: r1 }`,
      'services:',
      '  - name: web',
      `    port: ${http.port}`,
      '    address: 127.0.0.1',
      '    checks:',
      `      - http: http://127.0.0.1:${http.port}/`,
      '        interval: 1s',
      '        timeout: 800ms',
    ]),
    agent(t, prefix, 'b1'),
  ]);
  const base = await watcherWithPage(t, prefix);

  const page = await openPage(t, `${base}/`);
  // A marker that a reload would wipe: every later check runs on this same document.
  await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
  await pageShows(page, '[data-node="a1"] [data-state]', 'up', 'a1 up');
  await pageShows(page, '[data-node="b1"] [data-state]', 'up', 'b1 up');
  await pageShows(page, '[data-endpoint="web/a1"] [data-state]', 'passing', 'web on a1 passing');
  await pageShows(page, '[data-flag="role"] .v', 'leader', 'the watcher leading');
  await pageShows(page, '[data-flag="sync"] .v', 'in sync', 'the watcher in sync');
  t.is(await text(page, '[data-flag="etcd"] .v'), 'answering');
  t.is(await text(page, '[data-flag="guard"] .v'), 'armed');
  t.regex((await text(page, '[data-node="a1"]')) ?? '', /127\.0\.0\.1/);

  // Markup stored in etcd is visible text, and nothing of it runs or becomes an element.
  const row = (await text(page, '[data-node="a1"]')) ?? '';
  t.true(row.includes(`note=${XSS_LABEL}`), row);

  // The check starts failing: critical on the open page, with the check's output (the body, markup).
  http.setStatus(500);
  await pageShows(page, '[data-endpoint="web/a1"] [data-state]', 'critical', 'web on a1 critical');
  const output = (await text(page, '[data-endpoint="web/a1"] [data-field="output"]')) ?? '';
  t.true(output.includes(XSS_OUTPUT), output);
  const injected = await page.evaluate(() => ({
    xss: typeof (window as unknown as { __xss?: string }).__xss,
    scripts: document.querySelectorAll('#app script').length,
    images: document.querySelectorAll('#app img, #app b').length,
  }));
  t.deepEqual(injected, { xss: 'undefined', scripts: 0, images: 0 });

  // A node killed with SIGKILL: its lease expires, the page says failed.
  b.kill('SIGKILL');
  await pageShows(page, '[data-node="b1"] [data-state]', 'failed', 'b1 failed');
  await pageShows(page, '[data-event="NodeFailed"]', /NodeFailed.*b1/, 'NodeFailed event listed');

  // A registry change reaches the open page within about a second (measured from the put's return).
  const ev = nodeEventRecord({ node: 'a1', id: 'probe-latency', reason: 'LatencyProbe', lastTime: new Date().toISOString() });
  etcd.etcdctl(['put', `${prefix}/v1/events/a1/probe-latency`], JSON.stringify(ev));
  const latency = await pageShows(page, '[data-event="LatencyProbe"] .type', 'LatencyProbe', 'a node event put with etcdctl', 10_000);
  t.log(`registry change to page: ${latency} ms`);
  // The page promises 1 s; the bound leaves room for a loaded 2-core CI machine.
  t.true(latency < 2_000, `page updated ${latency} ms after the put`);

  t.true(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument === true), 'the page was never reloaded');

  // The failed node's page: the explain verdict and timeline (`beacon explain node b1`).
  await page.evaluate(() => (location.hash = '#/node/b1'));
  await pageShows(page, '[data-verdict]', /^b1 failed at \S+: its lease [0-9a-f]+ expired without a leave marker/, 'the verdict on b1');
  t.true(((await page.evaluate(() => document.querySelectorAll('[data-timeline] li').length)) ?? 0) >= 2, 'a timeline');

  // The node page: its records, its endpoints and events, from the same stream.
  await page.evaluate(() => (location.hash = '#/node/a1'));
  await pageShows(page, '[data-node-page="a1"] [data-state]', 'up', 'node page of a1');
  t.true(((await text(page, 'main')) ?? '').includes(XSS_LABEL));
  t.true(((await text(page, 'main')) ?? '').includes('LatencyProbe'));

  // Without the Content-Security-Policy's help, escaping alone keeps the markup inert.
  const naked = await openPage(t, `${base}/#/node/a1`, { bypassCsp: true });
  await pageShows(naked, '[data-node-page="a1"] [data-state]', 'up', 'node page without CSP');
  t.deepEqual(
    await naked.evaluate(() => ({
      xss: typeof (window as unknown as { __xss?: string }).__xss,
      scripts: document.querySelectorAll('#app script').length,
      images: document.querySelectorAll('#app img, #app b').length,
    })),
    { xss: 'undefined', scripts: 0, images: 0 },
  );

  // axe-core (injected, so on a page without the CSP): no serious or critical violation on either view.
  t.deepEqual(await axeViolations(naked), [], 'node page');
  await naked.evaluate(() => (location.hash = '#/'));
  await pageShows(naked, '[data-node="a1"] [data-state]', 'up', 'overview without CSP');
  t.deepEqual(await axeViolations(naked), [], 'overview');

  // A phone-width window: no horizontal scrolling of the page itself.
  await naked.setViewport({ width: 360, height: 800 });
  const overflow = await naked.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  t.true(overflow <= 0, `page wider than a 360 px window by ${overflow} px`);
});

test('the page and its data are served read-only with a strict Content-Security-Policy', async (t) => {
  const prefix = '/sp2';
  await agent(t, prefix, 'c1');
  const base = await watcherWithPage(t, prefix);
  const page = await fetch(`${base}/`);
  t.is(page.status, 200);
  t.regex(page.headers.get('content-type') ?? '', /^text\/html/);
  t.regex(page.headers.get('content-security-policy') ?? '', /^default-src 'self';/);
  t.notRegex(page.headers.get('content-security-policy') ?? '', /unsafe-inline|unsafe-eval/);
  t.is(page.headers.get('x-content-type-options'), 'nosniff');
  const body = await page.text();
  // Nothing from outside: only our own bundle and stylesheet.
  t.deepEqual([...body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]), ['/ui/app.css', '/ui/app.js', '/v1/status']);
  for (const [path, type] of [
    ['/ui/app.js', /^text\/javascript/],
    ['/ui/app.css', /^text\/css/],
    ['/v1/status', /^application\/json/],
  ] as const) {
    const r = await fetch(`${base}${path}`);
    t.is(r.status, 200, path);
    t.regex(r.headers.get('content-type') ?? '', type, path);
    t.is(r.headers.get('x-content-type-options'), 'nosniff', path);
    const text = await r.text();
    t.false(/https?:\/\/(?!127\.0\.0\.1)/.test(path.endsWith('.js') ? text.replace(/http:\/\/www\.w3\.org\/[^"']*/g, '') : ''), `${path} refers to no other host`);
  }
  const snap = await waitFor(async () => {
    const s = (await (await fetch(`${base}/v1/status`)).json()) as { nodes: { name: string; state: string }[]; seq: number };
    return s.nodes.some((n) => n.name === 'c1' && n.state === 'up') ? s : undefined;
  }, { timeoutMs: 20_000, what: 'c1 up in /v1/status' });
  t.true(snap.seq >= 1);
  // A value the codec refuses is skipped and counted, not shown; a valid one next to it is.
  etcd.etcdctl(['put', `${prefix}/v1/events/c1/bad`], '{"schema":1,"node":"c1","id":"bad","<img src=x>":1}');
  etcd.etcdctl(['put', `${prefix}/v1/events/c1/good`], JSON.stringify(nodeEventRecord({ node: 'c1', id: 'good', reason: 'GoodOne' })));
  const counted = await waitFor(async () => {
    const s = (await (await fetch(`${base}/v1/status`)).json()) as { invalid: { current: number; total: number }; events: { id: string }[] };
    return s.invalid.current === 1 && s.events.some((e) => e.id === 'good') ? s : undefined;
  }, { timeoutMs: 10_000, what: 'the bad event counted, the good one listed' });
  t.is(counted.invalid.total, 1);
  t.false(counted.events.some((e) => e.id === 'bad'));
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    for (const path of ['/', '/v1/status', '/v1/status/stream']) {
      const r = await fetch(`${base}${path}`, { method });
      t.is(r.status, 405, `${method} ${path}`);
      t.is(r.headers.get('allow'), 'GET, HEAD');
    }
  }
  // The explain route: one node by valid name.
  for (const [q, status] of [
    ['', 400],
    ['?node=c1&node=c2', 400],
    ['?node=..%2Fx', 400],
    ['?node=c1&x=1', 400],
    ['?node=nosuch', 404],
  ] as const) {
    t.is((await fetch(`${base}/v1/explain${q}`)).status, status, q);
  }
  const ex = (await (await fetch(`${base}/v1/explain?node=c1`)).json()) as { node: string; state: string; verdict: string; timeline: unknown[] };
  t.like(ex, { node: 'c1', state: 'up' });
  t.regex(ex.verdict, /^c1 is up/);

  const head = await fetch(`${base}/`, { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(await head.text(), '');

  // The stream: server-sent events, one `status` message per change, each a whole snapshot.
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const stream = await fetch(`${base}/v1/status/stream`, { signal: ac.signal });
  t.regex(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = stream.body!.getReader();
  let buf = '';
  const first = await waitFor(async () => {
    const { value } = await reader.read();
    buf += new TextDecoder().decode(value);
    return /\n\n/.test(buf.replace(/^retry: \d+\n/, '')) ? buf : undefined;
  }, { timeoutMs: 10_000, what: 'first stream message' });
  const m = /^retry: 1000\nevent: status\nid: (\d+)\ndata: (\{.*\})\n\n/.exec(first);
  t.truthy(m, first.slice(0, 200));
  const data = JSON.parse(m![2]!) as { seq: number; schema: number; nodes: { name: string }[] };
  t.is(data.schema, 1);
  t.is(String(data.seq), m![1]);
  t.deepEqual(data.nodes.map((n) => n.name), ['c1']);
});
