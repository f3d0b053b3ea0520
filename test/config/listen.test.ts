// The listen settings: the agent's `metrics` section, the watcher's `http` section and `--listen`.
import test from 'ava';
import { parseListen } from '../../src/config/listen.js';
import { parseAgentConfig } from '../../src/config/load.js';
import { parseWatcherConfig } from '../../src/config/watcher.js';

const base = { etcd: { endpoints: ['http://127.0.0.1:2379'] }, node: { name: 'n1' } };
const opts = { env: {}, hostname: 'h' };

test('metrics is off by default and takes HOST:PORT (IPv6 in brackets)', (t) => {
  t.is(parseAgentConfig(base, opts).metrics, null);
  t.deepEqual(parseAgentConfig({ ...base, metrics: { listen: '0.0.0.0:9464' } }, opts).metrics, { listen: { host: '0.0.0.0', port: 9464 } });
  t.deepEqual(parseAgentConfig({ ...base, metrics: { listen: '[::1]:0' } }, opts).metrics, { listen: { host: '::1', port: 0 } });
  t.deepEqual(parseAgentConfig({ ...base, metrics: { listen: 'node-1.example:9464' } }, opts).metrics, { listen: { host: 'node-1.example', port: 9464 } });
});

test('bad metrics settings name the field and the value', (t) => {
  const msg = (metrics: unknown) => t.throws(() => parseAgentConfig({ ...base, metrics }, opts))!.message;
  t.is(msg({ listen: '9464' }), 'metrics.listen: must be HOST:PORT, such as 127.0.0.1:9464, 0.0.0.0:9464 or [::1]:9464 (got "9464")');
  t.regex(msg({ listen: '127.0.0.1:70000' }), /^metrics\.listen: must be HOST:PORT.*\(got "127\.0\.0\.1:70000"\)$/);
  t.regex(msg({ listen: 9464 }), /^metrics\.listen: must be HOST:PORT.*\(got 9464\)$/);
  t.is(msg({}), 'metrics.listen: is required');
  t.regex(msg({ listen: '127.0.0.1:1', lisen: 'x' }), /metrics\.lisen: unknown field/);
});

test('the watcher reads http.listen; the agent accepts the section in a shared file', (t) => {
  t.is(parseWatcherConfig({}, opts).http, null);
  t.deepEqual(parseWatcherConfig({ http: { listen: '127.0.0.1:9465' } }, opts).http, { listen: { host: '127.0.0.1', port: 9465 } });
  t.throws(() => parseWatcherConfig({ http: { listen: 'x' } }, opts), { message: /^http\.listen: must be HOST:PORT/ });
  const agent = parseAgentConfig({ ...base, http: { listen: '127.0.0.1:9465' } }, opts);
  t.false('http' in agent);
  // The agent's metrics section in a shared file is the agent's: the watcher leaves it alone.
  t.is(parseWatcherConfig({ metrics: { listen: '127.0.0.1:9464' } }, opts).http, null);
});

test('--listen is parsed the same way, the error naming the flag', (t) => {
  t.deepEqual(parseListen('--listen', '127.0.0.1:9465'), { host: '127.0.0.1', port: 9465 });
  t.throws(() => parseListen('--listen', ':9465'), { message: /^--listen: must be HOST:PORT.*\(got ":9465"\)$/ });
});
