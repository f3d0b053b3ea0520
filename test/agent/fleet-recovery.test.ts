// Thirty real agents, etcd killed for longer than their TTL and restarted on the same data dir: every
// agent registers again (taking back its restored lease, or under a new one), and etcd ends with
// exactly one lease per node plus the events leases the agents' config made (counted from the keys
// under /v1/events/): no orphan lease from a grant whose answer came too late, none left behind.
import test from 'ava';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../helpers/process.js';

const N = 30;
const TTL_S = 4;
const PREFIX = '/t-fleet-recovery';
const REGISTERED = ['registered', 'lease still alive: registration kept'];

/** Lease ids (hex, as etcdctl prints them) of every key under a prefix, by key. */
function leasesByKey(etcd: EtcdCluster, prefix: string): Map<string, string> {
  const out = etcd.etcdctl(['--command-timeout=5s', 'get', '--prefix', prefix, '-w', 'json']);
  // Lease ids are int64 (negative when the top bit is set): read them as text.
  return new Map(
    [...out.matchAll(/"key":"([^"]+)"[^}]*?"lease":(-?\d+)/g)].map((m) => [
      Buffer.from(m[1]!, 'base64').toString(),
      BigInt.asUintN(64, BigInt(m[2]!)).toString(16),
    ]),
  );
}

function leaseList(etcd: EtcdCluster): string[] {
  const out = etcd.etcdctl(['--command-timeout=5s', 'lease', 'list']);
  return out.split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
}

test(`${N} agents, etcd killed for longer than their ${TTL_S} s TTL: all back, exactly one lease per node`, async (t) => {
  t.timeout(240_000);
  const etcd = await EtcdCluster.start(1);
  t.teardown(() => etcd.destroy());
  const agents: BeaconProcess[] = [];
  // Started in batches: thirty Node processes booting at once on a small machine is a test of its own.
  for (let b = 0; b < N; b += 10) {
    const batch: BeaconProcess[] = [];
    for (let i = b + 1; i <= Math.min(N, b + 10); i++) {
      const cfg = ['etcd:', `  endpoints: [${etcd.endpoints}]`, `prefix: ${PREFIX}`, 'node:', `  name: n${i}`, `  ttl: ${TTL_S}s`, 'api:', '  enabled: false', ''].join('\n');
      const a = new BeaconProcess(['agent', '--config', writeConfig(cfg), '--log-level', 'info']);
      t.teardown(() => a.stop('SIGKILL'));
      batch.push(a);
    }
    await Promise.all(batch.map((a) => a.waitLine((l) => l.msg === 'registered', 60_000)));
    agents.push(...batch);
  }
  const eventLeases = () => new Set(leasesByKey(etcd, `${PREFIX}/v1/events/`).values()).size;
  await waitFor(() => leaseList(etcd).length === N + eventLeases(), { timeoutMs: 20_000, what: 'one lease per node before the fault' });

  const from = agents.map((a) => a.lines.length);
  const killedAt = Date.now();
  await etcd.members[0]!.stop('SIGKILL');
  // Every agent gives its registration up by its own deadline (last keepalive + TTL).
  await waitFor(() => agents.every((a, i) => a.lines.slice(from[i]).some((l) => l.msg === 'registration lost')), {
    timeoutMs: (TTL_S + 15) * 1000,
    what: 'every agent past its deadline',
  });
  await new Promise((r) => setTimeout(r, Math.max(0, (TTL_S + 2) * 1000 - (Date.now() - killedAt))));
  await etcd.members[0]!.start();
  const answeringAt = Date.now();
  const downMs = answeringAt - killedAt;

  // Every agent registered again: its latest registration line after the fault names the lease that
  // holds its live key on etcd, and etcd lists exactly those leases plus the events leases.
  const backMs = await waitFor(
    () => {
      const live = leasesByKey(etcd, `${PREFIX}/v1/nodes/`);
      const held = agents.map((a, i) => {
        const reg = a.lines.slice(from[i]).filter((l) => REGISTERED.includes(l.msg as string)).at(-1);
        const lease = live.get(`${PREFIX}/v1/nodes/n${i + 1}/live`);
        return reg && lease && BigInt(`0x${reg.lease as string}`).toString(16) === lease ? lease : undefined;
      });
      if (held.some((l) => l === undefined) || new Set(held).size !== N) return undefined;
      const leases = leaseList(etcd);
      const expected = N + eventLeases();
      return leases.length === expected ? Date.now() - answeringAt || 1 : undefined;
    },
    { timeoutMs: (2 * TTL_S + 20) * 1000, intervalMs: 250, what: 'every agent registered, one lease per node' },
  );
  // The count stays exact: nothing granted late turns up afterwards.
  await new Promise((r) => setTimeout(r, 2_000));
  const leases = leaseList(etcd);
  const events = eventLeases();
  t.log(`etcd down ${downMs} ms; all ${N} back and ${leases.length} leases (${events} events leases) ${backMs} ms after etcd answered`);
  t.is(leases.length, N + events, 'exactly one lease per node plus the events leases');
  for (const [i, a] of agents.entries()) {
    const after = a.lines.slice(from[i]);
    t.true(after.some((l) => l.msg === 'etcd answering again' && Number(l.outageMs) > 0), `n${i + 1} said etcd answers again, with the outage's length`);
    t.is(a.proc.exitCode, null, `n${i + 1} still runs`);
  }
});
