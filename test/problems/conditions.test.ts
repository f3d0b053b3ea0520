import test from 'ava';
import { NodeConditions } from '../../src/problems/conditions.js';
import type { Condition } from '../../src/problems/types.js';

const c = (type: string, status: Condition['status'] = 'False'): Condition => ({ type, status, reason: `${type}Reason`, message: 'm', lastTransitionTime: '2030-01-01T00:00:00.000Z' });

test('merges producers, sorted by type, and reports only changes', (t) => {
  const seen: string[][] = [];
  const nc = new NodeConditions((all) => seen.push(all.map((x) => `${x.type}=${x.status}`)));
  nc.set('kernel', [c('ReadonlyFilesystem'), c('KernelDeadlock')]);
  nc.set('pressure', [c('MemoryPressure')]);
  nc.set('pressure', [c('MemoryPressure')]);
  nc.set('kernel', [c('ReadonlyFilesystem', 'True'), c('KernelDeadlock')]);
  t.deepEqual(seen, [
    ['KernelDeadlock=False', 'ReadonlyFilesystem=False'],
    ['KernelDeadlock=False', 'MemoryPressure=False', 'ReadonlyFilesystem=False'],
    ['KernelDeadlock=False', 'MemoryPressure=False', 'ReadonlyFilesystem=True'],
  ]);
  t.is(nc.all().length, 3);
});
