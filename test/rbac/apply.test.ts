// `beacon rbac --apply` on a real etcd, then authentication on: each node's user can touch only its own keys
// (not put, delete or revoke anything of another node), the watcher cannot forge a node record, the reader
// only reads; and real agents, a real watcher and `beacon nodes` still work under these roles.
import test from 'ava';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { beacon, BeaconProcess, writeConfig } from '../helpers/process.js';
import { stopGracefully, waitEvent, waitLeading } from '../watcher/support.js';

const PREFIX = '/t-rbac';
const DNS_DOMAIN = 'rbac.test';
const DNS_RECORD = '/skydns/test/rbac/web/a';
const ROOT_PASSWORD = 'Root-rbac-pw-4711';
const dir = mkdtempSync(join(tmpdir(), 'beacon-rbac-'));
const passwordsFile = join(dir, 'passwords');
const rootPasswordFile = join(dir, 'root-password');

let etcd: EtcdCluster;
let passwords: Map<string, string>;
let firstApply: { code: number; stdout: string; stderr: string };

/** The node's agent config without credentials (the input of `beacon rbac`), or with its user's. */
function agentConfig(node: string, services: string[], user?: string): string {
  const cfg = {
    etcd: { endpoints: [etcd.endpoints], ...(user ? { username: user, password: passwords.get(user) } : {}) },
    prefix: PREFIX,
    node: { name: node, ttl: '3s' },
    services: services.map((name, i) => ({ name, port: 8000 + i })),
    // Node a also publishes SkyDNS records, bound to its lease like its endpoints.
    ...(node === 'a' ? { dns: { domain: DNS_DOMAIN } } : {}),
  };
  const path = writeConfig(JSON.stringify(cfg), `${node}.json`);
  chmodSync(path, 0o600);
  return path;
}

const inputs = () => ['--agent-config', agentConfig('a', ['web']), '--agent-config', agentConfig('b', ['web', 'db'])];
const root = ['--user', `root:${ROOT_PASSWORD}`];
const as = (user: string) => ['--user', `${user}:${passwords.get(user)}`];

