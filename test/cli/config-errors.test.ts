// Bad configs stop `beacon agent` and `beacon validate` with exit 2 and a message naming field and value.
import test from 'ava';
import { beacon, writeConfig } from '../helpers/process.js';

const base = (node: string, services: string) =>
  `etcd:\n  endpoints: [http://127.0.0.1:1]\nnode:\n${node}\nservices:\n${services}\n`;
const web = '  - name: web\n    port: 8080';

const cases: [string, string, RegExp][] = [
  ['port out of range', base('  name: n1', '  - name: web\n    port: 70000'), /services\[0\]\.port.*70000/],
  ['TTL below 2 s', base('  name: n1\n  ttl: 1s', web), /node\.ttl.*1s/],
  ['duplicate service names', base('  name: n1', `${web}\n${web}`), /services\[1\]\.name.*"web"/],
  ['keepalive that cannot fit the TTL', base('  name: n1\n  ttl: 3s\n  keepaliveInterval: 2s', web), /node\.keepaliveInterval.*ttl=3s/],
  ['unknown field', base('  name: n1\n  ttll: 10s', web), /node\.ttll/],
  ['wrong type', base('  name: n1', '  - name: web\n    port: eighty'), /services\[0\]\.port.*"eighty"/],
  ['bad node name', base('  name: ../etc', web), /node\.name.*"\.\.\/etc"/],
];

for (const [what, text, field] of cases) {
  test(`${what}: exit 2 naming the field`, (t) => {
    const path = writeConfig(text);
    for (const args of [['agent', '--config', path], ['validate', path]]) {
      const r = beacon(args);
      t.is(r.code, 2, `${args[0]}: ${r.stderr}`);
      t.regex(r.stderr, field, args[0]);
      t.is(r.stdout.trim(), '', 'nothing started, nothing logged');
    }
  });
}

test('a valid config validates with exit 0', (t) => {
  const r = beacon(['validate', writeConfig(base('  name: n1', web))]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /ok/);
});
