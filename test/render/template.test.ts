// The template engine and context of `beacon render`: strict mode, no escaping, empty services as empty
// lists, the helpers, and the templates docs/consumers.md shows (the nginx one is the shipped example file).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Keys } from '../../src/etcd/keys.js';
import type { KeyValue } from '../../src/etcd/store.js';
import { TemplateError, buildContext, compileTemplate } from '../../src/render/template.js';
import { codeBlocks, readDoc } from '../docs/markdown.js';
import { REPO_ROOT } from '../helpers/process.js';
import { LEASE, liveRecord } from '../helpers/records.js';

const keys = new Keys();

function kv(key: string, value: object): KeyValue {
  return { key, value: Buffer.from(JSON.stringify(value)), createRevision: '1', modRevision: '1', version: '1', lease: '' };
}

function endpoint(service: string, node: string, port: number, extra: Record<string, unknown> = {}): KeyValue {
  return kv(keys.endpoint(service, node), { schema: 1, id: `${node}/${service}`, service, node, address: '10.0.0.1', port, protocol: 'tcp', tags: [], meta: {}, health: 'passing', output: '', since: '2024-05-01T10:00:00.000Z', lease: LEASE, ...extra });
}

function live(name: string, address: string): KeyValue {
  return kv(keys.live(name), liveRecord({ name, address }));
}

const registry = [
  endpoint('web', 'n2', 82, { health: 'critical' }),
  endpoint('web', 'n1', 81, { tags: ['a', 'b'], meta: { weight: '5' } }),
  endpoint('api', 'n1', 90),
  live('n1', '10.0.0.1'),
  live('n2', '10.0.0.2'),
];

test('the context: services, passing, nodes, sorted; an unregistered service is an empty list', (t) => {
  const render = compileTemplate(
    '{{#each services.web}}{{node}}:{{health}} {{/each}}|{{#each passing.web}}{{node}} {{/each}}|{{#each services.db}}x{{else}}none{{/each}}|{{#each services}}{{@key}}={{this.length}} {{/each}}|{{#each nodes}}{{name}}@{{address}}/{{status}} {{/each}}',
    't',
  );
  t.is(render(buildContext(keys, registry)), 'n1:passing n2:critical |n1 |none|api=1 web=2 |n1@10.0.0.1/up n2@10.0.0.2/up ');
});

test('strict mode: a missing field fails the render; lookup reads optional keys; nothing is HTML-escaped', (t) => {
  const ctx = buildContext(keys, registry);
  t.throws(() => compileTemplate('{{#each passing.web}}{{adress}}{{/each}}', 't')(ctx), { message: /^t: "adress" not defined/ });
  t.is(compileTemplate('{{#each services.web}}[{{lookup meta "weight"}}]{{/each}}', 't')(ctx), '[5][]');
  t.is(compileTemplate('{{#each passing.web}}<{{join tags "&"}}>{{/each}}', 't')(ctx), '<a&b>');
});

test('helpers: join, env with and without a default, eq', (t) => {
  const ctx = buildContext(keys, registry);
  const env = { LISTEN: '0.0.0.0:80' };
  t.is(compileTemplate('{{#each passing.web}}{{join tags}}{{/each}}', 't')(ctx), 'a,b');
  t.is(compileTemplate('{{env "LISTEN"}} {{env "MISSING" "dflt"}}', 't', { env })(ctx), '0.0.0.0:80 dflt');
  t.throws(() => compileTemplate('{{env "MISSING"}}', 't', { env })(ctx), { message: /MISSING is not set/ });
  t.is(compileTemplate('{{#each services.web}}{{#if (eq health "critical")}}{{node}}{{/if}}{{/each}}', 't')(ctx), 'n2');
});

test('a template that does not parse throws TemplateError at compile time, naming the file', (t) => {
  const err = t.throws(() => compileTemplate('{{#each passing.web}}\n', 'bad.hbs'), { instanceOf: TemplateError });
  t.regex(err?.message ?? '', /^bad\.hbs: /);
});

