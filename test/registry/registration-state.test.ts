// The registration's states and transitions (src/registry/registration-state.ts): the rules the loop
// relies on hold for the table, and a transition outside it is refused, not silently taken.
import test from 'ava';
import { TRANSITIONS, transition, type RegistrationState, type StateKind } from '../../src/registry/registration-state.js';

const KINDS = Object.keys(TRANSITIONS) as StateKind[];

// One value of each kind; the data is never looked at by transition().
function state(kind: StateKind): RegistrationState {
  const lease = { id: '694d7e1a2b3c4d5e', ttl: 10 };
  const written = { leased: new Map(), unleased: new Map() };
  switch (kind) {
    case 'unregistered':
    case 'stopped':
      return { kind };
    case 'conflict':
      return { kind, holder: '1234' };
    case 'lost':
      return { kind, lease: lease.id };
    case 'leaving':
      return { kind, lease, written };
    case 'registered':
      return { kind, lease, written, watches: {} as never };
  }
}

const allowed = (from: StateKind, to: StateKind) => (TRANSITIONS[from] as readonly StateKind[]).includes(to);

test('transition() takes exactly the moves in the table and refuses every other one', (t) => {
  for (const from of KINDS) {
    for (const to of KINDS) {
      const next = state(to);
      if (allowed(from, to)) t.is(transition(state(from), next), next, `${from} → ${to}`);
      else t.throws(() => transition(state(from), next), { message: `registration: no transition from ${from} to ${to}` });
    }
  }
});

test('a lease is lost or left only while held, and leaving ends in stopped', (t) => {
  const into = (to: StateKind) => KINDS.filter((from) => allowed(from, to));
  t.deepEqual(into('lost'), ['registered']);
  t.deepEqual(into('leaving'), ['registered']);
  t.deepEqual([...TRANSITIONS.leaving], ['stopped']);
  t.deepEqual([...TRANSITIONS.stopped], [], 'a Registration runs once');
});

test('a lost lease is settled before any grant: it never meets a conflict directly', (t) => {
  t.false(allowed('lost', 'conflict'));
  t.true(allowed('lost', 'unregistered') && allowed('unregistered', 'conflict'));
});

test('the loop can stop from every state it waits in (registered through leaving)', (t) => {
  for (const from of KINDS.filter((k) => k !== 'stopped')) {
    const via = allowed(from, 'stopped') || (allowed(from, 'leaving') && allowed('leaving', 'stopped'));
    t.true(via, `${from} reaches stopped`);
  }
  t.false(allowed('registered', 'stopped'), 'a held lease is left (leave markers, revoke), never just dropped');
});
