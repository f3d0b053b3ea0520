// Config for a subcommand: the file named by --config (if any), then environment, then flags.
import { hostname } from 'node:os';
import type { CommandContext } from './command.js';
import { loadAgentConfig, parseAgentConfig } from '../config/load.js';
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

/** Load the agent config for a command; without --config, defaults plus environment plus flags. */
export async function commandConfig(ctx: CommandContext, path = ctx.values.config): Promise<AgentConfig> {
  const opts = { env: ctx.env, overrides: overridesOf(ctx), hostname: hostname() };
  return typeof path === 'string' ? loadAgentConfig(path, opts) : parseAgentConfig({}, opts);
}
