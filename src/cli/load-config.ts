// Config for a subcommand: the file named by --config (if any), then environment, then flags.
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { CommandContext } from './command.js';
import { loadAgentConfig, parseClientConfig, readConfigFile, type ClientConfig } from '../config/load.js';
import type { AgentConfig } from '../config/types.js';

/** The overrides every subcommand's common flags carry. */
export function overridesOf(ctx: CommandContext): { etcd?: string; prefix?: string; logLevel?: string } {
  const v = ctx.values;
  return {
    ...(typeof v.etcd === 'string' ? { etcd: v.etcd } : {}),
    ...(typeof v.prefix === 'string' ? { prefix: v.prefix } : {}),
    ...(typeof v['log-level'] === 'string' ? { logLevel: v['log-level'] } : {}),
  };
}

/** Load the full agent config named by --config (or `path`). */
export async function commandConfig(ctx: CommandContext, path = ctx.values.config): Promise<AgentConfig> {
  return loadAgentConfig(String(path), { env: ctx.env, overrides: overridesOf(ctx), hostname: hostname() });
}

/** etcd and prefix only, for read commands: from --config if given (other sections ignored), env, flags. */
export async function clientConfig(ctx: CommandContext): Promise<ClientConfig> {
  const path = ctx.values.config;
  const raw = typeof path === 'string' ? await readConfigFile(path) : undefined;
  return parseClientConfig(raw, {
    env: ctx.env,
    overrides: overridesOf(ctx),
    hostname: hostname(),
    ...(typeof path === 'string' ? { baseDir: dirname(resolve(path)) } : {}),
  });
}
