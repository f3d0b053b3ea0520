// The status page's capacity view in a real browser (Debian's chromium, headless) against real agents
// measuring a process in a real cgroup v1 group, a real watcher and a real etcd: per node capacity,
// reserved and used; per service reservation against use; shortage, waste and mismatch named with their
// reasons, on the open page as they appear; the same report as `beacon capacity -o json`; markup in a
// configured cgroup path (which reaches the page through the agent's error) shown as text; no serious
// accessibility violation; no horizontal scrolling at phone width.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'puppeteer-core';
import { axeViolations, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { EtcdCluster, freePort, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, REPO_ROOT, beacon, writeConfig } from '../helpers/process.js';
import { watcherConfigFile } from './support.js';

const CG = '/sys/fs/cgroup';
const TAG = `beacon-test-page-${randomBytes(4).toString('hex')}`;
const PREFIX = '/spc';
// Not a cgroup anyone has: the agent's error names it, markup and all.
const XSS_PATH = `/${TAG}-<img src=x onerror="window.__xss=1">`;

let etcd: EtcdCluster;
let chrome: TestBrowser;
let idler: ChildProcess | undefined;

test.before(async () => {
  const ui = (await import(pathToFileURL(join(REPO_ROOT, 'scripts/build-ui.mjs')).href)) as { buildUi(): Promise<string> };
  [etcd, chrome] = await Promise.all([EtcdCluster.start(), launchBrowser(), ui.buildUi()]);
});

test.after.always(async () => {
  await chrome?.close();
  await etcd?.destroy();
  if (idler && idler.exitCode === null) {
    idler.kill('SIGKILL');
    await waitFor(() => idler!.exitCode !== null || idler!.signalCode !== null, { timeoutMs: 10_000, what: 'idler exit' }).catch(() => undefined);
  }
  for (const ctl of ['cpuacct', 'memory']) {
    const dir = `${CG}/${ctl}/${TAG}`;
    await waitFor(() => {
      if (existsSync(dir)) rmdirSync(dir);
      return true;
    }, { timeoutMs: 10_000, what: `rmdir ${dir}` }).catch(() => undefined);
  }
});

type Teardown = { teardown(fn: () => unknown): void };

async function agent(t: Teardown, node: string, services: string[]): Promise<BeaconProcess> {
  const cfg = [
    'etcd:', `  endpoints: [${etcd.endpoints}]`, `prefix: ${PREFIX}`, 'node:', `  name: ${node}`, '  ttl: 3s',
    'capacity: { interval: 1s, window: 3s }', 'services:', ...services, '',
  ].join('\n');
  const p = new BeaconProcess(['agent', '--config', writeConfig(cfg)]);
  t.teardown(() => p.stop('SIGKILL'));
  await p.waitLine((l) => l.msg === 'registered', 30_000);
  return p;
}

function text(page: Page, selector: string): Promise<string | undefined> {
  return page.evaluate((s) => document.querySelector(s)?.textContent ?? undefined, selector);
}

async function pageShows(page: Page, selector: string, want: RegExp, what: string, timeoutMs = 30_000): Promise<string> {
  return waitFor(async () => {
    const got = await text(page, selector);
    return got !== undefined && want.test(got) ? got : undefined;
  }, { timeoutMs, intervalMs: 50, what: `${what} (${selector}: ${JSON.stringify(await text(page, selector))})` });
}

const injected = (page: Page) =>
  page.evaluate(() => ({
    xss: typeof (window as unknown as { __xss?: string }).__xss,
    scripts: document.querySelectorAll('#app script').length,
    images: document.querySelectorAll('#app img').length,
  }));

test('the capacity view names shortage, waste and mismatch live, as beacon capacity does; record text stays text', async (t) => {
  for (const ctl of ['cpuacct', 'memory']) t.true(existsSync(`${CG}/${ctl}/cgroup.procs`), `cgroup v1 ${ctl} is mounted at ${CG}/${ctl}`);
  // The idler: a sleeping process in its own real group.
  for (const ctl of ['cpuacct', 'memory']) mkdirSync(`${CG}/${ctl}/${TAG}`);
  idler = spawn('sleep', ['1000'], { stdio: 'ignore' });
  for (const ctl of ['cpuacct', 'memory']) writeFileSync(`${CG}/${ctl}/${TAG}/cgroup.procs`, String(idler.pid));

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const w = new BeaconProcess(['watcher', '--config', watcherConfigFile({ endpoints: etcd.endpoints, prefix: PREFIX, id: 'w-spc' }), '--listen', `127.0.0.1:${port}`]);
  t.teardown(() => w.stop('SIGKILL'));
  await w.waitLine((l) => l.msg === 'http listening', 20_000);

  // The page is open before the agents come: everything after arrives live.
  const page = await chrome.browser.newPage();
  t.teardown(() => page.close().catch(() => undefined));
  await page.goto(`${base}/`, { waitUntil: 'domcontentloaded', timeout: 60_000 });
  await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));

  const cpus = os.cpus().length;
  await Promise.all([
    // cap-a: 90 % of its memory reserved by a service using almost nothing: waste, and its CPU stranded.
    agent(t, 'cap-a', [`  - { name: idler, port: 8001, cgroup: /${TAG}, resources: { cpu: 100m, memory: ${Math.floor(os.totalmem() * 0.9)} } }`]),
    // cap-b: more CPU reserved than any node has; and a source that is no cgroup, markup in its path.
    agent(t, 'cap-b', [
      `  - { name: huge, port: 8002, resources: { cpu: ${cpus * 4} } }`,
      '  - name: ghost',
      '    port: 8003',
      `    cgroup: '${XSS_PATH}'`,
    ]),
  ]);

  await pageShows(page, '[data-capacity-node="cap-a"] [data-field="flags"]', /mismatch · cpu.*of cpu and .* of memory free: cpu stranded/, 'cap-a mismatch');
  await pageShows(page, '[data-capacity-node="cap-b"] [data-field="flags"]', new RegExp(`shortage · cpu.*reservations ${cpus * 4} cpu exceed capacity ${cpus} cpu`), 'cap-b shortage');
  await pageShows(page, '[data-capacity-service="huge/cap-b"] [data-field="flags"]', new RegExp(`shortage.*reservation of ${cpus * 4} cpu fits on no node's free capacity`), 'huge shortage');
  // Waste needs a filled window: it appears on the open page once the idler has been measured.
  const waste = await pageShows(page, '[data-capacity-service="idler/cap-a"] [data-field="flags"]', /waste · cpu.*uses 0 cpu of 0\.1 cpu reserved.*waste · memory/, 'idler waste');
  t.log(waste);
  t.regex((await text(page, '[data-capacity-service="idler/cap-a"] [data-field="cpu-used"]')) ?? '', /^0 \(0%\)$/);
  t.is(await text(page, '[data-capacity-node="cap-b"] [data-field="cpu-reserved"]'), `${cpus * 4} (400%)`);
  t.regex((await text(page, '[data-capacity-summary]')) ?? '', /shortage/);

  // The agent's error for the path with markup: the markup is visible text, nothing of it runs or renders.
  const ghost = await pageShows(page, '[data-capacity-service="ghost/cap-b"] [data-field="flags"]', /error/, 'ghost error');
  t.true(ghost.includes(`cgroup ${XSS_PATH}: no such cgroup`), ghost);
  t.true(((await text(page, '[data-capacity-service="ghost/cap-b"]')) ?? '').includes(`cgroup:${XSS_PATH}`), 'the source shown as text');
  t.deepEqual(await injected(page), { xss: 'undefined', scripts: 0, images: 0 });
  t.true(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument === true), 'the page was never reloaded');

  // The same report as `beacon capacity -o json` (the same computation; node use may move between the two
  // reads, so they are read until they agree).
  await waitFor(
    async () => {
      const page = ((await (await fetch(`${base}/v1/status`)).json()) as { capacity: unknown }).capacity;
      const r = beacon(['capacity', '-o', 'json', '--etcd', etcd.endpoints, '--prefix', PREFIX]);
      return r.code === 0 && JSON.stringify(JSON.parse(r.stdout)) === JSON.stringify(page);
    },
    { timeoutMs: 30_000, intervalMs: 500, what: '/v1/status capacity equal to beacon capacity -o json' },
  );

  // The node page: its own capacity and services.
  await page.evaluate(() => (location.hash = '#/node/cap-a'));
  await pageShows(page, '[data-node-page="cap-a"]', /cap-a/, 'node page of cap-a');
  await pageShows(page, 'main [data-capacity-node="cap-a"] [data-field="flags"]', /mismatch/, 'cap-a capacity on its page');
  t.truthy(await text(page, 'main [data-capacity-service="idler/cap-a"]'));
  t.is(await text(page, 'main [data-capacity-service="huge/cap-b"]'), undefined, 'only its own services');

  // axe-core needs a page without the Content-Security-Policy (it is injected): both views.
  const naked = await chrome.browser.newPage();
  t.teardown(() => naked.close().catch(() => undefined));
  await naked.setBypassCSP(true);
  await naked.goto(`${base}/#/node/cap-b`, { waitUntil: 'domcontentloaded', timeout: 60_000 });
  await pageShows(naked, 'main [data-capacity-service="ghost/cap-b"]', /error/, 'cap-b page without CSP');
  t.deepEqual(await injected(naked), { xss: 'undefined', scripts: 0, images: 0 }, 'escaping alone keeps the markup inert');
  t.deepEqual(await axeViolations(naked), [], 'node page');
  await naked.evaluate(() => (location.hash = '#/'));
  await pageShows(naked, '[data-capacity-node="cap-a"] [data-field="flags"]', /mismatch/, 'overview without CSP');
  t.deepEqual(await axeViolations(naked), [], 'overview');
  await naked.setViewport({ width: 360, height: 800 });
  const overflow = await naked.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  t.true(overflow <= 0, `page wider than a 360 px window by ${overflow} px`);
});
