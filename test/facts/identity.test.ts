import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { readIdentity, UNKNOWN_ID } from '../../src/facts/identity.js';
import { captureLog, fixture } from './support.js';

test('reads and trims machine id and boot id', async (t) => {
  const id = await readIdentity({ root: fixture('identity', 'ok') });
  t.deepEqual(id, {
    machineId: '0123456789abcdef0123456789abcdef',
    bootId: '5f2b6c1e-8d3a-4c7e-9b1f-2a4d6e8c0b13',
    warnings: [],
  });
});

test('uninitialized machine id and missing boot id become unknown, with reasons and warnings', async (t) => {
  const { log, lines } = captureLog();
  const id = await readIdentity({ root: fixture('identity', 'uninitialized'), log });
  t.is(id.machineId, UNKNOWN_ID);
  t.is(id.bootId, UNKNOWN_ID);
  t.deepEqual(
    id.warnings.map((w) => w.field),
    ['machineId', 'bootId'],
  );
  t.regex(id.warnings[0]!.reason, /etc\/machine-id: uninitialized/);
  t.regex(id.warnings[0]!.reason, /var\/lib\/dbus\/machine-id: missing/);
  t.regex(id.warnings[1]!.reason, /boot_id: missing/);
  const warns = lines.filter((l) => l.level === 40);
  t.is(warns.length, 2);
  t.is(warns[0]!.field, 'machineId');
});

test('an empty /etc/machine-id falls back to the dbus copy; a malformed boot id is refused', async (t) => {
  const id = await readIdentity({ root: fixture('identity', 'dbus-fallback') });
  t.is(id.machineId, 'fedcba9876543210fedcba9876543210');
  t.is(id.bootId, UNKNOWN_ID);
  t.deepEqual(id.warnings, [{ field: 'bootId', reason: `${fixture('identity', 'dbus-fallback')}/proc/sys/kernel/random/boot_id: not a UUID` }]);
});

test('an empty root gives unknown ids instead of throwing', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'beacon-identity-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const id = await readIdentity({ root });
  t.is(id.machineId, UNKNOWN_ID);
  t.is(id.bootId, UNKNOWN_ID);
  t.is(id.warnings.length, 2);
});

test('this host has a boot id in UUID form', async (t) => {
  const id = await readIdentity();
  t.regex(id.bootId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  t.regex(id.machineId, /^([0-9a-f]{32}|unknown)$/);
});
