// Benchmark: crash → NodeFailed when the etcd leader dies at the same moment, on a 3-member cluster.
// Each trial: a fresh victim agent registers, then the etcd leader and the victim are SIGKILLed
// together; measured: the new leader's election (survivors agree on a leader other than the old one),
// the victim's NodeFailed (`time` of the watcher's line − the kill), beside the bound election + T + 1.5 s
// (a new etcd leader restarts every lease's TTL, plus its election timeout). Alive agents run all along:
// a NodeFailed for one of them is a false positive. The killed member is restarted after each trial.
// Run: npm run build && node dist/bench/leader-kill.js [--trials 10] [--ttl 3] [--alive 4] [--docs]
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { EtcdCluster, requireBinary, waitFor } from '../test/helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../test/helpers/process.js';
import { machine } from './fleet/machine.js';
import { DEFAULT_DOCS, commandLine, pct, sleep, writeSection } from './report.js';

/** The heading this benchmark owns in docs/benchmarks.md. */
export const LEADER_KILL_HEADING = '## etcd leader killed: crash → NodeFailed on a 3-member cluster';

const { values: v } = parseArgs({
  options: {
    trials: { type: 'string', default: '10' },
    ttl: { type: 'string', default: '3' },
    alive: { type: 'string', default: '4' },
    docs: { type: 'boolean', default: false },
    'docs-file': { type: 'string' },
  },
});
const trials = Number(v.trials);
const ttl = Number(v.ttl);
const aliveCount = Number(v.alive);
const T = ttl * 1000;
const progress = (s: string) => process.stderr.write(`[leader-kill] ${s}\n`);
const m = machine();
const prefix = '/bench-leader';
const etcd = await EtcdCluster.start(3);
const endpoints = etcd.endpoints;

// One member's id and the leader it follows (undefined when it does not answer or knows no leader).
function memberStatus(endpoint: string): { id: string; leader: string } | undefined {
  const r = spawnSync(requireBinary('etcdctl'), ['--endpoints', endpoint, '--command-timeout=500ms', 'endpoint', 'status', '-w', 'json'], {
    env: { ...process.env, ETCDCTL_API: '3' },
    encoding: 'utf8',
  });
  if (r.status !== 0) return undefined;
  const id = /"member_id":(\d+)/.exec(r.stdout)?.[1]; // uint64: read as text
  const leader = /"leader":(\d+)/.exec(r.stdout)?.[1];
  return id && leader && leader !== '0' ? { id, leader } : undefined;
}

function agent(node: string): BeaconProcess {
  const cfg = writeConfig(`etcd:\n  endpoints: [${endpoints}]\nprefix: ${prefix}\nnode: { name: ${node}, ttl: ${ttl}s }\n`);
  return new BeaconProcess(['agent', '--config', cfg]);
}

// The watcher's election lease must outlive an etcd election (as in test/watcher/cluster.test.ts).
const watcher = new BeaconProcess([
  'watcher',
  '--config',
  writeConfig(
    JSON.stringify({
      etcd: { endpoints: endpoints.split(',') },
      prefix,
      log: { level: 'info' },
      watcher: { id: 'leader-kill', electionTtl: '5s', probeInterval: '1s', massFailure: { minNodes: 1000 } },
    }),
    'watcher.json',
  ),
]);
await watcher.waitLine((l) => l.msg === 'in sync', 30_000);
const events = (event: string, node?: string) =>
  watcher.lines.filter((l) => l.msg === 'node event' && l.event === event && (node === undefined || l.node === node));

const alive = Array.from({ length: aliveCount }, (_, i) => ({ name: `alive${i}`, p: agent(`alive${i}`) }));
await Promise.all(alive.map((a) => a.p.waitLine((l) => l.msg === 'registered', 30_000)));
for (const a of alive) await waitFor(() => events('NodeJoined', a.name)[0], { timeoutMs: 15_000, what: `NodeJoined ${a.name}` });

