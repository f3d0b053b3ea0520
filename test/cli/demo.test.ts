// `beacon demo` (the README's first command) tells its story: several real agents with real checks, a
// watcher with a harmless hook and its HTTP side; one node is SIGKILLed (NodeFailed, the hook's reaction),
// comes back (NodeRecovered), and one app's check goes critical and back. After SIGINT nothing is left:
// no process (etcd, agents, watcher, the hook), no temp dir, no listening port.
import test from 'ava';
import { existsSync } from 'node:fs';
import { requireBinary, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, processGone, spawnBeacon } from '../helpers/process.js';
import { assertNoRawControl } from '../helpers/terminal.js';

// Four Node processes start at once: a loaded machine takes its time.
const STORY_MS = 120_000;

function screenOf(demo: BeaconProcess): () => string {
  // The view is plain text, not JSON: look at the raw lines.
  return () => demo.lines.map((l) => String(l.raw ?? JSON.stringify(l))).join('\n');
}

async function answers(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return undefined;
  }
}

test('demo: a node crashes (NodeFailed, hook), recovers (NodeRecovered), a check fails and passes; nothing left after SIGINT', async (t) => {
  t.timeout(STORY_MS + 60_000);
  requireBinary('etcd');
  const demo = new BeaconProcess(['demo']);
  t.teardown(() => demo.stop('SIGKILL'));
  const screen = screenOf(demo);
  const started = await waitFor(() => /etcd pid (\d+) at (\S+), data in (\S+)/.exec(demo.stderr), {
    timeoutMs: 60_000,
    what: `demo start line (stderr: ${demo.stderr.slice(-400)})`,
  });
  const [etcdPid, etcdUrl, dir] = [Number(started[1]), started[2]!, started[3]!];
  // The watchdog's line may come a write after etcd's.
  const reaperPid = Number((await waitFor(() => /cleanup watchdog pid (\d+)/.exec(demo.stderr), { what: 'watchdog line' }))[1]);
  t.false(processGone(etcdPid));
  t.true(existsSync(dir));

  // The watcher's HTTP side answers at the printed address.
  const status = (await waitFor(() => /^status page: (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(screen()), { what: 'status page line' }))[1]!;
  t.is(await answers(new URL('healthz', status).href), 200, '/healthz answers 200');

  // Three agents with all three check kinds passing.
  await waitFor(() => ['node1', 'node2', 'node3'].every((n) => ['web', 'api', 'batch'].every((s) => new RegExp(`^${s}\\s+${n}\\s+127\\.0\\.0\\.1:\\d+\\s+passing`, 'm').test(screen()))), {
    timeoutMs: STORY_MS,
    what: `every service of every node passing: ${screen().slice(-800)}`,
  });

  // The story, in order: each step is looked for after the previous one.
  let from = 0;
  const next = async (re: RegExp, what: string) => {
    const m = await waitFor(() => re.exec(screen().slice(from)), { timeoutMs: STORY_MS, what: `${what}: ${screen().slice(-1200)}` });
    from += m.index + m[0].length;
    return m;
  };
  await next(/killed node2 \(pid (\d+)\)/, 'the kill');
  const afterKill = from;
  await next(/watcher: NodeFailed node2 \(LeaseExpired/, 'NodeFailed');
  const hook = await next(/hook would-reboot for NodeFailed node2: ok .*would reboot node2 \(hook pid (\d+)\)/, 'the hook reaction');
  await next(/watcher: NodeRecovered node2 after [\d.]+ s down/, 'NodeRecovered');
  // Startup showed critical too (a check's initial status): only a critical after the recovery counts.
  await next(/^web\s+node3\s+\S+\s+critical/m, 'web on node3 critical');
  await next(/web on node3 is passing again/, 'web on node3 passing again');
  await next(/that is the story/, 'the end of the story');
  t.regex(screen().slice(afterKill), /^node2\s+failed\s/m, 'the nodes table showed node2 failed');
  t.is(await answers(new URL('healthz', status).href), 200, 'the watcher still answers after the story');
  assertNoRawControl(t, 'demo output', screen());

  // Every process the demo started, the restarted agent and the hook included.
  const pids = [Number(hook[1]), ...[...screen().matchAll(/started \S+ \(pid (\d+)\)/g)].map((m) => Number(m[1]))];
  t.is(pids.length, 7, `the hook, etcd, 3 agents, the restarted agent and the watcher: ${pids.join(' ')}`);
  t.true(pids.includes(etcdPid));

  demo.kill('SIGINT');
  t.is(await demo.exited, 0);
  for (const pid of [...pids, reaperPid]) t.true(processGone(pid), `pid ${pid} gone`);
  t.false(existsSync(dir), 'temp dir removed');
  t.is(await answers(new URL('healthz', status).href), undefined, 'the status page port is closed');
  t.is(await answers(`${etcdUrl}/health`), undefined, "etcd's port is closed");
  t.regex(demo.stderr, /stopped; watcher, agents, apps, etcd and its data removed/);
});

test('demo --nodes 1 --no-failure: one quiet node; SIGTERM leaves nothing', async (t) => {
  t.timeout(STORY_MS + 30_000);
  requireBinary('etcd');
  const demo = new BeaconProcess(['demo', '--nodes', '1', '--no-failure']);
  t.teardown(() => demo.stop('SIGKILL'));
  const screen = screenOf(demo);
  // The story line and the table's redraw come from separate events: wait for both.
  await waitFor(() => /no failure this time/.test(screen()) && /^node1\s+up\s/m.test(screen()), {
    timeoutMs: STORY_MS,
    what: `the quiet story with node1 up: ${screen().slice(-800)}`,
  });
  t.notRegex(screen(), /node2|killed/);
  const dir = /started etcd \(pid \d+\) at \S+, data in (\S+)/.exec(screen())![1]!;
  const pids = [...screen().matchAll(/started \S+ \(pid (\d+)\)/g)].map((m) => Number(m[1]));
  t.is(pids.length, 3, 'etcd, the agent and the watcher');
  demo.kill('SIGTERM');
  t.is(await demo.exited, 0);
  for (const pid of pids) t.true(processGone(pid), `pid ${pid} gone`);
  t.false(existsSync(dir), 'temp dir removed');
});

test('demo --for: stops by itself, even while still starting, and leaves nothing', async (t) => {
  t.timeout(60_000);
  requireBinary('etcd');
  const demo = new BeaconProcess(['demo', '--for', '4s']);
  t.teardown(() => demo.stop('SIGKILL'));
  t.is(await demo.exited, 0, demo.stderr);
  const screen = screenOf(demo)();
  const etcd = /started etcd \(pid \d+\) at \S+, data in (\S+)/.exec(screen);
  t.truthy(etcd, `etcd started within 4 s: ${screen}`);
  const pids = [...screen.matchAll(/started \S+ \(pid (\d+)\)/g)].map((m) => Number(m[1]));
  for (const pid of pids) t.true(processGone(pid), `pid ${pid} gone`);
  t.false(existsSync(etcd![1]!), 'temp dir removed');
  t.regex(demo.stderr, /stopped; watcher, agents, apps, etcd and its data removed|interrupted while starting; everything started was stopped and removed/);
});

test('demo killed with SIGKILL: its watchdog ends every process it started and removes the temp dir', async (t) => {
  t.timeout(STORY_MS + 30_000);
  requireBinary('etcd');
  const demo = new BeaconProcess(['demo', '--nodes', '1', '--no-failure']);
  t.teardown(() => demo.stop('SIGKILL'));
  const screen = screenOf(demo);
  await waitFor(() => /no failure this time/.test(screen()), { timeoutMs: STORY_MS, what: `the quiet story: ${screen().slice(-800)}` });
  const dir = /started etcd \(pid \d+\) at \S+, data in (\S+)/.exec(screen())![1]!;
  // The watchdog's line may come a write after etcd's.
  const reaperPid = Number((await waitFor(() => /cleanup watchdog pid (\d+)/.exec(demo.stderr), { what: 'watchdog line' }))[1]);
  const pids = [...screen().matchAll(/started \S+ \(pid (\d+)\)/g)].map((m) => Number(m[1]));
  t.is(pids.length, 3, 'etcd, the agent and the watcher');
  t.false(processGone(reaperPid));
  demo.kill('SIGKILL');
  await demo.exited;
  await waitFor(() => [...pids, reaperPid].every((p) => processGone(p)) && !existsSync(dir), {
    timeoutMs: 20_000,
    what: `every process gone (${pids.filter((p) => !processGone(p)).join(' ')} left) and ${dir} removed`,
  });
  t.pass();
});

test('demo: bad flags exit 2 naming the flag, before anything starts', async (t) => {
  const cases = [
    [['--nodes', '0'], '--nodes'],
    [['--nodes', '10'], '--nodes'],
    [['--nodes', 'three'], '--nodes'],
    [['--for', 'soon'], '--for'],
  ] as const;
  // Not spawnSync: the other tests' processes are read by this same event loop.
  const runs = await Promise.all(
    cases.map(async ([args]) => {
      const run = spawnBeacon(['demo', ...args]);
      const code = await new Promise<number | null>((resolve) => run.proc.once('close', resolve));
      return { code, stderr: run.stderr };
    }),
  );
  cases.forEach(([args, flag], i) => {
    const r = runs[i]!;
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.true(r.stderr.includes(flag), `${args.join(' ')} names ${flag}: ${r.stderr}`);
    t.notRegex(r.stderr, /etcd pid/);
  });
});
