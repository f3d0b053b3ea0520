// The etcd side of keepalives, measured on its own: etcd CPU for L leases kept alive every I ms,
// (a) "once": beacon's way today (Store.keepAliveOnce: a new gRPC stream per keepalive, for its own
// deadline), (b) "stream": one long-lived LeaseKeepAlive stream per lease, one message per keepalive.
// Explains the fleet benchmark's etcd CPU: both send the same keepalives; only the stream handling differs.
// Run: npm run build && node dist/bench/fleet/keepalive-cost.js [leases=1000] [intervalMs=3333] [seconds=20]
import { setMaxListeners } from 'node:events';
import { createClient } from '../../src/etcd/client.js';
import { Store } from '../../src/etcd/store.js';
import { leaseFromHex } from '../../src/etcd/store.js';
import { EtcdCluster } from '../../test/helpers/etcd.js';
import { cpuSeconds, machine } from './machine.js';

const leases = Number(process.argv[2] ?? 1000);
const intervalMs = Number(process.argv[3] ?? 3333);
const seconds = Number(process.argv[4] ?? 20);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Mode = 'once' | 'stream';

async function measure(mode: Mode) {
  const etcd = await EtcdCluster.start(1);
  const pid = etcd.members[0]!.proc!.pid!;
  const cfg = { endpoints: etcd.endpoints.split(','), requestTimeoutMs: 2_000, dialTimeoutMs: 2_000 };
  const store = Store.connect(cfg);
  const client = createClient(cfg);
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  let sent = 0;
  let answered = 0;
  let failed = 0;
  try {
    const ids: string[] = [];
    for (let i = 0; i < leases; i += 100) {
      const batch = await Promise.all(Array.from({ length: Math.min(100, leases - i) }, () => store.grant(60)));
      ids.push(...batch.map((g) => g.id));
    }
    const loops = ids.map(async (id) => {
      await sleep(Math.random() * intervalMs); // independent phases, as a fleet has
      if (mode === 'once') {
        while (!stop.signal.aborted) {
          sent++;
          await store.keepAliveOnce(id, 700).then(() => answered++, () => failed++);
          await sleep(intervalMs);
        }
      } else {
        const stream = await client.leaseClient.leaseKeepAlive();
        stream.on('data', () => answered++);
        stream.on('error', () => failed++);
        const dec = leaseFromHex(id);
        while (!stop.signal.aborted) {
          sent++;
          stream.write({ ID: dec });
          await sleep(intervalMs);
        }
        stream.end();
      }
    });
    await sleep(intervalMs * 2); // every loop started, streams open
    const c0 = cpuSeconds(pid);
    const me0 = process.cpuUsage();
    const s0 = answered;
    const t0 = Date.now();
    await sleep(seconds * 1000);
    const c1 = cpuSeconds(pid);
    const me1 = process.cpuUsage(me0);
    const s1 = answered;
    const window = (Date.now() - t0) / 1000;
    stop.abort();
    await Promise.allSettled(loops);
    const rate = (s1 - s0) / window;
    const etcdPct = ((c1 - c0) / window) * 100;
    return {
      mode,
      keepalivesPerSecond: +rate.toFixed(1),
      etcdCpuPctOfOneCore: +etcdPct.toFixed(2),
      etcdCpuMsPerKeepalive: +((etcdPct * 10) / rate).toFixed(3),
      clientCpuMsPerKeepalive: +(((me1.user + me1.system) / 1000 / window) / rate).toFixed(3),
      sent,
      failed,
    };
  } finally {
    store.close();
    client.close();
    await etcd.destroy();
  }
}

const results = [];
for (const mode of ['once', 'stream'] as Mode[]) {
  process.stderr.write(`[keepalive-cost] ${mode}: ${leases} leases every ${intervalMs} ms for ${seconds} s\n`);
  results.push(await measure(mode));
}
console.log(JSON.stringify({ benchmark: 'keepalive-cost', machine: machine(), leases, intervalMs, seconds, results }, null, 2));
