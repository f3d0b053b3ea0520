// Shared pieces of the agent's Health tests: real HTTP/TCP servers on port 0 whose answers the test
// flips, agent configs with checks, and readers of what the agent wrote to etcd.
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beaconAsync, writeConfig } from '../helpers/process.js';

/** An HTTP server on 127.0.0.1:0 answering every request with `status` (changeable). */
export interface FlipServer {
  port: number;
  status: number;
  /** Requests served so far. */
  hits: number;
  close(): Promise<void>;
}

/** Start a FlipServer. */
export async function httpServer(status = 200): Promise<FlipServer> {
  const s: FlipServer = { port: 0, status, hits: 0, close: async () => undefined };
  const server = http.createServer((_req, res) => {
    s.hits++;
    res.writeHead(s.status, { 'content-type': 'text/plain' });
    res.end(`status ${s.status}\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.port = (server.address() as net.AddressInfo).port;
  s.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return s;
}

/** A TCP server that can stop and start listening again on the same port. */
export class TcpServer {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private constructor(readonly port: number) {}

  /** Listen on a free port. */
  static async start(): Promise<TcpServer> {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const s = new TcpServer(port);
    await s.open();
    return s;
  }

  /** Accept connections (and close them at once). */
  async open(): Promise<void> {
    const server = net.createServer((c) => {
      this.sockets.add(c);
      c.on('close', () => this.sockets.delete(c));
      c.end();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.server = server;
  }

  /** Stop listening: connects are refused. */
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const c of this.sockets) c.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

/** A short temp dir (unix socket paths must stay under 108 bytes). */
export function shortTempDir(): string {
  return mkdtempSync('/tmp/bh-');
}

/** An agent config: etcd, prefix, node (TTL 4 s), the local API on `socket`, then `rest` (YAML lines). */
export function agentYaml(etcd: EtcdCluster, prefix: string, node: string, socket: string, rest: string[]): string {
  return [
    'etcd:',
    `  endpoints: [${etcd.endpoints}]`,
    `prefix: ${prefix}`,
    `node: { name: ${node}, ttl: 4s }`,
    'api:',
    `  socket: ${socket}`,
    ...rest,
    '',
  ].join('\n');
}

/** Start an agent on a config text; stopped (SIGKILL) at teardown. */
export function startAgent(t: { teardown(fn: () => unknown): void }, yaml: string, path?: string): BeaconProcess {
  const p = new BeaconProcess(['agent', '--config', path ?? writeConfig(yaml)]);
  t.teardown(() => p.stop('SIGKILL'));
  return p;
}

/** The JSON value of a key, or undefined. */
export function getJson(etcd: EtcdCluster, key: string): Record<string, unknown> | undefined {
  const out = etcd.etcdctl(['get', key, '--print-value-only']).trim();
  return out ? (JSON.parse(out) as Record<string, unknown>) : undefined;
}

/** Keys under a prefix. */
export function keysUnder(etcd: EtcdCluster, prefix: string): string[] {
  return etcd.etcdctl(['get', prefix, '--prefix', '--keys-only']).split('\n').filter(Boolean);
}

/** One endpoint as `beacon services NAME -o json` prints it. */
export async function endpointVia(etcd: EtcdCluster, prefix: string, service: string): Promise<Record<string, unknown> | undefined> {
  const r = await beaconAsync(['services', service, '-o', 'json', '--etcd', etcd.endpoints, '--prefix', prefix]);
  if (r.code !== 0) throw new Error(`beacon services failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as Record<string, unknown>[])[0];
}

/** Wait until `beacon services NAME -o json` shows `health`; returns that endpoint. */
export async function waitHealth(
  etcd: EtcdCluster,
  prefix: string,
  service: string,
  health: string,
  timeoutMs = 15_000,
): Promise<Record<string, unknown>> {
  return waitFor(
    async () => {
      const e = await endpointVia(etcd, prefix, service);
      return e?.health === health ? e : undefined;
    },
    { timeoutMs, intervalMs: 200, what: `${service} ${health}` },
  );
}

/** A lease's granted TTL (seconds), from `etcdctl lease timetolive`. */
export function leaseTtl(etcd: EtcdCluster, leaseHex: string): number {
  const m = /granted with TTL\((\d+)s\)/.exec(etcd.etcdctl(['lease', 'timetolive', leaseHex]));
  return m ? Number(m[1]) : -1;
}

/** A key's lease in hex (etcdctl prints it in decimal in JSON). */
export function keyLease(etcd: EtcdCluster, key: string): string {
  const m = /"lease":(\d+)/.exec(etcd.etcdctl(['get', key, '-w', 'json']));
  return m ? BigInt(m[1]!).toString(16).padStart(16, '0') : '';
}
