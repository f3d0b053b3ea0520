// The rules in .dependency-cruiser.cjs bite: a small tree under test/fixtures/architecture/ breaks
// each kind once, and `npm run lint:deps` (the same rules over src/) is only as good as this.
import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/process.js';

const run = promisify(execFile);
const FIXTURE = join(REPO_ROOT, 'test/fixtures/architecture');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

test('every rule kind is reported where the fixture breaks it, and nowhere else', async (t) => {
  const { stdout } = await run(
    join(REPO_ROOT, 'node_modules/.bin/depcruise'),
    ['src', '--config', join(REPO_ROOT, '.dependency-cruiser.cjs'), '--output-type', 'json'],
    { cwd: FIXTURE, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
  ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const violations = (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
  const found = violations.map((v) => `${v.rule.name} ${v.from} → ${v.to.includes('node_modules/etcd3/') ? 'etcd3' : v.to}`).sort();
  t.deepEqual(found, [
    'config-only-in-cli-and-roots src/registry/reads-config.js → src/config/x.js',
    'domain-imports-higher src/checks/up.js → src/cli/main.js',
    'domain-imports-higher src/registry/reads-config.js → src/config/x.js',
    'etcd3-only-in-src-etcd src/watcher/direct.js → etcd3',
    'no-circular src/util/a.js → src/util/b.js',
  ]);
});
