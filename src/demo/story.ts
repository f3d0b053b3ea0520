// The demo's story, told once and bounded in time: the fleet comes up; one node crashes (SIGKILL: no
// leave), its lease runs out, the watcher reports NodeFailed and runs its remedy hook; the node comes back
// (NodeRecovered); then one app fails its health check and recovers. Each step waits on what the registry
// shows (never on a fixed guess), with a generous deadline so that a slow machine only tells it slower.
import { DEMO_HOOK, DEMO_TTL_SECONDS } from './configs.js';
import type { DemoFleet } from './fleet.js';
import type { DemoState, FinalOutcome, RegistryObserver } from './observer.js';
import { eventId } from '../watcher/records.js';
import { sleep } from '../util/time.js';

/** The part of the fleet the story acts on. */
export type StoryFleet = Pick<DemoFleet, 'nodeNames' | 'killNode' | 'restartNode' | 'setWebHealthy'>;

/** How the story is told. */
export interface StoryOptions {
  /** Crash a node and fail a check (false: only bring the fleet up). */
  failure: boolean;
  /** Pause before the crash, so the steady state can be seen first. */
  calmMs?: number;
  /** One line of the story. */
  note(text: string): void;
}

// How long each step may take before the story says so and moves on. Starting four Node processes at once
// on a loaded machine is the slowest part.
const UP_TIMEOUT_MS = 90_000;
const STEP_TIMEOUT_MS = 45_000;
const CALM_MS = 3_000;
const PAUSE_MS = 2_000;
const SICK_MS = 4_000;

const isUp = (s: DemoState, node: string) => s.snapshot.nodes.get(node)?.live?.state === 'up';
const joined = (s: DemoState, node: string) => s.events.some((e) => e.node === node && e.event === 'NodeJoined');
const health = (s: DemoState, service: string, node: string) =>
  s.snapshot.endpoints.find((e) => e.service === service && e.node === node)?.health;

/** Tell the story; resolves when it is over (or `signal` aborts). Never throws for what the fleet does. */
export async function runStory(fleet: StoryFleet, observer: RegistryObserver, opts: StoryOptions, signal: AbortSignal): Promise<void> {
  const { note } = opts;
  const names = fleet.nodeNames;
  const wait = <T>(pick: (s: DemoState) => T | undefined, ms = STEP_TIMEOUT_MS) => observer.waitFor(pick, ms, signal);
  const up = await wait((s) => (names.every((n) => isUp(s, n) && joined(s, n)) ? true : undefined), UP_TIMEOUT_MS);
  if (signal.aborted) return;
  if (!up) return note(`not every node registered and joined within ${UP_TIMEOUT_MS / 1000} s: see the agents' logs`);
  note(`all ${names.length} nodes are up, and the watcher (the leader) has seen them join`);
  if (!opts.failure) return note('no failure this time (--no-failure): the fleet runs until Ctrl-C');

  // The crash.
  const victim = names[1] ?? names[0]!;
  const lease = observer.state.snapshot.nodes.get(victim)?.live?.lease;
  note(`in ${(opts.calmMs ?? CALM_MS) / 1000} s: SIGKILL to ${victim}'s agent, like a crash: no leave, its lease (TTL ${DEMO_TTL_SECONDS} s) is no longer renewed`);
  await sleep(opts.calmMs ?? CALM_MS, signal);
  if (signal.aborted) return;
  const pid = await fleet.killNode(victim);
  note(`killed ${victim} (pid ${pid ?? '?'}); the watcher will see its lease expire`);
  const failedId = lease ? eventId('NodeFailed', victim, lease) : undefined;
  const failed = await wait((s) => s.events.find((e) => (failedId ? e.id === failedId : e.node === victim && e.event === 'NodeFailed')));
  if (signal.aborted) return;
  if (!failed) note(`the watcher did not report ${victim} failed within ${STEP_TIMEOUT_MS / 1000} s`);
  else {
    note(`remedy hooks wait a moment (watcher.massFailure.hold), so that failures arriving together are judged together`);
    const outcome = await wait((s): FinalOutcome | undefined => {
      const o = s.events.find((e) => e.id === failed.id)?.hooks[DEMO_HOOK];
      return o && o.state !== 'pending' ? o : undefined;
    });
    if (signal.aborted) return;
    if (!outcome) note(`the ${DEMO_HOOK} hook did not finish within ${STEP_TIMEOUT_MS / 1000} s`);
  }

  // The repair.
  note(`in ${PAUSE_MS / 1000} s: ${victim} comes back (its agent restarted, as systemd's Restart=always would)`);
  await sleep(PAUSE_MS, signal);
  if (signal.aborted) return;
  fleet.restartNode(victim);
  const recovered = await wait((s) => s.events.find((e) => e.node === victim && e.event === 'NodeRecovered'));
  if (signal.aborted) return;
  if (!recovered) note(`the watcher did not report ${victim} recovered within ${STEP_TIMEOUT_MS / 1000} s`);

  // A sick app on a healthy node.
  const sick = names.filter((n) => n !== victim).at(-1) ?? victim;
  await sleep(PAUSE_MS, signal);
  if (signal.aborted) return;
  fleet.setWebHealthy(sick, false);
  note(`${sick}'s web app now answers HTTP 500 on /healthz: its http check (every 1 s) turns it critical`);
  const critical = await wait((s) => (health(s, 'web', sick) === 'critical' ? true : undefined));
  if (signal.aborted) return;
  note(
    critical
      ? `web on ${sick} is critical in etcd: consumers that want passing endpoints (the watcher's /http_sd?health=passing, beacon render) skip it`
      : `web on ${sick} did not turn critical within ${STEP_TIMEOUT_MS / 1000} s`,
  );
  await sleep(SICK_MS, signal);
  if (signal.aborted) return;
  fleet.setWebHealthy(sick, true);
  note(`${sick}'s web app answers 200 again`);
  const passing = await wait((s) => (health(s, 'web', sick) === 'passing' ? true : undefined));
  if (signal.aborted) return;
  note(passing ? `web on ${sick} is passing again` : `web on ${sick} did not pass again within ${STEP_TIMEOUT_MS / 1000} s`);
  note('that is the story: everything keeps running until Ctrl-C');
}
