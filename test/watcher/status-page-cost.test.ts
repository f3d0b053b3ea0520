// Open status pages cost etcd nothing: the page is fed from the watcher's memory, so two browsers that
// load, reload, fetch the JSON and follow a change add no request to etcd, as etcd itself counts them
// (its /metrics gRPC counters). The node view's explain timeline is the documented exception (read on
// request) and is not opened here. The registry is written with etcdctl and the watcher is etcd's only other
// client; its periodic reads are slowed down (probe every 60 s, election check every 100 s) so that a
// quiet watcher makes at most one request of its own in the window, where one per page load would be many.
import test from 'ava';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { EtcdCluster, freePort, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, REPO_ROOT } from '../helpers/process.js';
import { endpointRecord, identityRecord, liveRecord, nodeEventRecord } from '../helpers/records.js';
import { parseExposition } from '../metrics/support.js';
import { watcherConfigFile } from './support.js';

let etcd: EtcdCluster;
let chrome: TestBrowser;

test.before(async () => {
  const ui = (await import(pathToFileURL(join(REPO_ROOT, 'scripts/build-ui.mjs')).href)) as { buildUi(): Promise<string> };
  [etcd, chrome] = await Promise.all([EtcdCluster.start(), launchBrowser(), ui.buildUi()]);
});

test.after.always(async () => {
  await chrome?.close();
  await etcd?.destroy();
});

// Requests etcd served, by gRPC method: unary calls started, plus messages on the Watch stream (each watch
// created or cancelled is one). Lease keepalives are left out: they are the watcher's election and witness
// leases ticking, on their own clock, whatever the pages do.
async function etcdRequests(): Promise<Map<string, number>> {
  const url = `${etcd.endpoints.split(',')[0]}/metrics`;
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  const out = new Map<string, number>();
  for (const s of parseExposition(await res.text())) {
    const method = s.labels.grpc_method;
    if (!method || method === 'LeaseKeepAlive') continue;
    const unary = s.name === 'grpc_server_started_total' && s.labels.grpc_type === 'unary';
    const watch = s.name === 'grpc_server_msg_received_total' && method === 'Watch';
    if (unary || watch) out.set(method, (out.get(method) ?? 0) + s.value);
  }
  return out;
}

function diff(a: Map<string, number>, b: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const d = (b.get(k) ?? 0) - (a.get(k) ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

test('two open status pages add no request to etcd', async (t) => {
  const prefix = '/cost';
  const lease = etcd.etcdctl(['lease', 'grant', '600']).match(/lease ([0-9a-f]+) granted/)![1]!;
  for (const node of ['n1', 'n2', 'n3']) {
    etcd.etcdctl(['put', `--lease=${lease}`, `${prefix}/v1/nodes/${node}/live`], JSON.stringify(liveRecord({ name: node, lease })));
    etcd.etcdctl(['put', `${prefix}/v1/nodes/${node}/identity`], JSON.stringify(identityRecord({ name: node, lease })));
    etcd.etcdctl(['put', `--lease=${lease}`, `${prefix}/v1/services/web/${node}`], JSON.stringify(endpointRecord({ node, lease })));
  }
  const port = await freePort();
  const config = watcherConfigFile({ endpoints: etcd.endpoints, prefix, id: 'w-cost', watcher: { probeInterval: '60s', leaseAudit: false, electionTtl: '300s' } });
  const w = new BeaconProcess(['watcher', '--config', config, '--listen', `127.0.0.1:${port}`]);
  t.teardown(() => w.stop('SIGKILL'));
  const base = `http://127.0.0.1:${port}`;
  await w.waitLine((l) => l.msg === 'in sync', 30_000);

  // Quiet: the counters stay put over two seconds (the first sync's writes and watches are done).
  let before = await etcdRequests();
  await waitFor(async () => {
    await new Promise((r) => setTimeout(r, 2_000));
    const now = await etcdRequests();
    const quiet = Object.keys(diff(before, now)).length === 0;
    before = now;
    return quiet;
  }, { timeoutMs: 60_000, intervalMs: 0, what: 'a quiet watcher (no etcd request for 2 s)' });

  const started = Date.now();
  const pages = await Promise.all([chrome.browser.newPage(), chrome.browser.newPage()]);
  t.teardown(() => Promise.all(pages.map((p) => p.close().catch(() => undefined))));
  const shows = (page: (typeof pages)[number], selector: string, what: string) =>
    waitFor(() => page.evaluate((s) => document.querySelector(s) !== null, selector), { timeoutMs: 30_000, what });
  for (const page of pages) {
    await page.goto(`${base}/`, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    await shows(page, '[data-node="n3"] [data-state="up"]', 'n3 up on the page');
    await page.reload({ waitUntil: 'domcontentloaded', timeout: 60_000 });
    await shows(page, '[data-endpoint="web/n3"] [data-state="passing"]', 'web on n3 passing after a reload');
  }
  for (let i = 0; i < 10; i++) await (await fetch(`${base}/v1/status`)).text();

  // One change, written by the test (one Put): both open pages show it, pushed, with no read by the watcher.
  const mid = await etcdRequests();
  // The election's own check (a Range every TTL/3 = 100 s) may fall in the window: at most one per 100 s.
  const own = (since: number) => Math.floor((Date.now() - since) / 100_000) + 1;
  const costs = diff(before, mid);
  t.log(`etcd requests while 2 pages loaded twice each and /v1/status was read 10 times: ${JSON.stringify(costs)} (${Date.now() - started} ms)`);
  t.true((costs.Range ?? 0) <= own(started), JSON.stringify(costs));
  t.deepEqual(Object.keys(costs).filter((m) => m !== 'Range'), [], 'no other request');
  etcd.etcdctl(['put', `${prefix}/v1/events/n2/cost-probe`], JSON.stringify(nodeEventRecord({ node: 'n2', id: 'cost-probe', reason: 'CostProbe' })));
  await Promise.all(pages.map((p) => shows(p, '[data-event="CostProbe"]', 'the new event on both pages')));
  const after = await etcdRequests();
  const change = diff(mid, after);
  t.is(change.Put, 1, 'the test\'s own put');
  t.true((change.Range ?? 0) <= own(started), JSON.stringify(change));
  t.deepEqual(Object.keys(change).filter((m) => m !== 'Range' && m !== 'Put'), [], 'no other request');
});
