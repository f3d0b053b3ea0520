// The printed etcdctl script runs with the real etcdctl against a fresh etcd, can be run again, and leaves
// etcd exactly as `beacon rbac --apply` would (a following apply has nothing to change).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, requireBinary } from '../helpers/etcd.js';
import { beacon } from '../helpers/process.js';
import { planRbac } from '../../src/rbac/plan.js';

const ROOT_PASSWORD = 'Root-script-pw-1234';
const dir = mkdtempSync(join(tmpdir(), 'beacon-rbac-script-'));
const rootPasswordFile = join(dir, 'root-password');

let etcd: EtcdCluster;
test.before(async () => {
  etcd = await EtcdCluster.start();
  writeFileSync(rootPasswordFile, `${ROOT_PASSWORD}\n`, { mode: 0o600 });
});
test.after.always(async () => {
  await etcd?.destroy();
});

function sh(script: string, env: Record<string, string>): { code: number; stdout: string; stderr: string } {
  const path = join(dir, `script-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(path, script, { mode: 0o700 });
  const r = spawnSync(requireBinary('sh'), [path], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ETCDCTL_API: '3', ETCDCTL_ENDPOINTS: etcd.endpoints, ...env },
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function passwordOf(file: string, user: string): string {
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
  return line!.slice(user.length + 1);
}

test.serial('the script creates the roles and users, enables auth, runs again, and agrees with --apply', (t) => {
  const passwords = join(dir, 'passwords');
  const fleet = ['--node', 'a:web', '--node', 'b:web,db', '--prefix', '/t-script'];
  const printed = beacon(['rbac', ...fleet, '--passwords-out', passwords, '--enable-auth']);
  t.is(printed.code, 0, printed.stderr);
  t.is(statSync(passwords).mode & 0o777, 0o600);
  for (const line of readFileSync(passwords, 'utf8').trim().split('\n')) t.false(printed.stdout.includes(line.split(':')[1]!));

  const first = sh(printed.stdout, { BEACON_ROOT_PASSWORD_FILE: rootPasswordFile });
  t.is(first.code, 0, first.stderr);
  t.throws(() => etcd.etcdctl(['get', '/t-script/v1/nodes/a/live']), { message: /user name is empty|permission denied/ });

  const a = ['--user', `beacon-node-a:${passwordOf(passwords, 'beacon-node-a')}`];
  etcd.etcdctl([...a, 'put', '/t-script/v1/nodes/a/live', '{}']);
  etcd.etcdctl([...a, 'put', '/t-script/v1/services/web/a', '{}']);
  t.throws(() => etcd.etcdctl([...a, 'put', '/t-script/v1/nodes/b/live', '{}']), { message: /permission denied/ });
  t.throws(() => etcd.etcdctl([...a, 'put', '/t-script/v1/services/db/a', '{}']), { message: /permission denied/ });
  const reader = ['--user', `beacon-reader:${passwordOf(passwords, 'beacon-reader')}`];
  t.regex(etcd.etcdctl([...reader, 'get', '--prefix', '/t-script/v1/', '--keys-only']), /\/t-script\/v1\/services\/web\/a/);

  // Again, now as root: nothing fails, nothing changes.
  const second = sh(printed.stdout, { ETCDCTL_USER: `root:${ROOT_PASSWORD}` });
  t.is(second.code, 0, second.stderr);
  const apply = beacon(['rbac', ...fleet, '--apply', '--enable-auth', '--passwords-out', passwords, '--etcd', etcd.endpoints], {
    ETCDCTL_USER: `root:${ROOT_PASSWORD}`,
  });
  t.is(apply.code, 0, apply.stderr);
  t.is(apply.stdout, 'nothing to change\n');
});

test.serial('--no-passwords: users without a password (for client-certificate auth)', (t) => {
  const printed = beacon(['rbac', '--node', 'c:web', '--prefix', '/t-nopw', '--no-passwords']);
  t.is(printed.code, 0, printed.stderr);
  t.notRegex(printed.stdout, /passwords=/);
  const run = sh(printed.stdout, { ETCDCTL_USER: `root:${ROOT_PASSWORD}` });
  t.is(run.code, 0, run.stderr);
  t.regex(etcd.etcdctl(['--user', `root:${ROOT_PASSWORD}`, 'user', 'get', 'beacon-node-c']), /Roles: beacon-node-c/);
  // No password opens it.
  t.throws(() => etcd.etcdctl(['--user', 'beacon-node-c:', 'get', '/t-nopw/v1/nodes/c/live']));
  t.throws(() => etcd.etcdctl(['--user', 'beacon-node-c:x', 'get', '/t-nopw/v1/nodes/c/live']), { message: /authentication failed/ });
});

test('-o json is the plan; usage errors exit 2 before any work', (t) => {
  const json = beacon(['rbac', '--node', 'a:web,db', '--node', 'b', '--prefix', '/p', '-o', 'json']);
  t.is(json.code, 0, json.stderr);
  t.deepEqual(JSON.parse(json.stdout), planRbac({ prefix: '/p', nodes: [{ name: 'a', services: ['web', 'db'] }, { name: 'b', services: [] }] }));
  t.regex(beacon(['rbac', '--node', 'a', '-o', 'yaml']).stdout, /^prefix: \/beacon$/m);

  const noPw = beacon(['rbac', '--node', 'a', '--apply']);
  t.is(noPw.code, 2);
  t.regex(noPw.stderr, /--apply needs --passwords-out FILE .* or --no-passwords/);
  const badName = beacon(['rbac', '--node', '../x']);
  t.is(badName.code, 2);
  t.regex(badName.stderr, /node name "\.\.\/x"/);
  t.is(beacon(['rbac', '--node', 'a', '-o', 'table']).code, 2);
});