interface Trial {
  electionMs: number;
  nodeFailedMs: number;
  boundMs: number;
  withinBound: boolean;
}
const results: Trial[] = [];
for (let i = 0; i < trials; i++) {
  const name = `victim${i}`;
  const victim = agent(name);
  await victim.waitLine((l) => l.msg === 'registered', 30_000);
  await waitFor(() => events('NodeJoined', name)[0], { timeoutMs: 15_000, what: `NodeJoined ${name}` });
  const statuses = etcd.members.map((x) => memberStatus(x.endpoint));
  const li = statuses.findIndex((s) => s && s.id === s.leader);
  if (li < 0) throw new Error('no etcd leader found');
  const oldLeader = statuses[li]!.id;
  const survivors = etcd.members.filter((_, j) => j !== li);
  // A random point of the victim's keepalive cycle, after at least one keepalive.
  await sleep(T / 3 + Math.random() * T);
  const killedAt = Date.now();
  etcd.members[li]!.signal('SIGKILL');
  victim.kill('SIGKILL');
  const elected = waitFor(
    () => {
      const s = survivors.map((x) => memberStatus(x.endpoint));
      return s.every((x) => x && x.leader !== oldLeader) ? Date.now() : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 50, what: 'a new etcd leader' },
  );
  const failed = await waitFor(() => events('NodeFailed', name)[0], { timeoutMs: 30_000, what: `NodeFailed ${name}` });
  const electionMs = (await elected) - killedAt;
  const nodeFailedMs = Date.parse(failed.time as string) - killedAt;
  const boundMs = electionMs + T + 1500;
  results.push({ electionMs, nodeFailedMs, boundMs, withinBound: nodeFailedMs <= boundMs });
  progress(`trial ${i}: election ${electionMs} ms, NodeFailed after ${nodeFailedMs} ms (bound ${boundMs} ms)`);
  await victim.exited;
  // Bring the killed member back before the next trial (same data dir).
  await etcd.members[li]!.stop('SIGKILL');
  await etcd.members[li]!.start();
  await etcd.members[li]!.waitHealthy();
  // Past the longest a lost lease of an alive node could take to expire, before the next kill.
  await sleep(T + 1500);
}
const falsePositives = alive.map((a) => events('NodeFailed', a.name).length).reduce((x, y) => x + y, 0);
const aliveLost = alive.map((a) => a.p.withMsg('registration lost').length).reduce((x, y) => x + y, 0);
for (const a of alive) a.p.kill('SIGKILL');
watcher.kill('SIGTERM');
const t = setTimeout(() => watcher.kill('SIGKILL'), 10_000);
await watcher.exited;
clearTimeout(t);
await Promise.all(alive.map((a) => a.p.exited));
await etcd.destroy();

const col = (f: (r: Trial) => number) => {
  const xs = results.map(f);
  return { min: Math.min(...xs), p50: pct(xs, 50), max: Math.max(...xs) };
};
const result = {
  benchmark: 'leader-kill',
  machine: m,
  trials,
  ttlS: ttl,
  aliveAgents: aliveCount,
  electionMs: col((r) => r.electionMs),
  nodeFailedMs: col((r) => r.nodeFailedMs),
  /** NodeFailed − (election + T + 1.5 s): ≤ 0 is within the bound. */
  marginToBoundMs: col((r) => r.nodeFailedMs - r.boundMs),
  withinBound: results.filter((r) => r.withinBound).length,
  falsePositives,
  aliveRegistrationsLost: aliveLost,
  trialsRaw: results,
};
const command = commandLine('leader-kill.js');
if (v.docs) {
  const r = result;
  const table = [
    `| figure (${trials} trials, TTL ${ttl} s, ${aliveCount} agents alive throughout) | min | p50 | max |`,
    '|---|---|---|---|',
    `| etcd leader SIGKILL → new leader (survivors agree) | ${r.electionMs.min} ms | ${r.electionMs.p50} ms | ${r.electionMs.max} ms |`,
    `| **crash → \`NodeFailed\`** (victim killed with the leader) | ${r.nodeFailedMs.min} ms | **${r.nodeFailedMs.p50} ms** | **${r.nodeFailedMs.max} ms** |`,
    `| \`NodeFailed\` − (election + T + 1.5 s) (≤ 0: within the bound) | ${r.marginToBoundMs.min} ms | ${r.marginToBoundMs.p50} ms | ${r.marginToBoundMs.max} ms |`,
    '',
    `Within the bound: ${r.withinBound}/${trials}. **False positives** (\`NodeFailed\` for an agent that stayed alive): ` +
      `**${falsePositives}** over ${trials} leader kills × ${aliveCount} agents; alive agents' registrations lost and redone: ${aliveLost}.`,
  ].join('\n');
  writeSection(v['docs-file'] ?? DEFAULT_DOCS, LEADER_KILL_HEADING, 'leader-kill', m, command, table, result);
}
console.log(JSON.stringify({ ...result, command }, null, 2));
