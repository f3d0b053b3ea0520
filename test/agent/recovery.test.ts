// The agent recovers its registration by itself: etcd down and back, lease revoked, keys deleted, etcd hung.
import test from 'ava';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../helpers/process.js';

let etcd: EtcdCluster;

const PREFIX = '/t-recovery';
const LIVE = `${PREFIX}/v1/nodes/n1/live`;
const WEB = `${PREFIX}/v1/services/web/n1`;

function getJson(key: string): Record<string, unknown> | undefined {
  const out = etcd.etcdctl(['--command-timeout=1s', 'get', key, '--print-value-only']).trim();
  return out ? JSON.parse(out) : undefined;
}

/** The lease holding the live record, if the live record exists and its lease is alive. */
function liveLease(): string | undefined {
  const rec = getJson(LIVE);
  if (!rec || !getJson(WEB)) return undefined;
  const ttl = etcd.etcdctl(['lease', 'timetolive', String(rec.lease)]);
  return /remaining\((\d+)s\)/.test(ttl) ? String(rec.lease) : undefined;
}

let agent: BeaconProcess;
test.before(async () => {
  etcd = await EtcdCluster.start();
  const cfg = writeConfig(
    [
      'etcd:',
      `  endpoints: [${etcd.endpoints}]`,
      `prefix: ${PREFIX}`,
      'node: { name: n1, ttl: 2s }',
      'services:',
      '  - { name: web, port: 8080 }',
      '',
    ].join('\n'),
  );
  agent = new BeaconProcess(['agent', '--config', cfg, '--log-level', 'info']);
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
});
test.after.always(async () => {
  await agent?.stop('SIGKILL');
  await etcd?.destroy();
});

test.serial('etcd down for longer than the TTL, restarted on the same data dir: registered again within 2 s', async (t) => {
  const before = liveLease()!;
  t.truthy(before);
  const from = agent.lines.length;
  const stoppedAt = Date.now();
  await etcd.members[0]!.stop('SIGTERM');
  // The agent's own deadline (last keepalive + TTL) passes: it says so, without etcd3's late `lost`.
  await agent.waitLine((l) => l.msg === 'registration lost', 6_000, from);
  await etcd.members[0]!.start();
  const answering = Date.now();
  // etcd restores leases from disk and its new leader gives each its full TTL again, so the lease the
  // agent gave up by its own deadline is still alive: the agent keeps it (revoking it would delete the
  // live record without a leave marker, a NodeFailed for every watcher), or registers anew if it expired.
  const back = await agent.waitLine((l) => l.msg === 'lease still alive: registration kept' || l.msg === 'registered', 2_000, from);
  const lease = await waitFor(() => liveLease() === back.lease && back.lease, { timeoutMs: 2_000, intervalMs: 50, what: 're-registration' });
  t.log(`registered again ${Date.parse(back.time as string) - answering} ms after etcd answered (${back.msg})`);
  t.is(lease, before, 'etcd restored the lease; the agent kept it');
  // As after a short outage, the agent says when etcd answers again and how long it was away.
  const again = agent.lines.slice(from).filter((l) => l.msg === 'etcd answering again');
  t.is(again.length, 1, 'one "etcd answering again" line after the outage');
  t.true(Number(again[0]?.outageMs) >= answering - stoppedAt - 1_000, `outageMs ${again[0]?.outageMs} covers the outage (${answering - stoppedAt} ms)`);
  t.true(agent.proc.exitCode === null, 'the agent never exits because etcd is away');
});

test.serial('lease revoked with etcdctl: a new lease and everything written again within 2 s', async (t) => {
  const before = await waitFor(() => liveLease(), { what: 'registered' });
  const from = agent.lines.length;
  const revokedAt = Date.now();
  etcd.etcdctl(['lease', 'revoke', before]);
  const lease = await waitFor(() => {
    const l = liveLease();
    return l !== before && l;
  }, { timeoutMs: 2_000, intervalMs: 50, what: 're-registration after revoke' });
  t.log(`registered again ${Date.now() - revokedAt} ms after the revoke`);
  t.not(lease, before);
  // etcd deleted the keys with the lease: one warning with that cause, none blaming someone else per key.
  await agent.waitLine((l) => l.msg === 'registered' && l.lease === lease, 2_000, from);
  const warnings = agent.lines.slice(from).filter((l) => Number(l.level) >= 40);
  t.deepEqual(
    warnings.map((l) => [l.msg, l.reason]),
    [['registration lost', 'lease not found on etcd (expired or revoked)']],
  );
});

test.serial('keys deleted with etcdctl: written again within 2 s', async (t) => {
  const lease = await waitFor(() => liveLease(), { what: 'registered' });
  const from = agent.lines.length;
  const deletedAt = Date.now();
  etcd.etcdctl(['del', `${PREFIX}/v1/`, '--prefix']);
  await waitFor(() => liveLease() && getJson(`${PREFIX}/v1/nodes/n1/identity`), {
    timeoutMs: 2_000,
    intervalMs: 50,
    what: 'keys rewritten after delete',
  });
  t.log(`rewritten ${Date.now() - deletedAt} ms after the delete`);
  // The lease was still alive: the agent rewrote under the same one.
  t.is(liveLease(), lease);
  // Someone else did delete them: said per key (the log lines may trail the write), and the registration was not lost.
  await agent.waitLine((l) => l.msg === 'registration rewritten after its keys were deleted', 2_000, from);
  const warned = agent.lines.slice(from).filter((l) => Number(l.level) >= 40);
  t.true(warned.some((l) => l.msg === 'own key changed by someone else' && l.key === LIVE && l.change === 'delete'), JSON.stringify(warned));
  t.false(warned.some((l) => l.msg === 'registration lost'));
});

test.serial('etcd hung (SIGSTOP) then SIGCONT: the agent notices within seconds and recovers', async (t) => {
  await waitFor(() => liveLease(), { what: 'registered' });
  const from = agent.lines.length;
  const stoppedAt = Date.now();
  etcd.members[0]!.signal('SIGSTOP');
  try {
    await agent.waitLine((l) => l.msg === 'etcd not answering', 5_000, from);
    t.log(`noticed ${Date.now() - stoppedAt} ms after SIGSTOP`);
    await agent.waitLine((l) => l.msg === 'registration lost', 6_000, from);
  } finally {
    etcd.members[0]!.signal('SIGCONT');
  }
  const resumed = Date.now();
  await waitFor(() => liveLease(), { timeoutMs: 3_000, intervalMs: 50, what: 'registered after SIGCONT' });
  t.log(`registered ${Date.now() - resumed} ms after SIGCONT`);
  t.true(agent.proc.exitCode === null);
});
