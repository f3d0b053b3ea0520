// The config files the demo writes for its agents and its watcher: what a real fleet's would hold, with
// short timings so that a failure shows within seconds. Pure: test/demo/configs.test.ts loads them with the
// agent's and the watcher's own loaders.

/** Node lease TTL: a killed node's lease expires within about this long (etcd's minimum is 2 s). */
export const DEMO_TTL_SECONDS = 3;

/** The demo's remedy hook (harmless: it only says what it would do). */
export const DEMO_HOOK = 'would-reboot';

/** What one node's config needs from the running demo. */
export interface DemoNodeSpec {
  name: string;
  zone: string;
  /** The node's HTTP app (http check on /healthz). */
  webPort: number;
  /** The node's TCP app (tcp check). */
  apiPort: number;
  /** The `batch` service's port: registered only, its exec check looks at `spoolDir`. */
  batchPort: number;
  /** A directory of the node's own, under the demo's temp dir. */
  spoolDir: string;
}

/** Node names `node1`..`nodeN` and their zones (a, b, c, a, ...). */
export function demoNodeNames(count: number): { name: string; zone: string }[] {
  return Array.from({ length: count }, (_, i) => ({ name: `node${i + 1}`, zone: String.fromCharCode(97 + (i % 3)) }));
}

/** One agent's config (etcd endpoints come from `--etcd`, which wins over everything else). */
export function agentConfig(spec: DemoNodeSpec, etcdEndpoint: string): Record<string, unknown> {
  const local = '127.0.0.1';
  return {
    etcd: { endpoints: [etcdEndpoint] },
    prefix: '/beacon',
    node: { name: spec.name, ttl: `${DEMO_TTL_SECONDS}s`, labels: { env: 'demo', zone: spec.zone }, address: { address: local } },
    services: [
      {
        name: 'web',
        port: spec.webPort,
        address: local,
        tags: ['http', 'public'],
        checks: [{ http: `http://${local}:${spec.webPort}/healthz`, interval: '1s', timeout: '500ms' }],
      },
      {
        name: 'api',
        port: spec.apiPort,
        address: local,
        tags: ['grpc'],
        checks: [{ tcp: `${local}:${spec.apiPort}`, interval: '2s', timeout: '1s' }],
      },
      {
        name: 'batch',
        port: spec.batchPort,
        address: local,
        tags: ['worker'],
        // An exec check is any program: here "is my spool directory writable" (exit 0 passing, 1 warning).
        checks: [{ name: 'spool writable', exec: ['/bin/sh', '-c', 'test -w "$1"', 'spool-check', spec.spoolDir], interval: '5s', timeout: '2s' }],
      },
    ],
    // Several demo agents share this host: none may take (or fight over) a real agent's local socket.
    api: { enabled: false },
    log: { level: 'warn' },
  };
}

/** The watcher's config: a harmless remedy hook, short holds, and the status page on `listenPort`. */
export function watcherConfig(etcdEndpoint: string, listenPort: number): Record<string, unknown> {
  return {
    etcd: { endpoints: [etcdEndpoint] },
    prefix: '/beacon',
    watcher: {
      id: 'demo-watcher',
      // Remedies wait this long so that failures arriving together are judged together; above
      // T/3 + 0.5 s for the demo's TTL (docs/watcher.md, Safety).
      massFailure: { hold: '2s' },
    },
    http: { listen: `127.0.0.1:${listenPort}` },
    hooks: [
      {
        name: DEMO_HOOK,
        kind: 'exec',
        // A real remedy would power-cycle the node through its BMC; this one only says so. Its pid is in the
        // output so that a test can see it is gone when the demo stops.
        command: ['/bin/sh', '-c', 'echo "would reboot $BEACON_NODE (hook pid $$)"'],
        events: ['NodeFailed'],
        timeout: '10s',
      },
    ],
    log: { level: 'warn' },
  };
}
