// Shared set-up for the client library tests: agent configs for one etcd.
import { BeaconProcess, writeConfig } from '../helpers/process.js';

/** Start an agent registering `node` with the given services (name → extra YAML lines); resolves once registered. */
export async function startAgent(endpoints: string, node: string, services: Record<string, string[]>): Promise<BeaconProcess> {
  const cfg = [
    'etcd:',
    `  endpoints: [${endpoints}]`,
    'node:',
    `  name: ${node}`,
    '  address: { address: 127.0.0.1 }',
    '  ttl: 10s',
    'services:',
    ...Object.entries(services).flatMap(([name, extra], i) => [`  - name: ${name}`, `    port: ${8000 + i}`, ...extra]),
    '',
  ].join('\n');
  const agent = new BeaconProcess(['agent', '--config', writeConfig(cfg)], { BEACON_LOG_LEVEL: 'info' });
  await agent.waitLine((l) => l.msg === 'registered', 30_000);
  return agent;
}
