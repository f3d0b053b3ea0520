// `beacon rbac`: the least-privilege etcd roles and users for a fleet, printed as an etcdctl script or a
// plan (-o json|yaml), or applied with root credentials (--apply). docs/security.md#least-privilege-etcd-rbac.
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ClientConfig } from '../../config/load.js';
import { parseAgentConfig, readConfigFile } from '../../config/load.js';
import { DNS_DEFAULTS, dnsInstance } from '../../config/dns.js';
import { normalizePrefix } from '../../etcd/keys.js';
import { applyRbac, RbacApplyError, type PlannedPassword } from '../../etcd/auth.js';
import { planRbac, type FleetDns, type FleetNode, type RbacPlan } from '../../rbac/plan.js';
import { renderScript } from '../../rbac/render.js';
import { ConfigError } from '../../errors.js';
import { ExitCode, type Command, type CommandContext } from '../command.js';
import { clientConfig } from '../load-config.js';
import { renderData } from '../output.js';
import { reportConfigError, reportRuntimeError } from '../report.js';

const USAGE = [
  'beacon rbac [--agent-config FILE]... [--node NAME[:SVC,SVC]]... [--prefix P]',
  '            [--dns-domain D] [--dns-prefix /skydns] [-o script|json|yaml]',
  '            [--passwords-out FILE | --no-passwords] [--apply [--prune] [--enable-auth]]',
  '            [--etcd URLS] [--user root[:PASS]] [--root-password-file FILE]',
].join('\n');

/** The `rbac` subcommand. */
export const rbacCommand: Command = {
  name: 'rbac',
  summary: 'print or apply least-privilege etcd roles and users for a fleet',
  usage: USAGE,
  options: {
    'agent-config': { type: 'string', multiple: true },
    node: { type: 'string', multiple: true },
    'dns-domain': { type: 'string' },
    'dns-prefix': { type: 'string' },
    'passwords-out': { type: 'string' },
    'no-passwords': { type: 'boolean' },
    apply: { type: 'boolean' },
    prune: { type: 'boolean' },
    'enable-auth': { type: 'boolean' },
    user: { type: 'string' },
    'root-password-file': { type: 'string' },
  },
  maxArgs: 0,
  flags: [
    ['--agent-config FILE', 'an agent config: its node name, services and dns section (repeatable)'],
    ['--node NAME[:SVC,...]', 'a node and the services it registers (repeatable)'],
    ['--dns-domain D', 'the SkyDNS domain of the --node nodes\' records'],
    ['--dns-prefix P', 'the SkyDNS key path (default /skydns)'],
    ['--passwords-out FILE', 'generate a password per user (kept for users already in FILE); "user:password" lines, mode 0600'],
    ['--no-passwords', 'users without passwords (mutual TLS: etcd maps the certificate CN to the user)'],
    ['--apply', 'make etcd match the plan: idempotent, revokes permissions no longer planned'],
    ['--prune', 'with --apply: delete beacon-node-* roles and users of nodes not listed'],
    ['--enable-auth', 'with --apply: create root if missing (--root-password-file or $BEACON_ROOT_PASSWORD) and enable auth'],
    ['--user root[:PASS]', 'credentials for --apply once auth is on (or $ETCDCTL_USER, or the config)'],
    ['--root-password-file FILE', "root's password for --enable-auth"],
  ],
  exits: { failure: 'applying failed', usage: 'bad flags or config', etcdUnavailable: 'etcd did not answer' },
  examples: ['beacon rbac --node a:web --node b:web,api', 'beacon rbac --agent-config a.yaml --passwords-out pw.txt --apply --etcd https://10.0.0.1:2379'],
  run,
};

class UsageError extends Error {}

