// Same node name, same machine and boot: a second agent replaces the first one's registration only
// when nobody keeps its lease alive. A pid says nothing across PID namespaces (the second agent runs
// under `unshare --pid`, where the first one's pid does not exist and its own pid is 1).
import test from 'ava';
import { EtcdCluster, requireBinary, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../helpers/process.js';

let etcd: EtcdCluster;
test.before(async () => {
  requireBinary('unshare');
  etcd = await EtcdCluster.start();
});
test.after.always(async () => {
  await etcd?.destroy();
});

function config(prefix: string, ttl: string, port: number): string {
  return writeConfig(
    [
      'etcd:',
      `  endpoints: [${etcd.endpoints}]`,
      `prefix: ${prefix}`,
      `node: { name: same, ttl: ${ttl} }`,
      // Both agents would share /run/beacon/agent.sock; the API is not what this test is about.
      'api: { enabled: false }',
      'services:',
      `  - { name: web, port: ${port} }`,
      '',
    ].join('\n'),
  );
}

/** The live record's value and mod revision (undefined when absent). */
function live(prefix: string): { rec: Record<string, unknown>; modRevision: string } | undefined {
  const out = etcd.etcdctl(['get', `${prefix}/v1/nodes/same/live`, '-w', 'json']);
  const kv = (JSON.parse(out) as { kvs?: { value: string; mod_revision: number }[] }).kvs?.[0];
  if (!kv) return undefined;
  return { rec: JSON.parse(Buffer.from(kv.value, 'base64').toString()), modRevision: String(kv.mod_revision) };
}

/** Remaining TTL of a hex lease id, or -1 when etcd no longer has it. */
function remaining(lease: string): number {
  const m = /remaining\((-?\d+)s\)/.exec(etcd.etcdctl(['lease', 'timetolive', lease]));
  return m ? Number(m[1]) : -1;
}

function start(t: { teardown(fn: () => unknown): void }, cfg: string, wrap: string[] = []): BeaconProcess {
  const p = new BeaconProcess(['agent', '--config', cfg], {}, wrap);
  t.teardown(() => p.stop('SIGKILL'));
  return p;
}

test('an agent in another PID namespace does not revoke a lease that is kept alive', async (t) => {
  const prefix = '/t-conflict-pidns';
  // TTL 6 s: keepalives every 2 s, with room for a loaded machine to send them late.
  const first = start(t, config(prefix, '6s', 1111));
  await first.waitLine((l) => l.msg === 'registered', 60_000);
  const before = live(prefix)!;
  // pid 1 in a new PID namespace, the first agent's pid invisible from it: "same machine and boot,
  // dead pid" is what the old check concluded, and it revoked a live lease (a false NodeFailed).
  const second = start(t, config(prefix, '6s', 2222), ['unshare', '--pid', '--fork', '--kill-child']);
  const conflict = await second.waitLine((l) => l.msg === 'node name held by another live lease; not overwriting, checking again until it is free', 60_000);
  t.is(conflict.level, 50, 'logged at error');
  t.is(conflict.holderLease, before.rec.lease);
  t.regex(String(conflict.holder), /another agent on this machine/);
  // The first agent's registration stays exactly as it was for several more rounds of the second's checks.
  const until = Date.now() + 8_000;
  while (Date.now() < until) {
    const now = live(prefix);
    t.truthy(now, 'the live record never disappears');
    t.is(now!.modRevision, before.modRevision, 'the live record is never rewritten');
    t.true(remaining(String(before.rec.lease)) > 0, 'the lease stays alive');
    await new Promise((r) => setTimeout(r, 250));
  }
  t.deepEqual(second.withMsg('replacing stale registration of this machine'), []);
  t.deepEqual(first.withMsg('registration lost'), [], 'the first agent never lost its lease');
  t.is(first.withMsg('registered').length, 1);
  // Once the first one is gone for real, the second takes the name.
  await first.stop('SIGKILL');
  await second.waitLine((l) => l.msg === 'registered', 30_000);
  t.is(live(prefix)!.rec.pid, 1, 'registered from inside its PID namespace');
});

test('a restarted agent replaces its dead predecessor\'s registration before the old lease expires', async (t) => {
  const prefix = '/t-conflict-stale';
  // TTL 20 s: the old lease outlives the check (TTL/3 + 3 s) whenever it was killed, so the revoke is what frees the name.
  const cfg = config(prefix, '20s', 3333);
  const first = start(t, cfg);
  await first.waitLine((l) => l.msg === 'registered', 60_000);
  const old = String(live(prefix)!.rec.lease);
  await first.stop('SIGKILL');
  const killed = Date.now();
  const second = start(t, cfg);
  const up = await second.waitLine(() => true, 60_000);
  // Logged only when the old lease was revoked while still alive ('gone' by expiry registers silently).
  const replaced = await second.waitLine((l) => l.msg === 'replacing stale registration of this machine', 60_000);
  t.is(replaced.lease, old);
  const registered = await second.waitLine((l) => l.msg === 'registered', 10_000);
  const checking = Date.parse(String(registered.time)) - Date.parse(String(up.time));
  t.log(`registered ${Date.now() - killed} ms after the kill, ${checking} ms after the new agent's first log line (old lease: TTL 20 s, dead once silent for TTL/3 + 2 s = 8.7 s)`);
  // The check's own cost is bounded by etcd's clock: silent for TTL/3 + 2 s, plus one second of rounding.
  t.true(checking < 12_000, `${checking} ms`);
  const now = await waitFor(() => live(prefix), { what: 'live record' });
  t.not(now.rec.lease, old);
  t.is(remaining(old), -1, 'the stale lease was revoked');
});