/** etcdctl as `user`; resolves the error text when etcd refused, undefined when the command succeeded. */
function denied(user: string, args: string[]): string | undefined {
  try {
    etcd.etcdctl([...as(user), ...args]);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

test.before(async () => {
  etcd = await EtcdCluster.start();
  writeFileSync(rootPasswordFile, `${ROOT_PASSWORD}\n`, { mode: 0o600 });
  firstApply = beacon([
    'rbac', ...inputs(), '--apply', '--enable-auth', '--etcd', etcd.endpoints,
    '--passwords-out', passwordsFile, '--root-password-file', rootPasswordFile,
  ]);
  passwords = new Map(
    readFileSync(passwordsFile, 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
  );
});
test.after.always(async () => {
  await etcd?.destroy();
});

test.serial('the first apply creates roles and users, writes the passwords 0600, enables authentication', (t) => {
  t.is(firstApply.code, 0, firstApply.stderr);
  t.regex(firstApply.stdout, /^add-role beacon-node-a$/m);
  t.regex(firstApply.stdout, /^grant-permission beacon-node-b readwrite \/t-rbac\/v1\/services\/db\/b$/m);
  t.regex(firstApply.stdout, /^grant-permission beacon-node-a readwrite \/skydns\/test\/rbac\/web\/a$/m);
  t.regex(firstApply.stdout, /^grant-permission beacon-reader read \/skydns\/test\/rbac\/ \(prefix\)$/m);
  t.regex(firstApply.stdout, /^add-root root$/m);
  t.regex(firstApply.stdout, /^enable-auth root$/m);
  t.is(statSync(passwordsFile).mode & 0o777, 0o600);
  t.deepEqual([...passwords.keys()].sort(), ['beacon-node-a', 'beacon-node-b', 'beacon-reader', 'beacon-watcher']);
  // Passwords go to the file only: not to stdout or stderr.
  for (const pw of passwords.values()) t.false(`${firstApply.stdout}${firstApply.stderr}`.includes(pw));
  t.false(`${firstApply.stdout}${firstApply.stderr}`.includes(ROOT_PASSWORD));
  // Authentication is on: without credentials, etcd refuses.
  t.throws(() => etcd.etcdctl(['get', '--prefix', `${PREFIX}/`]), { message: /user name is empty|permission denied|authentication/i });
  t.regex(etcd.etcdctl([...root, 'role', 'get', 'beacon-node-a']), /\[\/t-rbac\/v1\/nodes\/a\/, \/t-rbac\/v1\/nodes\/a0\) \(prefix \/t-rbac\/v1\/nodes\/a\/\)/);
});

test.serial('a second apply changes nothing; a stray grant is revoked and a stray role taken back', (t) => {
  const again = beacon(['rbac', ...inputs(), '--apply', '--enable-auth', '--etcd', etcd.endpoints, '--passwords-out', passwordsFile, ...root]);
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout, 'nothing to change\n');

  etcd.etcdctl([...root, 'role', 'grant-permission', '--prefix=true', 'beacon-node-a', 'readwrite', `${PREFIX}/v1/nodes/`]);
  etcd.etcdctl([...root, 'user', 'grant-role', 'beacon-node-a', 'beacon-node-b']);
  const fix = beacon(['rbac', ...inputs(), '--apply', '--etcd', etcd.endpoints, '--passwords-out', passwordsFile], {
    ETCDCTL_USER: `root:${ROOT_PASSWORD}`,
  });
  t.is(fix.code, 0, fix.stderr);
  t.is(fix.stdout, 'revoke-permission beacon-node-a readwrite /t-rbac/v1/nodes/ (prefix)\nrevoke-role beacon-node-a beacon-node-b\n');
  t.notRegex(etcd.etcdctl([...root, 'role', 'get', 'beacon-node-a']), /\/t-rbac\/v1\/nodes\/,/);

  // A node no longer listed: its role is reported, and deleted with --prune.
  const smaller = beacon(['rbac', '--agent-config', agentConfig('a', ['web']), '--node', 'b:web,db', '--node', 'c', '--apply', '--etcd', etcd.endpoints, '--passwords-out', passwordsFile, ...root]);
  t.is(smaller.code, 0, smaller.stderr);
  const withoutC = beacon(['rbac', ...inputs(), '--apply', '--prune', '--etcd', etcd.endpoints, '--passwords-out', passwordsFile, ...root]);
  t.is(withoutC.stdout, 'delete-user beacon-node-c\ndelete-role beacon-node-c\n', withoutC.stderr);
  t.notRegex(etcd.etcdctl([...root, 'role', 'list']), /beacon-node-c/);
});

test.serial('under their roles: agents, watcher and readers work, and nobody can touch what is not theirs', async (t) => {
  const watcherCfg = writeConfig(
    JSON.stringify({
      etcd: { endpoints: [etcd.endpoints], username: 'beacon-watcher', password: passwords.get('beacon-watcher') },
      prefix: PREFIX,
      watcher: { id: 'w1', electionTtl: '2s', probeInterval: '1s', massFailure: { hold: '1s' } },
      hooks: [],
    }),
    'watcher.json',
  );
  chmodSync(watcherCfg, 0o600);

  const agentA = new BeaconProcess(['agent', '--config', agentConfig('a', ['web'], 'beacon-node-a')]);
  t.teardown(() => agentA.stop('SIGKILL'));
  const agentB = new BeaconProcess(['agent', '--config', agentConfig('b', ['web', 'db'], 'beacon-node-b')]);
  t.teardown(() => agentB.stop('SIGKILL'));
  await agentA.waitLine((l) => l.msg === 'registered', 20_000);
  await agentB.waitLine((l) => l.msg === 'registered', 20_000);

  // Node a against node b's keys: no put, no delete, no lease revoke (b's lease carries b's keys).
  const bLive = JSON.parse(etcd.etcdctl([...root, 'get', `${PREFIX}/v1/nodes/b/live`, '--print-value-only'])) as { lease: string };
  const deny = /permission denied/;
  t.regex(denied('beacon-node-a', ['put', `${PREFIX}/v1/nodes/b/live`, '{}']) ?? 'allowed', deny);
  t.regex(denied('beacon-node-a', ['put', `${PREFIX}/v1/services/web/b`, '{}']) ?? 'allowed', deny);
  t.regex(denied('beacon-node-a', ['put', `${PREFIX}/v1/services/db/a`, '{}']) ?? 'allowed', deny); // not a's service
  t.regex(denied('beacon-node-a', ['put', `${PREFIX}/v1/events/b/x`, '{}']) ?? 'allowed', deny);
  t.regex(denied('beacon-node-a', ['del', `${PREFIX}/v1/nodes/b/identity`]) ?? 'allowed', deny);
  t.regex(denied('beacon-node-a', ['del', '--prefix', `${PREFIX}/v1/nodes/b/`]) ?? 'allowed', deny);
  t.regex(denied('beacon-node-a', ['del', `${PREFIX}/v1/services/db/b`]) ?? 'allowed', deny);
  t.regex(denied('beacon-node-a', ['lease', 'revoke', bLive.lease]) ?? 'allowed', deny);
  t.regex(denied('beacon-node-a', ['put', `${PREFIX}/v1/watcher/status/b`, '{}']) ?? 'allowed', deny);
  // ... while its own keys are its own.
  t.is(denied('beacon-node-a', ['get', `${PREFIX}/v1/nodes/a/live`]), undefined);
  t.regex(etcd.etcdctl([...root, 'get', `${PREFIX}/v1/services/db/b`, '--print-value-only']), /"node":"b"/);
  // a's DNS record: written by a under its role, not writable by b, readable by the reader.
  await waitFor(() => etcd.etcdctl([...root, 'get', DNS_RECORD, '--print-value-only']).includes('"port":8000'), {
    timeoutMs: 10_000,
    what: `${DNS_RECORD} written by agent a`,
  });
  t.regex(denied('beacon-node-b', ['put', DNS_RECORD, '{}']) ?? 'allowed', deny);
  t.regex(denied('beacon-node-b', ['del', DNS_RECORD]) ?? 'allowed', deny);
  t.regex(etcd.etcdctl([...as('beacon-reader'), 'get', '--prefix', '/skydns/test/rbac/', '--keys-only']), /\/skydns\/test\/rbac\/web\/a/);

  // The watcher cannot forge a node's record, but writes its own keys.
  t.regex(denied('beacon-watcher', ['put', `${PREFIX}/v1/nodes/a/live`, '{}']) ?? 'allowed', deny);
  t.regex(denied('beacon-watcher', ['put', `${PREFIX}/v1/services/web/a`, '{}']) ?? 'allowed', deny);
  t.regex(denied('beacon-watcher', ['lease', 'revoke', bLive.lease]) ?? 'allowed', deny);
  t.is(denied('beacon-watcher', ['put', `${PREFIX}/v1/watcher/events/rbac-probe`, '{}']), undefined);
  t.is(denied('beacon-watcher', ['del', `${PREFIX}/v1/watcher/events/rbac-probe`]), undefined);

  // The reader reads everything under the prefix and writes nothing.
  t.regex(etcd.etcdctl([...as('beacon-reader'), 'get', '--prefix', `${PREFIX}/v1/`, '--keys-only']), /\/t-rbac\/v1\/nodes\/b\/live/);
  t.regex(denied('beacon-reader', ['put', `${PREFIX}/v1/nodes/a/live`, '{}']) ?? 'allowed', deny);
  t.regex(denied('beacon-reader', ['put', `${PREFIX}/v1/watcher/status/a`, '{}']) ?? 'allowed', deny);
  t.regex(denied('beacon-reader', ['put', `${PREFIX}/v1/x`, '{}']) ?? 'allowed', deny);

  // Both agents still registered, nothing of b touched.
  t.regex(etcd.etcdctl([...root, 'get', `${PREFIX}/v1/nodes/b/live`, '--print-value-only']), /"state":"up"/);

  // A real watcher under its role sees b die and records NodeFailed.
  const watcher = new BeaconProcess(['watcher', '--config', watcherCfg]);
  t.teardown(() => stopGracefully(watcher));
  await waitLeading(watcher, 20_000).catch((err) => {
    t.log(watcher.lines.map((l) => JSON.stringify(l)).join('\n').slice(-3000));
    throw err;
  });
  await waitEvent(watcher, 'NodeJoined', 'b');
  await agentB.stop('SIGKILL');
  const failed = await waitEvent(watcher, 'NodeFailed', 'b', 15_000);
  t.is(failed.reason, 'LeaseExpired');
  await waitFor(() => /"failed"/.test(etcd.etcdctl([...root, 'get', `${PREFIX}/v1/watcher/status/b`, '--print-value-only'])), {
    timeoutMs: 10_000,
    what: 'watcher status of b: failed',
  });

  // `beacon nodes` as the reader.
  const nodes = beacon(['nodes', '--etcd', etcd.endpoints, '--prefix', PREFIX, '-o', 'json'], {
    ETCDCTL_USER: `beacon-reader:${passwords.get('beacon-reader')}`,
  });
  t.is(nodes.code, 0, nodes.stderr);
  const rows = JSON.parse(nodes.stdout) as { name: string; status: string }[];
  t.deepEqual(rows.map((r) => [r.name, r.status]).sort(), [['a', 'up'], ['b', 'failed']]);

  // A graceful leave revokes a's own lease: allowed, since that lease carries only a's keys.
  await stopGracefully(agentA);
  t.truthy(agentA.withMsg('left: lease revoked')[0], agentA.lines.map((l) => JSON.stringify(l)).join('\n').slice(-2000));
  t.is(etcd.etcdctl([...root, 'get', DNS_RECORD]), ''); // its DNS record went with its lease
  await waitEvent(watcher, 'NodeLeft', 'a', 15_000);
  // No process logged a permission problem along the way.
  for (const p of [agentA, agentB, watcher]) {
    t.false(p.lines.some((l) => /permission denied/i.test(JSON.stringify(l))), p.lines.filter((l) => /permission/i.test(JSON.stringify(l))).map((l) => JSON.stringify(l)).join('\n'));
  }
});
