// Bad checks and bad rule files stop `beacon validate` and `beacon agent` with exit 2, naming the field.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beacon, writeConfig } from '../helpers/process.js';

const base = (services: string, extra = '') =>
  `etcd:\n  endpoints: [http://127.0.0.1:1]\nnode: { name: n1 }\nservices:\n${services}\n${extra}`;
const web = (check: string) => `  - name: web\n    port: 8080\n    checks:\n${check}`;

const cases: [string, string, RegExp][] = [
  ['an unknown check kind', base(web('      - grpc: 127.0.0.1:9090')), /services\[0\]\.checks\[0\]\.grpc: unknown check kind "grpc"/],
  ['a timeout not below the interval', base(web('      - tcp: 127.0.0.1:8080\n        interval: 1s\n        timeout: 1s')), /services\[0\]\.checks\[0\]\.timeout: timeout must be less than interval: timeout=1s interval=1s/],
  ['an interval below 1 s', base(web('      - http: http://127.0.0.1:8080/\n        interval: 500ms')), /services\[0\]\.checks\[0\]\.interval: must be at least 1s/],
  ['a check id used twice', base(`${web('      - ttl: 30s\n        id: job')}\n  - name: api\n    port: 9090\n    checks:\n      - ttl: 30s\n        id: job`), /services\[1\]\.checks\[0\]\.id: duplicate check id/],
  ['a bad problems section', base(web('      - tcp: 127.0.0.1:8080'), 'problems:\n  kernel: { source: file }\n'), /problems\.kernel\.path: is required when source is file/],
];

for (const [what, text, field] of cases) {
  test(`${what}: exit 2 naming the field`, (t) => {
    const path = writeConfig(text);
    for (const args of [['validate', path], ['agent', '--config', path]]) {
      const r = beacon(args);
      t.is(r.code, 2, `${args[0]}: ${r.stderr}`);
      t.regex(r.stderr, field, args[0]);
    }
  });
}

test('an invalid regex in the rule file the config names: exit 2 naming the file and the rule', (t) => {
  const path = writeConfig(base(web('      - tcp: 127.0.0.1:8080'), 'problems:\n  kernel: { rules: rules.json }\n'));
  writeFileSync(
    join(dirname(path), 'rules.json'),
    JSON.stringify({ conditions: [], rules: [{ type: 'temporary', reason: 'Oops', pattern: 'BUG: (' }] }),
  );
  for (const args of [['validate', path], ['agent', '--config', path]]) {
    const r = beacon(args);
    t.is(r.code, 2, `${args[0]}: ${r.stderr}`);
    t.regex(r.stderr, /rules\.json: rules\[0\]\.pattern: invalid regular expression/, args[0]);
  }
  const ok = writeConfig(base(web('      - tcp: 127.0.0.1:8080'), 'problems: {}\n'));
  const r = beacon(['validate', ok]);
  t.is(r.code, 0, `the shipped rule file loads: ${r.stderr}`);
});
