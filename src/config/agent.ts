// The agent config's top-level sections, one parser each (src/config/watcher.ts has the watcher's).
import type { AgentConfig } from './types.js';
import { Fields, readEnum } from '../util/fields.js';
import { parseEtcd, parsePrefix } from './etcd.js';
import { parseNode } from './node.js';
import { parseServices } from './services.js';
import { parseProblems } from './problems.js';
import { parseApi } from './api.js';
import { parseMetrics } from './listen.js';
import { parseDns } from './dns.js';
import { parseCapacity } from './capacity.js';
import { envValue, type ParseContext, type SectionParsers } from './sections.js';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** The `log` section: --log-level > $BEACON_LOG_LEVEL > file > info. */
export function parseLog(raw: unknown, ctx: ParseContext): AgentConfig['log'] {
  const f = new Fields('log', raw, ctx.problems);
  const fromFile = f.oneOf('level', LOG_LEVELS);
  f.done();
  const env = envValue(ctx, 'BEACON_LOG_LEVEL');
  const level =
    (ctx.overrides.logLevel !== undefined ? readEnum(ctx.problems, '--log-level', ctx.overrides.logLevel, LOG_LEVELS) : undefined) ??
    (env !== undefined ? readEnum(ctx.problems, '$BEACON_LOG_LEVEL', env, LOG_LEVELS) : undefined) ??
    fromFile ??
    'info';
  return { level };
}

/** The agent config's top-level sections; a new section is one more entry here (and in AgentConfig). */
export const agentSections: SectionParsers<AgentConfig> = {
  etcd: parseEtcd,
  prefix: parsePrefix,
  node: parseNode,
  services: parseServices,
  problems: parseProblems,
  api: parseApi,
  metrics: parseMetrics,
  dns: parseDns,
  capacity: parseCapacity,
  log: parseLog,
};
