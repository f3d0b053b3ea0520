// docs/security.md's threat model, measured: every command of its table runs against a real etcd
// with authentication on and the roles `beacon rbac --apply` creates, and must be allowed or refused
// as the table says; its nested-transaction block must forge node2's record. When etcd changes (an
// upgrade past the fixes the page lists), this test fails and the table must be measured again.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeBlocks, code, readDoc, tables } from '../docs/markdown.js';
import { EtcdCluster, requireBinary } from '../helpers/etcd.js';
import { beacon } from '../helpers/process.js';

const doc = readDoc('docs/security.md');
const HEADING = "Threat model: what one node's credentials can do";
const ROOT_PASSWORD = 'Root-isolation-pw-1801';

let etcd: EtcdCluster;
let env: NodeJS.ProcessEnv;

/** Run a shell snippet as the doc's reader would, with the doc's variables set. */
function sh(script: string) {
  return spawnSync('sh', ['-c', script], { env, encoding: 'utf8', timeout: 30_000 });
}

test.before(async () => {
  requireBinary('curl');
  etcd = await EtcdCluster.start();
  const dir = mkdtempSync(join(tmpdir(), 'beacon-isolation-'));
  writeFileSync(join(dir, 'root-password'), `${ROOT_PASSWORD}\n`, { mode: 0o600 });
  const applied = beacon([
    'rbac', '--node', 'node1:web', '--node', 'node2:web', '--prefix', '/beacon', '--etcd', etcd.endpoints,
    '--apply', '--enable-auth', '--passwords-out', join(dir, 'passwords'), '--root-password-file', join(dir, 'root-password'),
  ]);
  if (applied.code !== 0) throw new Error(`beacon rbac --apply failed: ${applied.stderr}`);
  const users = new Map(
    readFileSync(join(dir, 'passwords'), 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(':')), l]),
  );
  env = {
    ...process.env,
    ETCDCTL_API: '3',
    ETCDCTL_ENDPOINTS: etcd.endpoints,
    EP: etcd.endpoints,
    N1: users.get('beacon-node-node1'),
    N2: users.get('beacon-node-node2'),
    READER: users.get('beacon-reader'),
    WATCHER: users.get('beacon-watcher'),
  };
  // node2's registration, as its agent writes it: its lease on its own keys only; and a keyless lease.
  const grant = (s: string) => /lease ([0-9a-f]+) granted/.exec(s)?.[1];
  const l2 = grant(sh('etcdctl --user "$N2" lease grant 600').stdout);
  const l3 = grant(sh('etcdctl --user "$N2" lease grant 600').stdout);
  if (!l2 || !l3) throw new Error('node2 could not grant its leases');
  env = { ...env, L2: l2, L3: l3 };
  for (const key of ['/beacon/v1/nodes/node2/live', '/beacon/v1/services/web/node2']) {
    const r = sh(`etcdctl --user "$N2" put --lease="$L2" ${key} '{"node":"node2"}'`);
    if (r.status !== 0) throw new Error(`node2 could not write ${key}: ${r.stderr}`);
  }
});
test.after.always(async () => {
  await etcd?.destroy();
});

const asRoot = (args: string[]) => etcd.etcdctl(['--user', `root:${ROOT_PASSWORD}`, ...args]);

test.serial('every row of the table is what etcd does', (t) => {
  const table = tables(doc).find((x) => x.heading === HEADING && x.headers[1] === 'Command');
  if (!table) return t.fail(`docs/security.md has no Command table under "${HEADING}"`);
  t.true(table.rows.length >= 12);
  const version = /etcd Version: (\S+)/.exec(spawnSync('etcd', ['--version'], { encoding: 'utf8' }).stdout)?.[1];
  t.is(table.headers[2], `etcd ${version}`, 'the table was measured on the etcd the tests run');
  for (const [what, cell, expected] of table.rows) {
    const r = sh(code(cell!));
    const got = r.status === 0 ? 'allowed' : 'refused';
    t.is(got, expected!.trim(), `${what}: ${code(cell!)}\n${r.stdout}${r.stderr}`);
    // A refusal must be etcd's permission check, not a typo in the command.
    if (got === 'refused') t.regex(r.stderr, /permission denied/, `${what}: ${r.stderr}`);
  }
  // The refused rows changed nothing: node2's lease still holds both its keys.
  // etcd prints a lease's keys in no fixed order.
  const keys = /attached keys\(\[([^\]]*)\]\)/.exec(asRoot(['lease', 'timetolive', env.L2!, '--keys']))?.[1]?.split(' ').sort();
  t.deepEqual(keys, ['/beacon/v1/nodes/node2/live', '/beacon/v1/services/web/node2']);
  t.is(asRoot(['get', '/beacon/v1/nodes/node2/live', '--print-value-only']).trim(), '{"node":"node2"}');
});

test.serial('the nested-transaction block forges node2\'s live record', (t) => {
  const block = codeBlocks(doc, 'sh').find((b) => b.heading === HEADING);
  if (!block) return t.fail(`docs/security.md has no sh block under "${HEADING}"`);
  const r = sh(block.body);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /"succeeded":true/);
  t.is(asRoot(['get', '/beacon/v1/nodes/node2/live', '--print-value-only']).trim(), 'forged-nested');
  // The same put, not nested, is refused: only the nesting gets around the role.
  const flat = sh('etcdctl --user "$N1" put /beacon/v1/nodes/node2/live forged-flat');
  t.not(flat.status, 0);
});