test('docs/consumers.md: the nginx template is the shipped example file, and every template there renders', (t) => {
  const blocks = codeBlocks(readDoc('docs/consumers.md'), 'handlebars');
  const example = readFileSync(join(REPO_ROOT, 'examples/render/nginx.conf.hbs'), 'utf8');
  t.true(blocks.some((b) => b.body.trimEnd() === example.trimEnd()), 'the nginx block equals examples/render/nginx.conf.hbs');
  t.true(blocks.length >= 2);
  const ctx = buildContext(keys, registry);
  for (const b of blocks) t.notThrows(() => compileTemplate(b.body, `docs/consumers.md:${b.line}`, { env: {} })(ctx), `template at line ${b.line}`);
  const nginx = compileTemplate(example, 'nginx.conf.hbs', { env: {} })(ctx);
  t.regex(nginx, /upstream web \{\n {4}server 10\.0\.0\.1:81; # node n1\n {2}\}/, 'only the passing endpoint');
  t.regex(nginx, /listen 127\.0\.0\.1:8080;/);
  const hosts = blocks.find((b) => b.body.includes('{{#each nodes}}'));
  t.is(compileTemplate(hosts!.body, 'hosts')(ctx), '10.0.0.1 n1\n10.0.0.2 n2\n# api: 10.0.0.1:90');
});

// The template's own defence, whatever reaches the context: the checking helpers fail the render (the old
// file stays) rather than write a value that would change the config's structure.
const INJECTION = '127.0.0.1:1;\n }\n server {\n listen 127.0.0.1:8081;\n location / { root /etc; autoindex on; }\n }\n upstream injected {\n server 127.0.0.1';

test('hostport: IPv4 and bracketed IPv6 with a port; anything else fails the render, quoted and escaped', (t) => {
  const render = compileTemplate('{{#each passing.web}}server {{hostport address port}};{{/each}}', 't');
  const ctx = (address: unknown, port: unknown) => ({ services: {}, nodes: [], passing: { web: [{ address, port } as never] } });
  t.is(render(ctx('10.0.0.1', 80)), 'server 10.0.0.1:80;');
  t.is(render(ctx('fd00::1', 8080)), 'server [fd00::1]:8080;');
  const err = t.throws(() => render(ctx(INJECTION, 80)), { message: /hostport: not an IP address/ });
  t.false(/\n/.test(err?.message ?? ''), 'the error quotes the value on one line');
  for (const bad of ['10.0.0.1:80', '[::1]', 'example.com', '10.0.0.256', '', ' 10.0.0.1', 'fe80::1%eth0', 7]) t.throws(() => render(ctx(bad, 80)), undefined, String(bad));
  for (const port of [0, 65536, 80.5, '80', NaN]) t.throws(() => render(ctx('10.0.0.1', port)), { message: /hostport: not a port/ }, String(port));
});

test('ip and token: plain values pass, free text that could change a config fails the render', (t) => {
  const ip = compileTemplate('{{ip address}}', 't');
  t.is(ip({ address: '10.0.0.1' } as never), '10.0.0.1');
  t.throws(() => ip({ address: INJECTION } as never), { message: /ip: not an IP address/ });
  const token = compileTemplate('weight={{token (lookup meta "weight")}}', 't');
  t.is(token({ meta: { weight: '5' } } as never), 'weight=5');
  t.is(token({ meta: { weight: 'v1.4.2+build/x:y@z=1,2' } } as never), 'weight=v1.4.2+build/x:y@z=1,2');
  for (const bad of ['5;', '5 backup', '5\n', '"x"', "'x'", '${x}', '$x', '#x', '{', '}', '', 'a\\b', '\x1b[2J', 'x'.repeat(254)]) {
    t.throws(() => token({ meta: { weight: bad } } as never), { message: /token: not a plain token/ }, JSON.stringify(bad));
  }
  t.throws(() => token({ meta: {} } as never), { message: /token: not a plain token/ }, 'a missing key is not an empty token');
});