async function run(ctx: CommandContext): Promise<number> {
  const v = ctx.values;
  try {
    const output = v.output ?? 'script';
    if (output !== 'script' && output !== 'json' && output !== 'yaml') {
      throw new UsageError(`unknown output format ${JSON.stringify(output)} (expected script|json|yaml)`);
    }
    if (v['passwords-out'] !== undefined && v['no-passwords']) throw new UsageError('--passwords-out and --no-passwords exclude each other');
    if (!v.apply && (v.prune || v['root-password-file'] !== undefined)) throw new UsageError('--prune and --root-password-file need --apply');
    if (v.apply && v['passwords-out'] === undefined && !v['no-passwords']) {
      throw new UsageError('--apply needs --passwords-out FILE (users get generated passwords, written there) or --no-passwords');
    }

    let config: ClientConfig;
    let plan: RbacPlan;
    try {
      config = await clientConfig(ctx);
      // The agents' own prefix counts unless --prefix, $BEACON_PREFIX or --config chose one.
      const explicit = typeof v.prefix === 'string' ? v.prefix : ctx.env.BEACON_PREFIX || undefined;
      const { nodes, prefixes } = await fleetNodes(ctx, explicit);
      const prefix = explicit === undefined && v.config === undefined && prefixes.size === 1 ? [...prefixes][0]! : config.prefix;
      for (const p of prefixes) {
        if (p !== prefix) throw new UsageError(`an agent config uses prefix ${p}, not ${prefix}: give --prefix`);
      }
      plan = planRbac({ prefix, nodes });
    } catch (err) {
      if (err instanceof RangeError) throw new UsageError(err.message);
      return reportConfigError(ctx, err);
    }
    if (plan.roles.length === 2) ctx.stderr.write('warning: no nodes given (--agent-config, --node): only the watcher and reader roles\n');

    const passwordsOut = typeof v['passwords-out'] === 'string' ? resolve(v['passwords-out']) : undefined;
    const passwords = passwordsOut ? ensurePasswords(passwordsOut, plan) : undefined;

    if (!v.apply) {
      ctx.stdout.write(
        output === 'script'
          ? renderScript(plan, {
              passwords: v['no-passwords'] ? { kind: 'none' } : { kind: 'file', ...(passwordsOut ? { path: passwordsOut } : {}) },
              enableAuth: v['enable-auth'] === true,
            })
          : renderData(output, plan),
      );
      return ExitCode.ok;
    }

    const etcd = { ...config.etcd, ...credentials(ctx) };
    const rootPassword = v['enable-auth'] ? rootPasswordOf(ctx, etcd) : undefined;
    const result = await applyRbac(etcd, plan, {
      passwords: passwords ?? 'none',
      prune: v.prune === true,
      ...(v['enable-auth'] ? { enableAuth: rootPassword ? { rootPassword } : {} } : {}),
    });
    if (output !== 'script') {
      ctx.stdout.write(renderData(output, result));
    } else {
      for (const c of result.changes) ctx.stdout.write(`${c.action} ${c.name}${c.detail ? ` ${c.detail}` : ''}\n`);
      if (result.changes.length === 0) ctx.stdout.write('nothing to change\n');
    }
    for (const s of result.stale) ctx.stderr.write(`warning: role ${s} is not in the plan (a node no longer listed?): --prune deletes it\n`);
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof UsageError) {
      ctx.stderr.write(`beacon rbac: ${err.message}\n`);
      return ExitCode.usage;
    }
    if (err instanceof ConfigError) return reportConfigError(ctx, err);
    if (err instanceof RbacApplyError) {
      ctx.stderr.write(`error: ${err.message}\n`);
      return ExitCode.failure;
    }
    return reportRuntimeError(ctx, err);
  }
}

