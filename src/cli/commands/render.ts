// `beacon render`: keep a config file rendered from the registry (confd's job): template → staged file →
// check → atomic replace → reload, on every change, debounced. docs/consumers.md ("Rendering") is the guide.
import { readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseDuration } from '../../util/duration.js';
import { parseEtcd, parsePrefix } from '../../config/etcd.js';
import { parseLog, readConfigFile } from '../../config/load.js';
import { parseSections } from '../../config/sections.js';
import type { AgentConfig } from '../../config/types.js';
import type { EtcdConfig } from '../../etcd/options.js';
import { ConfigError } from '../../errors.js';
import { Keys, nameProblem } from '../../etcd/keys.js';
import { Store } from '../../etcd/store.js';
import { createLogger } from '../../log.js';
// The render modules (and handlebars) load when the command runs: every command shares this
// registry, and `beacon agent` must not carry them (its RSS target is 64 MiB).
import type { StepResult } from '../../render/renderer.js';
import type { RenderTemplate } from '../../render/template.js';
import { ExitCode, type Command, type CommandContext } from '../command.js';
import { overridesOf } from '../load-config.js';
import { reportConfigError, reportRuntimeError } from '../report.js';

interface RenderSettings {
  etcd: EtcdConfig;
  prefix: string;
  log: AgentConfig['log'];
}

// etcd, prefix and log level: --config file, then environment, then flags (as every command).
async function settings(ctx: CommandContext): Promise<RenderSettings> {
  const path = ctx.values.config;
  const raw = typeof path === 'string' ? await readConfigFile(path) : undefined;
  return parseSections<RenderSettings>(
    raw,
    { etcd: parseEtcd, prefix: parsePrefix, log: parseLog },
    { env: ctx.env, overrides: overridesOf(ctx), hostname: hostname(), ...(typeof path === 'string' ? { baseDir: dirname(resolve(path)) } : {}) },
    { ignoreOthers: true },
  );
}

