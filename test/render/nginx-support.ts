// nginx for the render tests: HTTP backends on port 0, requests on fresh connections, and stopping an nginx
// master with its workers (a worker its master left behind would keep the port).
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/process.js';

/** The shipped nginx template (docs/consumers.md shows it). */
export const TEMPLATE = join(REPO_ROOT, 'examples/render/nginx.conf.hbs');

export interface Backend {
  name: string;
  port: number;
  hits: number;
  server: Server;
}

export async function startBackend(name: string): Promise<Backend> {
  const b = { name, port: 0, hits: 0 } as Backend;
  b.server = createServer((_req, res) => {
    b.hits++;
    res.end(name);
  });
  await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
  const addr = b.server.address();
  b.port = typeof addr === 'object' && addr ? addr.port : 0;
  return b;
}

// One request on a fresh connection (no keep-alive: each request is routed anew).
export function fetchBody(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(res.statusCode === 200 ? body : `HTTP ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}

export async function batch(port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await fetchBody(port));
  return out;
}

// nginx's worker pids (children of the master), so teardown can kill a worker its master left behind.
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export async function stopNginx(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
  const workers = childrenOf(proc.pid);
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM'); // fast shutdown: the master stops its workers
  const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(t);
  for (const w of workers) {
    try {
      process.kill(w, 'SIGKILL');
    } catch {
      // Already gone with its master.
    }
  }
}
