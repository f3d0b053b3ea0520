// Load the agent config: read the file (YAML 1.2 core schema, or JSON), then parse → defaults → validate → freeze.
// The only I/O here is reading the file; parseAgentConfig itself is pure.
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { AgentConfig } from './types.js';
import type { EtcdConfig } from '../etcd/options.js';
import { ConfigError, ConfigErrors } from '../errors.js';
import { parseEtcd, parsePrefix } from './etcd.js';
import { checkProblemsFiles, parseProblems } from './problems.js';
import { parseApi, readApiToken } from './api.js';
import { dnsNameProblems } from './dns.js';
import { agentSections } from './agent.js';
import { readConfigFile, type ReadOptions } from './read.js';
import { watcherSections, type WatcherSections } from './watcher.js';
import { parseSections, type ParseOptions } from './sections.js';

// The config's entry points are all here, whichever file holds them.
export { agentSections, parseLog } from './agent.js';
export { readConfigFile, type ReadOptions } from './read.js';

/** Validate a raw parsed document into a frozen AgentConfig; throws ConfigError/ConfigErrors. Pure. */
export function parseAgentConfig(raw: unknown, opts: ParseOptions = {}): AgentConfig {
  // The watcher's sections may share the file: checked here too (so `beacon validate` sees them), not returned.
  const { watcher: _watcher, hooks: _hooks, http: _http, ...agent } = parseSections<AgentConfig & WatcherSections>(raw, { ...agentSections, ...watcherSections }, opts);
  // Cross-section: with dns on, the node and service names must also be DNS labels.
  const dnsProblems = dnsNameProblems(agent);
  if (dnsProblems.length === 1) throw dnsProblems[0];
  if (dnsProblems.length > 1) throw new ConfigErrors(dnsProblems);
  return Object.freeze(agent);
}

/** What a client (CLI, watcher) needs to reach beacon's data; other sections of the file are ignored. */
export interface ClientConfig {
  etcd: EtcdConfig;
  prefix: string;
}

/** Read only `etcd` and `prefix` (flags and environment apply as for the agent); raw may be undefined (no file). */
export function parseClientConfig(raw: unknown, opts: ParseOptions = {}): ClientConfig {
  return parseSections<ClientConfig>(raw, { etcd: parseEtcd, prefix: parsePrefix }, opts, { ignoreOthers: true });
}

/** Read and validate an agent config file. Defaults: process.env, os.hostname(), paths relative to the file. */
export async function loadAgentConfig(path: string, opts: ParseOptions & ReadOptions = {}): Promise<AgentConfig> {
  const { exposedSecrets, ...parseOpts } = opts;
  const raw = await readConfigFile(path, exposedSecrets ? { exposedSecrets } : {});
  const fullOpts = { env: process.env, hostname: hostname(), baseDir: dirname(resolve(path)), ...parseOpts };
  const found: ConfigError[] = [];
  let cfg: AgentConfig | undefined;
  let files: Pick<AgentConfig, 'problems' | 'api'> | undefined;
  try {
    cfg = parseAgentConfig(raw, fullOpts);
    files = cfg;
  } catch (err) {
    found.push(...problemList(err));
    // Every problem at once: the files named by sections that did parse are checked even when others did not.
    try {
      files = parseSections<Pick<AgentConfig, 'problems' | 'api'>>(raw, { problems: parseProblems, api: parseApi }, fullOpts, { ignoreOthers: true });
    } catch {
      // those sections' own problems are in `found` already
    }
  }
  if (files) {
    // The kernel rule file the problems section names must load, and the API token file must be usable.
    await checkProblemsFiles(files.problems).catch((err: unknown) => found.push(...problemList(err)));
    if (files.api) await readApiToken(files.api).catch((err: unknown) => found.push(...problemList(err)));
  }
  if (found.length === 1) throw found[0];
  if (found.length > 1) throw new ConfigErrors(found);
  return cfg!;
}

// The ConfigErrors a failure holds, one per problem; anything else is not a config problem and goes on.
function problemList(err: unknown): ConfigError[] {
  if (err instanceof ConfigErrors) return [...err.errors];
  if (err instanceof ConfigError) return [err];
  throw err;
}

/** Every problem in an error, one per line, for people (the CLI's `validate` and start-up failures). */
export function formatConfigError(err: unknown, file?: string): string {
  const head = file ? `invalid config ${file}:` : 'invalid config:';
  if (err instanceof ConfigErrors) return [head, ...err.errors.map((e) => `  ${e.message}`)].join('\n');
  if (err instanceof ConfigError) return `${head}\n  ${err.message}`;
  return `${head}\n  ${err instanceof Error ? err.message : String(err)}`;
}

/** A copy of the config safe to print or log: the etcd password and the API token replaced by `***`. */
export function redactConfig<T extends { etcd: EtcdConfig; api?: { token?: string } | null }>(config: T): T {
  let out = config;
  if (config.etcd.password !== undefined) out = { ...out, etcd: { ...config.etcd, password: '***' } };
  if (config.api?.token !== undefined) out = { ...out, api: { ...config.api, token: '***' } };
  return out;
}
