// The one rule for "did this node leave?" (src/registry/leave.ts), as the registry's views, the watcher's
// model and its classifier all apply it: the leave marker must name the registration that ended.
import test from 'ava';
import { leftGracefully } from '../../src/registry/leave.js';

const marker = (lease: string) => ({ left: { lease, at: '2026-01-01T00:00:00.000Z' } });

test('a leave marker naming the ended registration is a graceful leave', (t) => {
  t.true(leftGracefully(marker('abc'), 'abc'));
});

test('a marker from another registration, no marker, no identity or no lease is not', (t) => {
  t.false(leftGracefully(marker('abc'), 'def'), 'an earlier leave says nothing about a later registration');
  t.false(leftGracefully({ left: null }, 'abc'));
  t.false(leftGracefully(undefined, 'abc'));
  t.false(leftGracefully(marker('abc'), undefined));
  t.false(leftGracefully(marker(''), ''));
});
