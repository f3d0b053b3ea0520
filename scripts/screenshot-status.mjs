#!/usr/bin/env node
// Takes docs/img/status-page*.png (overview wide and narrow, a failed node's page) from a real run: a throwaway etcd (Debian's `etcd`), three real agents
// (one with an HTTP check against a server this script controls, which it then breaks), a real watcher with
// `--listen`, one agent SIGKILLed, one node-problem event put with etcdctl; then headless chromium
// (puppeteer-core) photographs the page wide and phone-narrow. Everything it starts is stopped at the end.
//
//   npm run build && node scripts/screenshot-status.mjs [--out docs/img]
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const out = resolve(values.out ?? join(root, 'docs', 'img'));
const work = mkdtempSync(join(tmpdir(), 'beacon-shot-'));
const children = [];
const cleanups = [];

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function waitFor(fn, what, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function start(cmd, args, stderr = 'inherit') {
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', stderr] });
  children.push(p);
  return p;
}

try {
  const [client, peer, listen] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${client}`;
  start('etcd', [
    '--data-dir', join(work, 'etcd'), '--log-level', 'error',
    '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `default=http://127.0.0.1:${peer}`,
  ], 'ignore');
  await waitFor(async () => (await fetch(`${etcdUrl}/health`)).ok, 'etcd');

  // The service `api` on node web-1 is checked over HTTP against this server; the script breaks it later.
  let status = 200;
  const api = createServer((_req, res) => {
    res.writeHead(status);
    res.end(status === 200 ? 'ok' : 'upstream timeout: <db-primary> not answering');
  });
  await new Promise((r) => api.listen(0, '127.0.0.1', r));
  cleanups.push(() => api.close());
  const apiPort = api.address().port;

  const beacon = join(root, 'bin', 'beacon.js');
  const agent = (name, labels, services) => {
    const cfg = join(work, `${name}.json`);
    writeFileSync(cfg, JSON.stringify({ etcd: { endpoints: [etcdUrl] }, node: { name, ttl: '3s', labels }, services }));
    return start(process.execPath, [beacon, 'agent', '--config', cfg]);
  };
  agent('web-1', { role: 'web', zone: 'eu-west-1a' }, [
    { name: 'api', port: apiPort, address: '127.0.0.1', tags: ['http', 'v2'], checks: [{ http: `http://127.0.0.1:${apiPort}/healthz`, interval: '1s', timeout: '500ms' }] },
    { name: 'metrics', port: 9100, address: '127.0.0.1', tags: ['prometheus'] },
  ]);
  agent('web-2', { role: 'web', zone: 'eu-west-1b' }, [{ name: 'metrics', port: 9100, address: '127.0.0.1', tags: ['prometheus'] }]);
  const doomed = agent('db-1', { role: 'db', zone: 'eu-west-1a' }, [
    { name: 'postgres', port: 5432, address: '127.0.0.1', checks: [{ tcp: '127.0.0.1:1', interval: '1s', timeout: '500ms' }] },
  ]);
  const wcfg = join(work, 'watcher.json');
  writeFileSync(wcfg, JSON.stringify({ etcd: { endpoints: [etcdUrl] }, watcher: { id: 'watcher-1', electionTtl: '3s' } }));
  start(process.execPath, [beacon, 'watcher', '--config', wcfg, '--listen', `127.0.0.1:${listen}`]);
  const base = `http://127.0.0.1:${listen}`;
  const snap = () => fetch(`${base}/v1/status`).then((r) => r.json());
  await waitFor(async () => (await snap()).nodes.filter((n) => n.state === 'up').length === 3, 'three nodes up');

  // A node that dies, an endpoint that turns critical, a node-problem event.
  doomed.kill('SIGKILL');
  status = 500;
  const event = {
    schema: 1, node: 'web-2', id: 'OOMKilling.shot', source: 'kernel-monitor', reason: 'OOMKilling',
    message: 'Out of memory: Killed process 4242 (java) total-vm:8123456kB', count: 2,
    firstTime: new Date(Date.now() - 60_000).toISOString(), lastTime: new Date().toISOString(), severity: 'warn',
  };
  const put = spawnSync('etcdctl', ['--endpoints', etcdUrl, 'put', '/beacon/v1/events/web-2/OOMKilling.shot'], { input: JSON.stringify(event), env: { ...process.env, ETCDCTL_API: '3' } });
  if (put.status !== 0) throw new Error(`etcdctl put: ${put.stderr}`);
  await waitFor(async () => {
    const s = await snap();
    return s.nodes.some((n) => n.name === 'db-1' && n.state === 'failed') && s.events.some((e) => e.type === 'NodeFailed') && s.services.some((x) => x.name === 'api' && x.endpoints[0]?.health === 'critical');
  }, 'db-1 failed, api critical');

  const profile = join(work, 'chromium');
  const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, userDataDir: profile, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  cleanups.push(() => browser.close());
  const page = await browser.newPage();
  mkdirSync(out, { recursive: true });
  for (const [file, width, height] of [['status-page.png', 1280, 900], ['status-page-narrow.png', 390, 1400]]) {
    await page.setViewport({ width, height, deviceScaleFactor: 1 });
    await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('[data-node="db-1"] [data-state="failed"]', { timeout: 30_000 });
    await page.screenshot({ path: join(out, file), fullPage: file.includes('narrow') ? false : true });
    console.log(join(out, file));
  }
  // The failed node's page with its explain timeline.
  await page.setViewport({ width: 1000, height: 700, deviceScaleFactor: 1 });
  await page.goto(`${base}/#/node/db-1`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('[data-verdict]', { timeout: 30_000 });
  await page.screenshot({ path: join(out, 'status-page-node.png'), fullPage: false });
  console.log(join(out, 'status-page-node.png'));
} finally {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  for (const p of children.reverse()) p.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
