// `beacon demo` (the README's first command) starts, shows the sample services, and cleans up on SIGINT.
import test from 'ava';
import { existsSync } from 'node:fs';
import { requireBinary, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, processGone } from '../helpers/process.js';

const alive = (pid: number) => !processGone(pid);

test('demo shows the sample services live and leaves nothing behind after SIGINT', async (t) => {
  requireBinary('etcd');
  const demo = new BeaconProcess(['demo']);
  t.teardown(() => demo.stop('SIGKILL'));
  const started = await waitFor(() => /etcd pid (\d+) at \S+, data in (\S+)/.exec(demo.stderr), { what: 'demo start line' });
  const [pid, dir] = [Number(started[1]), started[2]!];
  t.true(alive(pid));
  t.true(existsSync(dir));
  // The table is plain text, not JSON: look at the raw lines.
  const screen = () => demo.lines.map((l) => String(l.raw ?? '')).join('\n');
  await waitFor(() => /web\s+demo-node\s+\S+:8080\s+passing/.test(screen()) && /metrics\s+demo-node/.test(screen()), {
    what: `sample services on screen: ${screen().slice(-400)}`,
  });
  t.regex(screen(), /demo-node\s+up/);
  demo.kill('SIGINT');
  t.is(await demo.exited, 0);
  t.false(alive(pid), 'etcd stopped');
  t.false(existsSync(dir), 'temp dir removed');
  t.regex(demo.stderr, /stopped; etcd and its data removed/);
});
