// The agent's limits against a real etcd (default --max-txn-ops 128): the largest config `beacon validate`
// accepts really registers, and a reload past the limit is refused while the running config stays.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, beacon, writeConfig } from '../helpers/process.js';
import { registrationProblems } from '../../src/agent/limits.js';
import type { AgentConfig } from '../../src/config/types.js';
import { MAX_VALUE_BYTES } from '../../src/registry/codec.js';

let etcd: EtcdCluster;
test.before(async () => {
  etcd = await EtcdCluster.start();
});
test.after.always(async () => {
  await etcd?.destroy();
});

function config(prefix: string, services: string[]): string {
  return [
    'etcd:',
    `  endpoints: [${etcd.endpoints}]`,
    `prefix: ${prefix}`,
    'node:',
    '  name: n1',
    '  ttl: 10s',
    'services:',
    ...services.map((s, i) => `  - name: ${s}\n    port: ${1000 + i}`),
    '',
  ].join('\n');
}

const names = (stem: string, n: number) => Array.from({ length: n }, (_, i) => `${stem}${i}`);

function endpointKeys(prefix: string): string[] {
  return etcd.etcdctl(['get', `${prefix}/v1/services/`, '--prefix', '--keys-only']).split('\n').filter(Boolean);
}

test('125 services (128 operations) validate and register in one transaction; a reload past the limit keeps them', async (t) => {
  const prefix = '/t-limits';
  const path = writeConfig(config(prefix, names('a', 125)));
  t.is(beacon(['validate', path]).code, 0);
  const agent = new BeaconProcess(['agent', '--config', path]);
  t.teardown(() => agent.stop());
  await agent.waitLine((l) => l.msg === 'registered', 30_000);
  await waitFor(() => endpointKeys(prefix).length === 125, { timeoutMs: 10_000, what: '125 endpoint records' });
  const lease = JSON.parse(etcd.etcdctl(['get', `${prefix}/v1/nodes/n1/live`, '--print-value-only'])).lease as string;

  // Every service replaced: 128 puts plus 125 deletes in one transaction. etcd would refuse it and the
  // agent retry it for ever; the reload is refused instead, naming the field.
  writeFileSync(path, config(prefix, names('b', 125)));
  agent.kill('SIGHUP');
  const refused = await agent.waitLine((l) => l.msg === 'reload refused: config invalid', 20_000);
  t.is(refused.field, 'services');
  t.regex(JSON.stringify(refused.err), /this reload needs 253 operations in one transaction, more than etcd's limit of 128/);

  // Past the limit on its own (130 services): refused too.
  const from = agent.lines.length;
  writeFileSync(path, config(prefix, names('a', 130)));
  agent.kill('SIGHUP');
  const again = await agent.waitLine((l) => l.msg === 'reload refused: config invalid', 20_000, from);
  t.regex(JSON.stringify(again.err), /need 133 operations/);

  // The running config is untouched: the same 125 endpoints under the same lease, no re-registration.
  t.deepEqual(endpointKeys(prefix).map((k) => k.split('/')[4]).sort(), names('a', 125).sort());
  t.is(JSON.parse(etcd.etcdctl(['get', `${prefix}/v1/nodes/n1/live`, '--print-value-only'])).lease, lease);
  t.is(agent.withMsg('registered').length, 1);
  t.is(agent.withMsg('registration updated').length, 0);
});

test('registrationProblems measures the records the config makes against the codec\'s limit (pure)', (t) => {
  // Past the parser's bounds on purpose: the size check is the guard behind them.
  const big = Object.fromEntries(Array.from({ length: 1200 }, (_, i) => [`k${i}`, 'v'.repeat(256)]));
  const cfg = (labels: Record<string, string>, tags: string[]) =>
    ({
      node: { name: 'n1', labels },
      services: [{ name: 'web', port: 80, protocol: 'tcp', tags, meta: {}, checks: [] }],
      problems: null,
      dns: null,
    }) as unknown as AgentConfig;
  t.deepEqual(registrationProblems(cfg({}, [])), []);
  const [node] = registrationProblems(cfg(big, []));
  t.is(node?.field, 'node.labels');
  t.regex(node!.message, new RegExp(`make a node record of up to \\d+ bytes, more than readers accept \\(${MAX_VALUE_BYTES / 1024} KiB\\)`));
  const [endpoint] = registrationProblems(cfg({}, Array<string>(2000).fill('t'.repeat(200))));
  t.is(endpoint?.field, 'services[0]');
  t.regex(endpoint!.message, /makes an endpoint record of up to \d+ bytes/);
});
