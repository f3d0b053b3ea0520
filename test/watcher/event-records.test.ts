// The records an event brings (pure): the event with its hooks pending, one pending reaction per hook, the
// remedies for a failure held for the mass-failure hold and alerts not, and every record within its schema.
import test from 'ava';
import type { HookConfig } from '../../src/config/watcher.js';
import { problemOf } from '../../src/registry/codec.js';
import { decide } from '../../src/watcher/classify.js';
import { partitionEvent, reactionsFor, withHooks } from '../../src/watcher/event-records.js';
import { liveRecord } from '../helpers/records.js';

const NOW = Date.parse('2026-12-01T00:00:10.000Z');
const HOLD_MS = 5_000;

function hook(name: string, alertOnly: boolean): HookConfig {
  return { name, kind: 'exec', command: ['/bin/true'], env: {}, events: ['NodeFailed'], timeoutMs: 1000, retries: 0, backoffMs: 100, concurrency: 1, alertOnly };
}

// A failure as the classifier reports it: n1 was up under lease a1, and its live key is gone.
function failure() {
  const d = decide(
    { node: 'n1', deleted: { lease: '390da21e114c7205', record: liveRecord({ name: 'n1' }) } },
    { schema: 1, node: 'n1', state: 'up', since: '2026-12-01T00:00:00.000Z', lastSeen: '2026-12-01T00:00:00.000Z', reason: 'Registered', lease: '390da21e114c7205', bootId: 'b', address: '10.0.0.21' },
    new Date(NOW),
    'watch',
    -1,
  );
  return d.events[0]!;
}

test('an event carries each hook it triggers as pending, and one pending reaction per hook', (t) => {
  const draft = failure();
  t.is(draft.event, 'NodeFailed');
  const hooks = [hook('remedy', false), hook('notify', true)];
  const event = withHooks(draft, hooks);
  t.deepEqual(event.hooks, { remedy: { state: 'pending' }, notify: { state: 'pending' } });
  t.is(problemOf('watcher-event', event), undefined);
  const reactions = reactionsFor(event, hooks, HOLD_MS, NOW);
  t.deepEqual(reactions.map((r) => [r.id, r.hook, r.state, r.owner]), [
    [`${event.id}.remedy`, 'remedy', 'pending', null],
    [`${event.id}.notify`, 'notify', 'pending', null],
  ]);
  for (const r of reactions) {
    t.is(problemOf('watcher-reaction', r), undefined);
    t.false('hooks' in r.event, 'the reaction carries the event without its hooks');
  }
});

test('remedies for a failure wait out the hold; alerts and other events go at once', (t) => {
  const hooks = [hook('remedy', false), hook('notify', true)];
  const failed = reactionsFor(withHooks(failure(), hooks), hooks, HOLD_MS, NOW);
  t.deepEqual(failed.map((r) => Date.parse(r.notBefore) - NOW), [HOLD_MS, 0]);
  const left = withHooks({ ...failure(), event: 'NodeLeft', reason: 'Left' }, hooks);
  t.deepEqual(reactionsFor(left, hooks, HOLD_MS, NOW).map((r) => Date.parse(r.notBefore) - NOW), [0, 0]);
});

test('a tripped guard becomes one PartitionSuspected event about every node', (t) => {
  const draft = partitionEvent({ tripped: true, nodes: ['n1', 'n2', 'n3'], known: 4 }, NOW);
  t.like(draft, { event: 'PartitionSuspected', node: '*', id: `PartitionSuspected.${NOW}`, failed: 3, known: 4, nodes: ['n1', 'n2', 'n3'] });
  t.is(problemOf('watcher-event', withHooks(draft, [])), undefined);
});
