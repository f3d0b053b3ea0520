// The usage record is one more put in the registration transaction: counted in etcd's 128-operation limit.
import test from 'ava';
import { maxServices, registrationOps } from '../../src/agent/limits.js';
import { parseAgentConfig } from '../../src/config/load.js';

test('a service declaring resources adds the usage record to the registration transaction', (t) => {
  const plain = parseAgentConfig({ services: [{ name: 'a', port: 1 }, { name: 'b', port: 2 }] }, { hostname: 'h' });
  const tracked = parseAgentConfig({ services: [{ name: 'a', port: 1, resources: { cpu: 1 } }, { name: 'b', port: 2 }] }, { hostname: 'h' });
  t.is(registrationOps(tracked), registrationOps(plain) + 1);
  t.is(maxServices(plain), 125);
  t.is(maxServices(tracked), 124);
});
