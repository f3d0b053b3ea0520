// The units' SystemCallFilter= must let Node live: run the agent under strace against a real etcd
// (register, keep alive, leave on SIGTERM) and check every system call it made, in every thread and
// child process, is one the agent unit's filter allows. PID 1 here is not systemd, so the filter
// itself cannot be applied; systemd-analyze expands the same groups systemd would.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, requireBinary, waitFor } from '../helpers/etcd.js';
import { parseUnit, repoRoot } from './systemd-root.js';

const groups = new Map<string, Set<string>>();
/** The system calls of a systemd group (@name), nested groups expanded, or a single call. */
function expand(name: string): Set<string> {
  if (!name.startsWith('@')) return new Set([name]);
  const known = groups.get(name);
  if (known) return known;
  const r = spawnSync('systemd-analyze', ['syscall-filter', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`systemd-analyze syscall-filter ${name}: ${r.stderr}`);
  const out = new Set<string>();
  for (const line of r.stdout.split('\n').slice(1)) {
    const item = line.trim();
    if (item && !item.startsWith('#')) for (const c of expand(item)) out.add(c);
  }
  groups.set(name, out);
  return out;
}

/** What a unit's SystemCallFilter= lines allow: the first (allow) list minus every ~ (deny) list. */
function allowedSyscalls(unitText: string): Set<string> {
  const filters = parseUnit(unitText).get('Service')?.get('SystemCallFilter') ?? [];
  if (!filters[0] || filters[0].startsWith('~')) throw new Error('expected an allow list first');
  const allowed = new Set<string>();
  for (const item of filters[0].split(/\s+/)) for (const c of expand(item)) allowed.add(c);
  for (const deny of filters.slice(1)) {
    if (!deny.startsWith('~')) throw new Error(`expected a deny list: ${deny}`);
    for (const item of deny.slice(1).split(/\s+/)) for (const c of expand(item)) allowed.delete(c);
  }
  return allowed;
}

test('every system call the agent makes is allowed by beacon-agent.service', async (t) => {
  requireBinary('systemd-analyze');
  const strace = requireBinary('strace');
  const allowed = allowedSyscalls(readFileSync(join(repoRoot, 'units/beacon-agent.service'), 'utf8'));
  t.true(allowed.has('epoll_wait') && !allowed.has('mount') && !allowed.has('setpriority'), 'the expansion is real');

  const etcd = await EtcdCluster.start(1);
  const dir = mkdtempSync(join(tmpdir(), 'beacon-strace-'));
  try {
    const config = join(dir, 'agent.yaml');
    writeFileSync(config, `etcd:\n  endpoints: [${etcd.endpoints}]\nnode:\n  name: traced\n  ttl: 5s\nservices:\n  - name: web\n    port: 8080\n`);
    const log = join(dir, 'strace.log');
    const bin = join(repoRoot, 'dist/src/cli/bin.js');
    const p = spawn(strace, ['-f', '-qq', '-o', log, process.execPath, bin, 'agent', '--config', config, '--log-level', 'warn'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => p.once('exit', resolve));
    try {
      await waitFor(() => etcd.etcdctl(['get', '--prefix', '--keys-only', '/beacon/']).includes('traced'), { timeoutMs: 30_000, what: `agent registered (${stderr})` });
      // The traced agent's pid opens strace's log (its execve line); SIGTERM it: it leaves and exits 0.
      const agentPid = Number(/^(\d+)\s/.exec(readFileSync(log, 'utf8'))?.[1]);
      t.true(agentPid > 0 && agentPid !== p.pid);
      process.kill(agentPid, 'SIGTERM');
      t.is(await exited, 0, stderr);
    } finally {
      p.kill('SIGKILL');
    }
    const used = new Set<string>();
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      const m = /^\d+\s+([a-z0-9_]+)\(/.exec(line);
      if (m) used.add(m[1]!);
    }
    t.true(used.size > 30, `parsed ${used.size} distinct calls`);
    t.deepEqual([...used].filter((c) => !allowed.has(c)).sort(), []);
  } finally {
    await etcd.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
