// docs/security.md's "Least privilege (etcd RBAC)" blocks run as written, each against a fresh etcd,
// with `beacon` on PATH and etcdctl's variables pointing at the cluster.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, requireBinary } from '../helpers/etcd.js';
import { BEACON_BIN } from '../helpers/process.js';
import { codeBlocks, readDoc } from '../docs/markdown.js';

const blocks = codeBlocks(readDoc('docs/security.md'), 'sh');

/** Run a documented block in a fresh dir holding node1..3.yaml; returns the dir and the result. */
async function runBlock(t: { teardown(fn: () => unknown): void }, heading: string) {
  const block = blocks.find((b) => b.heading === heading);
  if (!block) throw new Error(`docs/security.md has no sh block under "${heading}"`);
  requireBinary('openssl');
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const dir = mkdtempSync(join(tmpdir(), 'beacon-rbac-doc-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'beacon'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BEACON_BIN)} "$@"\n`);
  chmodSync(join(bin, 'beacon'), 0o755);
  const services: Record<string, string[]> = { node1: ['web'], node2: ['web', 'db'], node3: [] };
  for (const [node, svcs] of Object.entries(services)) {
    const lines = ['node:', `  name: ${node}`, ...(svcs.length ? ['services:', ...svcs.map((s, i) => `  - { name: ${s}, port: ${8080 + i} }`)] : []), ''];
    writeFileSync(join(dir, `${node}.yaml`), lines.join('\n'));
  }
  const r = spawnSync('sh', ['-ec', block.body], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: `${bin}:${process.env.PATH}`, ETCDCTL_API: '3', ETCDCTL_ENDPOINTS: etcd.endpoints },
    timeout: 60_000,
  });
  return { etcd, dir, code: r.status, stdout: r.stdout, stderr: r.stderr, line: block.line };
}

test('the "Applying" block runs: roles applied, auth on, node1 cannot forge node2', async (t) => {
  const r = await runBlock(t, 'Applying');
  t.is(r.code, 0, `docs/security.md:${r.line}\n${r.stdout}\n${r.stderr}`);
  t.regex(r.stdout, /name: beacon-node-node2/); // the -o yaml plan
  t.regex(r.stdout, /^enable-auth root$/m);
  t.regex(r.stdout, /^add-role beacon-node-node3$/m); // the later run added node3
  t.regex(r.stderr, /permission denied/);
  const passwords = readFileSync(join(r.dir, 'beacon-passwords'), 'utf8');
  t.regex(passwords, /^beacon-node-node3:\S{32}$/m);
  for (const line of passwords.trim().split('\n')) t.false(r.stdout.includes(line.split(':')[1]!));
});

test('the "As an etcdctl script" block runs', async (t) => {
  const r = await runBlock(t, 'As an etcdctl script');
  t.is(r.code, 0, `docs/security.md:${r.line}\n${r.stdout}\n${r.stderr}`);
  t.regex(r.stdout, /Role beacon-node-node2\nKV Read:[\s\S]*\/beacon\/v1\/services\/db\/node2/);
  t.regex(r.stdout, /Authentication Enabled/);
});
