// Config for a subcommand: the file named by --config (if any), then environment, then flags.
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { CommandContext } from './command.js';
import { loadAgentConfig, parseClientConfig, readConfigFile, type ClientConfig } from '../config/load.js';
import type { AgentConfig } from '../config/types.js';
import type { Overrides } from '../config/sections.js';
import { ETCD_MAX_TXN_OPS, registrationProblems, reloadOps } from '../agent/limits.js';
import { tlsCredentials, usesTls } from '../etcd/tls.js';
import { ConfigError, ConfigErrors } from '../errors.js';

/** The overrides every subcommand's common flags carry. */
export function overridesOf(ctx: CommandContext): Overrides {
  const v = ctx.values;
  const flag = (name: string) => (typeof v[name] === 'string' ? { [name]: v[name] as string } : {});
  return {
    ...flag('cacert'),
    ...flag('cert'),
    ...flag('key'),
    ...flag('user'),
    ...(typeof v.etcd === 'string' ? { etcd: v.etcd } : typeof v.endpoints === 'string' ? { etcd: v.endpoints } : {}),
    ...(typeof v.prefix === 'string' ? { prefix: v.prefix } : {}),
    ...(typeof v['log-level'] === 'string' ? { logLevel: v['log-level'] } : {}),
  };
}

/**
 * Load the full agent config named by --config (or `path`) and check it as the running agent will use it:
 * its TLS files with the etcd client's own reader, the size of the records it makes and of the
 * registration transaction. `beacon validate`, the agent's start and its reloads all come through here,
 * so what validate accepts is what the agent runs.
 */
export async function commandConfig(ctx: CommandContext, path = ctx.values.config): Promise<AgentConfig> {
  const cfg = await loadAgentConfig(String(path), { env: ctx.env, overrides: overridesOf(ctx), hostname: hostname() });
  if (usesTls(cfg.etcd)) tlsCredentials(cfg.etcd);
  const problems = registrationProblems(cfg);
  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) throw new ConfigErrors(problems);
  return cfg;
}

/**
 * The config for a reload of an agent running `running`: as commandConfig, and the change itself must fit
 * one transaction (new records plus deletes of the services dropped). A refused reload keeps `running`.
 */
export async function reloadConfig(ctx: CommandContext, running: AgentConfig): Promise<AgentConfig> {
  const next = await commandConfig(ctx);
  // The agent keeps its running problems section on a reload (src/agent/agent.ts reload()).
  const ops = reloadOps(running, { ...next, problems: running.problems });
  if (ops > ETCD_MAX_TXN_OPS) {
    throw new ConfigError(
      'services',
      `${running.services.length} → ${next.services.length} services`,
      `this reload needs ${ops} operations in one transaction, more than etcd's limit of ${ETCD_MAX_TXN_OPS} (--max-txn-ops): ` +
        'change fewer services at a time, or restart the agent',
    );
  }
  return next;
}

/** etcd and prefix only, for read commands: from --config if given (other sections ignored), env, flags. */
export async function clientConfig(ctx: CommandContext, path = ctx.values.config): Promise<ClientConfig> {
  const raw = typeof path === 'string' ? await readConfigFile(path) : undefined;
  return parseClientConfig(raw, {
    env: ctx.env,
    overrides: overridesOf(ctx),
    hostname: hostname(),
    ...(typeof path === 'string' ? { baseDir: dirname(resolve(path)) } : {}),
  });
}
