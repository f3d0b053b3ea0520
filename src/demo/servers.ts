// The demo's stand-ins for a node's apps: a small HTTP server (the target of the node's http check) and a
// TCP server (the target of its tcp check), both on free loopback ports. The HTTP one can be told to
// answer 500, so the demo can show a check going critical and back without touching the agent.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';

/** One node's apps as the demo runs them. */
export interface DemoApps {
  /** The HTTP app's port: `GET /healthz` answers 200, or 500 while unhealthy. */
  readonly webPort: number;
  /** The TCP app's port: accepts a connection and closes it. */
  readonly apiPort: number;
  /** Make `/healthz` answer 500 (false) or 200 (true). */
  setHealthy(healthy: boolean): void;
  /** Close both servers and every connection they hold. */
  close(): Promise<void>;
}

function listen(server: HttpServer | TcpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeHttp(server: HttpServer): Promise<void> {
  if (!server.listening) return Promise.resolve();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  return closed;
}

function closeTcp(server: TcpServer): Promise<void> {
  return server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
}

/** Start one node's apps on free loopback ports. */
export async function startDemoApps(node: string): Promise<DemoApps> {
  let healthy = true;
  const web = createHttpServer((req, res) => {
    const ok = healthy;
    // A fresh connection per check (docs/health.md): do not keep idle sockets around.
    res.setHeader('connection', 'close');
    if (req.url === '/healthz') {
      res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain' });
      res.end(ok ? `${node} web ok\n` : `${node} web: demo made it fail\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  });
  const api = createTcpServer((socket) => socket.end());
  try {
    const [webPort, apiPort] = [await listen(web), await listen(api)];
    return {
      webPort,
      apiPort,
      setHealthy: (h) => (healthy = h),
      close: async () => {
        await Promise.all([closeHttp(web), closeTcp(api)]);
      },
    };
  } catch (err) {
    await Promise.all([closeHttp(web), closeTcp(api)]);
    throw err;
  }
}