function flag(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

// --service, repeatable: each value becomes a key segment, so it is checked like a configured service name.
function serviceFilter(ctx: CommandContext): string[] | undefined {
  const v = ctx.values.service;
  if (!Array.isArray(v)) return undefined;
  const names = v.filter((s): s is string => typeof s === 'string');
  for (const name of names) {
    const problem = nameProblem(name);
    if (problem) throw new ConfigError('--service', name, problem);
  }
  return names;
}

async function loadTemplate(file: string): Promise<RenderTemplate> {
  const { compileTemplate } = await import('../../render/template.js');
  return compileTemplate(await readFile(file, 'utf8'), file);
}

// --once: what a script should learn from the exit code.
function onceCode(r: StepResult): number {
  switch (r.result) {
    case 'unchanged':
    case 'same-text':
      return ExitCode.ok;
    case 'written':
      return r.reload && !r.reload.ok ? ExitCode.failure : ExitCode.ok;
    default:
      return ExitCode.failure;
  }
}

/** The `render` subcommand. */
export const renderCommand: Command = {
  name: 'render',
  summary: 'render a template from the registry into a file on every change: check, atomic replace, reload',
  usage:
    'beacon render --template FILE --out FILE [--service NAME]... [--check-cmd CMD] [--reload-cmd CMD] [--once] [--debounce DURATION] [--timeout DURATION] [--health-file FILE] [--etcd URLS] [--prefix P] [-c FILE]',
  options: {
    template: { type: 'string', short: 't' },
    out: { type: 'string' },
    service: { type: 'string', multiple: true },
    'check-cmd': { type: 'string' },
    'reload-cmd': { type: 'string' },
    once: { type: 'boolean' },
    debounce: { type: 'string' },
    timeout: { type: 'string' },
    'health-file': { type: 'string' },
  },
  maxArgs: 0,
  flags: [
    ['-t, --template FILE', 'the Handlebars template (context: services, passing, nodes)'],
    ['--out FILE', 'the file kept rendered'],
    ['--service NAME', 'follow and render only this service (repeatable)'],
    ['--check-cmd CMD', 'check the staged file before it replaces --out ({{staged}} is its quoted path; run by sh -c)'],
    ['--reload-cmd CMD', 'run after each install (retried until it succeeds)'],
    ['--once', 'render once and exit'],
    ['--debounce DURATION', 'wait this long after a change before rendering (default 500ms)'],
    ['--timeout DURATION', 'bound on each command (default 30s)'],
    ['--health-file FILE', "the renderer's status as JSON, rewritten on every change"],
  ],
  exits: { failure: '--once: render, check, write or reload failed', usage: 'bad flags or template syntax', etcdUnavailable: '--once: etcd did not answer' },
  examples: ['beacon render -t haproxy.cfg.hbs --out /etc/haproxy/haproxy.cfg --check-cmd "haproxy -c -f {{staged}}" --reload-cmd "systemctl reload haproxy"'],
  async run(ctx) {
    const templateFile = flag(ctx, 'template');
    const out = flag(ctx, 'out');
    if (!templateFile || !out || ctx.positionals.length > 0) {
      ctx.stderr.write(`beacon render: --template and --out are required\nusage: ${renderCommand.usage}\n`);
      return ExitCode.usage;
    }
    const [{ Renderer }, { Target }, { TemplateError }] = await Promise.all([
      import('../../render/renderer.js'),
      import('../../render/target.js'),
      import('../../render/template.js'),
    ]);
    let cfg: RenderSettings;
    let debounceMs: number;
    let timeoutMs: number;
    let template: RenderTemplate;
    let services: string[] | undefined;
    try {
      cfg = await settings(ctx);
      services = serviceFilter(ctx);
      debounceMs = parseDuration(flag(ctx, 'debounce') ?? '500ms', '--debounce');
      timeoutMs = parseDuration(flag(ctx, 'timeout') ?? '30s', '--timeout');
      if (timeoutMs < 1) throw new ConfigError('--timeout', flag(ctx, 'timeout'), 'must be positive');
      const dir = await stat(dirname(resolve(out))).catch(() => undefined);
      if (!dir?.isDirectory()) throw new ConfigError('--out', out, 'its directory must exist (the staged file is written next to it)');
      template = await loadTemplate(templateFile);
    } catch (err) {
      if (err instanceof TemplateError) {
        ctx.stderr.write(`beacon render: template error: ${err.message}\n`);
        return ExitCode.usage;
      }
      return reportConfigError(ctx, err);
    }
    const log = createLogger(cfg.log.level);
    const checkCmd = flag(ctx, 'check-cmd');
    const reloadCmd = flag(ctx, 'reload-cmd');
    const healthFile = flag(ctx, 'health-file');
    const target = new Target({ path: resolve(out), ...(checkCmd ? { checkCmd } : {}), ...(reloadCmd ? { reloadCmd } : {}), commandTimeoutMs: timeoutMs });
    const store = Store.connect(cfg.etcd);
    const renderer = new Renderer(store, new Keys(cfg.prefix), { template, target, debounceMs, ...(services ? { services } : {}), ...(healthFile ? { healthFile: resolve(healthFile) } : {}) }, log);
    try {
      if (ctx.values.once === true) {
        const r = await renderer.once(ctx.signal);
        return onceCode(r);
      }
      ctx.onHangup(() => {
        loadTemplate(templateFile).then(
          (t) => {
            log.info({ template: templateFile }, 'template reloaded');
            renderer.setTemplate(t);
          },
          (err: unknown) => log.error({ err: { message: (err as Error).message }, template: templateFile }, 'template reload failed; keeping the old one'),
        );
      });
      log.info({ template: templateFile, out: target.path, prefix: cfg.prefix, services }, 'render started');
      await renderer.run(ctx.signal);
      return ExitCode.ok;
    } catch (err) {
      return reportRuntimeError(ctx, err);
    } finally {
      store.close();
    }
  },
};
