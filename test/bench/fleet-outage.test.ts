// The fleet benchmark's outage scenario, smoke-sized (8 nodes, TTL 3 s, etcd stopped 5 s): it must run
// end to end and show what the full runs measure: every node registered again, no orphan lease, none
// lost, etcd never refusing work. No speed asserted beyond the scenario's own deadline.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import type { FleetResult } from '../../bench/fleet/fleet.js';
import { requireBinary } from '../helpers/etcd.js';

const MAIN = fileURLToPath(new URL('../../bench/fleet/main.js', import.meta.url));

test('fleet outage: 8 nodes, etcd stopped for longer than the TTL, all back, no orphan lease', async (t) => {
  requireBinary('etcd');
  requireBinary('etcdctl');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [MAIN, '--nodes', '8', '--workers', '2', '--ttl', '3', '--outage', '5', '--window', '1', '--settle', '1', '--sides', 'beacon'],
    { timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
  );
  const o = (JSON.parse(stdout) as FleetResult).beacon!.outage!;
  t.log(JSON.stringify({ ...o, series: o.series.length }));
  t.true(o.lostEvents >= 8, `every node gave its lease up by its own deadline (${o.lostEvents})`);
  t.not(o.allRegisteredMs, null, 'every node registered again');
  t.is(o.lostRegistrations, 0);
  t.is(o.orphanLeases, 0);
  t.is(o.leasesAtEnd, 8, 'one lease per node');
  t.is(o.tooManyRequests, 0);
  t.true(o.series.length > 0 && o.series.every((x) => x.pending < 5_000), 'etcd below its backlog limit');
});

// The simulator's cheaper keepalive path for large fleets (bench/fleet/keepalive-streams.ts: a long-lived
// stream per lease, clients shared by 4 nodes) must keep Store.keepAliveOnce's contract through an outage:
// the same figures as the agent's own path above.
test('fleet outage with --keepalive-stream lease --client-per 4: the same recovery', async (t) => {
  requireBinary('etcd');
  requireBinary('etcdctl');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      MAIN, '--nodes', '8', '--workers', '2', '--ttl', '3', '--outage', '5', '--window', '1', '--settle', '1', '--sides', 'beacon',
      '--keepalive-stream', 'lease', '--client-per', '4',
    ],
    { timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
  );
  const r = JSON.parse(stdout) as FleetResult;
  t.is(r.options.keepaliveStream, 'lease');
  t.is(r.options.clientPer, 4);
  const b = r.beacon!;
  const o = b.outage!;
  t.log(JSON.stringify({ ...o, series: o.series.length }));
  t.true(b.client.keepalivesPerNodeSecond > 0, 'keepalives sent and answered before the outage');
  t.true(o.lostEvents >= 8, `every node gave its lease up by its own deadline (${o.lostEvents})`);
  t.not(o.allRegisteredMs, null, 'every node registered again');
  t.is(o.lostRegistrations, 0);
  t.is(o.orphanLeases, 0);
  t.is(o.leasesAtEnd, 8, 'one lease per node');
});
