// A reload that fails after the new file is in place is retried with a capped, jittered backoff, from the
// render loop itself: until one succeeds (the status keeps lastError until then), until a newer render's own
// reload takes over, or until shutdown, which does not wait for the next retry. Real shell commands count
// their runs in files next to the target.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { endpoint, setup } from './support.js';

let etcd: EtcdCluster;

test.before(async () => {
  etcd = await EtcdCluster.start();
});

test.after.always(async () => {
  await etcd?.destroy();
});

const TEMPLATE = '{{#each services.web}}{{node}}:{{port}} {{join tags ","}}\n{{/each}}';
// Fails the first three runs (the render's own and two retries), then succeeds; the count is kept beside the target.
const FAIL_3 = 'f="$(dirname "$BEACON_TARGET")/count"; n=$(( $(cat "$f" 2>/dev/null || echo 0) + 1 )); echo $n > "$f"; [ $n -gt 3 ] || { echo "run $n refused"; exit 1; }';

function count(dir: string): number {
  const f = join(dir, 'count');
  return existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : 0;
}

test('a failed reload is retried until it succeeds; lastError stays until then', async (t) => {
  const r = setup(t, etcd, '/rr-count', TEMPLATE, { target: { reloadCmd: FAIL_3 }, renderer: { reloadRetry: { baseMs: 300, capMs: 2_000 } } });
  etcd.etcdctl(['put', r.keys.endpoint('web', 'a'), endpoint('web', 'a', 81)]);
  await r.until('a:81 \n', 'the first render');
  const failing = await waitFor(() => (r.health()?.lastError?.stage === 'reload' ? r.health() : undefined), { what: 'the health file to report the reload failure' });
  t.false(failing.healthy);
  t.regex(failing.lastError!.output ?? '', /run \d refused/);
  await waitFor(() => r.health()?.healthy === true && count(r.dir) === 4, { timeoutMs: 20_000, what: `a retried reload to succeed (count ${count(r.dir)})` });
  t.is(r.health()!.lastError, undefined);
  const first = r.withMsg('reload command failed; the new file is in place');
  t.is(first.length, 1);
  t.is(typeof first[0]!.retryInMs, 'number');
  t.deepEqual(r.withMsg('reload retry failed; the new file is in place').map((l) => l.attempts), [1, 2]);
  t.deepEqual(r.withMsg('reloaded after retry').map((l) => l.attempts), [3]);
  t.is(r.renderer.status().writes, 1, 'a retry reloads; it does not write');
  // The retries are over: the next change's reload is the only further run.
  etcd.etcdctl(['put', r.keys.endpoint('web', 'b'), endpoint('web', 'b', 82)]);
  await r.until('a:81 \nb:82 \n', 'the next render');
  await waitFor(() => r.withMsg('reloaded').length === 1, { what: 'the next render reloaded' });
  t.is(count(r.dir), 5);
  t.is(r.withMsg('reloaded after retry').length, 1);
});

test('a newer render supersedes a pending retry: its own reload takes over', async (t) => {
  // Each run is counted; the reload succeeds once the file holds a "good" tag.
  const reloadCmd = 'f="$(dirname "$BEACON_TARGET")/count"; echo x >> "$f"; grep -q good "$BEACON_TARGET" || { echo "not good"; exit 1; }';
  const runs = (dir: string) => (existsSync(join(dir, 'count')) ? readFileSync(join(dir, 'count'), 'utf8').split('\n').length - 1 : 0);
  const r = setup(t, etcd, '/rr-supersede', TEMPLATE, { target: { reloadCmd }, renderer: { reloadRetry: { baseMs: 100, capMs: 100 } } });
  etcd.etcdctl(['put', r.keys.endpoint('web', 'a'), endpoint('web', 'a', 81, { tags: ['bad'] })]);
  // Retries run with no registry change at all.
  await waitFor(() => r.withMsg('reload retry failed; the new file is in place').length >= 2, { what: 'retries of the failing reload' });
  t.like(r.health(), { healthy: false, lastError: { stage: 'reload', message: 'exit code 1' } });
  etcd.etcdctl(['put', r.keys.endpoint('web', 'a'), endpoint('web', 'a', 81, { tags: ['good'] })]);
  await r.until('a:81 good\n', 'the newer render');
  await waitFor(() => r.health()?.healthy === true, { what: 'healthy once the newer render reloaded' });
  t.is(r.withMsg('reload retry superseded by a newer render').length, 1);
  const after = runs(r.dir);
  // One more render: a retry left behind (due within 100 ms) would have run before it, and be counted.
  etcd.etcdctl(['put', r.keys.endpoint('web', 'a'), endpoint('web', 'a', 81, { tags: ['good', 'x'] })]);
  await waitFor(() => r.withMsg('reloaded').length === 2, { what: 'the next render reloaded' });
  t.is(runs(r.dir), after + 1, 'only the next render reloaded');
  t.is(r.withMsg('reloaded after retry').length, 0);
});

test('retries never overlap a render', async (t) => {
  // The reload marks itself busy for a while; the check refuses any render that runs while it is marked.
  const busy = '"$(dirname "$BEACON_TARGET")/busy"';
  const r = setup(t, etcd, '/rr-overlap', TEMPLATE, {
    target: { reloadCmd: `touch ${busy}; sleep 0.2; rm -f ${busy}; exit 1`, checkCmd: `[ ! -e ${busy} ]` },
    renderer: { reloadRetry: { baseMs: 100, capMs: 200 } },
  });
  for (let port = 81; port <= 86; port++) {
    const retries = r.withMsg('reload retry failed; the new file is in place').length;
    etcd.etcdctl(['put', r.keys.endpoint('web', 'a'), endpoint('web', 'a', port)]);
    // The next change lands while the retries of the last render are going on.
    await waitFor(() => r.withMsg('reload retry failed; the new file is in place').length > retries, { what: `a retry after port ${port}` });
  }
  await r.until('a:86 \n', 'the last render');
  t.true(r.withMsg('reload retry failed; the new file is in place').length >= 6);
  t.is(r.renderer.status().checkFailures, 0, 'no check ran during a reload retry');
  t.is(r.renderer.status().writes, 6);
});

test('shutdown during a retry wait ends promptly and leaves the reload failure in the status', async (t) => {
  // The first retry would come 60-120 s later: stopping must not wait for it.
  const r = setup(t, etcd, '/rr-stop', TEMPLATE, { target: { reloadCmd: 'exit 3' }, renderer: { reloadRetry: { baseMs: 120_000, capMs: 120_000 } } });
  etcd.etcdctl(['put', r.keys.endpoint('web', 'a'), endpoint('web', 'a', 81)]);
  const failed = await waitFor(() => r.withMsg('reload command failed; the new file is in place')[0], { what: 'the failed reload' });
  t.true((failed.retryInMs as number) >= 60_000);
  const started = Date.now();
  await r.stop();
  t.true(Date.now() - started < 10_000, `stopped after ${Date.now() - started} ms`);
  t.like(r.health(), { healthy: false, lastError: { stage: 'reload', message: 'exit code 3' } });
  t.is(r.withMsg('reload retry failed; the new file is in place').length, 0);
});