// Nodes from agent configs (name, services, dns) and from --node flags; the same node twice is merged.
async function fleetNodes(ctx: CommandContext, prefix: string | undefined): Promise<{ nodes: FleetNode[]; prefixes: Set<string> }> {
  const v = ctx.values;
  const byName = new Map<string, FleetNode>();
  const prefixes = new Set<string>();
  const add = (n: FleetNode) => {
    const had = byName.get(n.name);
    byName.set(n.name, had ? { ...had, ...n, services: [...new Set([...had.services, ...n.services])] } : n);
  };
  for (const path of (v['agent-config'] as string[] | undefined) ?? []) {
    // Other machines' configs: only names matter here, so neither this host's environment nor its files apply.
    const raw = await readConfigFile(path, { exposedSecrets: 'allow' });
    const cfg = parseAgentConfig(raw, { env: {}, overrides: prefix === undefined ? {} : { prefix }, baseDir: dirname(resolve(path)) });
    prefixes.add(cfg.prefix);
    const dns: FleetDns | undefined = cfg.dns ? { prefix: cfg.dns.prefix, domain: cfg.dns.domain, instance: dnsInstance(cfg) } : undefined;
    add({ name: cfg.node.name, services: cfg.services.map((s) => s.name), ...(dns ? { dns } : {}) });
  }
  const flagDns = typeof v['dns-domain'] === 'string' || typeof v['dns-prefix'] === 'string';
  for (const spec of (v.node as string[] | undefined) ?? []) {
    const colon = spec.indexOf(':');
    const name = colon < 0 ? spec : spec.slice(0, colon);
    const services = colon < 0 ? [] : spec.slice(colon + 1).split(',').map((s) => s.trim()).filter(Boolean);
    const dns: FleetDns | undefined = flagDns
      ? {
          prefix: normalizePrefix(typeof v['dns-prefix'] === 'string' ? v['dns-prefix'] : DNS_DEFAULTS.prefix),
          domain: (typeof v['dns-domain'] === 'string' ? v['dns-domain'] : DNS_DEFAULTS.domain).toLowerCase().replace(/\.$/, ''),
          instance: name.toLowerCase(),
        }
      : undefined;
    add({ name, services, ...(dns ? { dns } : {}) });
  }
  return { nodes: [...byName.values()], prefixes };
}

// `--user NAME[:PASS]` wins over the config and $ETCDCTL_USER; without `:PASS`, $ETCDCTL_PASSWORD.
function credentials(ctx: CommandContext): { username?: string; password?: string } {
  const u = ctx.values.user;
  if (typeof u !== 'string') return {};
  const colon = u.indexOf(':');
  const username = colon < 0 ? u : u.slice(0, colon);
  const password = colon < 0 ? ctx.env.ETCDCTL_PASSWORD : u.slice(colon + 1);
  if (!username) throw new UsageError('--user needs a user name');
  if (!password) throw new UsageError(`--user ${username}: no password (use NAME:PASS or set $ETCDCTL_PASSWORD)`);
  return { username, password };
}

// The password a new root user gets: --root-password-file, $BEACON_ROOT_PASSWORD, or root's own credentials.
function rootPasswordOf(ctx: CommandContext, etcd: { username?: string; password?: string }): string | undefined {
  const file = ctx.values['root-password-file'];
  if (typeof file === 'string') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError('--root-password-file', file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const pw = text.split('\n')[0]!.trim();
    if (!pw) throw new ConfigError('--root-password-file', file, 'is empty');
    return pw;
  }
  if (ctx.env.BEACON_ROOT_PASSWORD) return ctx.env.BEACON_ROOT_PASSWORD;
  return etcd.username === 'root' ? etcd.password : undefined;
}

// Passwords: those already in FILE are kept (so a re-run changes nothing), the others generated; FILE is
// rewritten atomically with mode 0600. The generated ones are `fresh`: --apply sets them even on existing users.
function ensurePasswords(path: string, plan: RbacPlan): Map<string, PlannedPassword> {
  const known = new Map<string, string>();
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError('--passwords-out', path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && colon < line.length - 1) known.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const out = new Map<string, PlannedPassword>();
  for (const u of plan.users) {
    const had = known.get(u.name);
    out.set(u.name, had ? { password: had, fresh: false } : { password: randomBytes(24).toString('base64url'), fresh: true });
  }
  // Users of the file not in this plan stay in it: the file may serve several fleets or prefixes.
  const lines = [...known].filter(([name]) => !out.has(name)).map(([n, p]) => `${n}:${p}`);
  lines.push(...[...out].map(([n, p]) => `${n}:${p.password}`));
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${lines.join('\n')}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return out;
}
