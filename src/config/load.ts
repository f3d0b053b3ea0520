// Load the agent config: read the file (YAML 1.2 core schema, or JSON), then parse → defaults → validate → freeze.
// The only I/O here is reading the file; parseAgentConfig itself is pure.
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { MAX_CONFIG_BYTES, readBoundedFile } from './file.js';
import { MAX_YAML_ALIASES, checkShape, refuseDeepYaml } from './shape.js';
import type { AgentConfig, EtcdConfig } from './types.js';
import { ConfigError, ConfigErrors } from '../errors.js';
import { Fields, isMapping, readEnum } from './fields.js';
import { parseEtcd, parsePrefix } from './etcd.js';
import { parseNode } from './node.js';
import { parseServices } from './services.js';
import { checkProblemsFiles, parseProblems } from './problems.js';
import { parseApi, readApiToken } from './api.js';
import { parseMetrics } from './listen.js';
import { parseCapacity } from './capacity.js';
import { dnsNameProblems, parseDns } from './dns.js';
import { watcherSections, type WatcherSections } from './watcher.js';
import { envValue, parseSections, type ParseContext, type ParseOptions, type SectionParsers } from './sections.js';

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

/** How readConfigFile treats secrets other local users could read. */
export interface ReadOptions {
  /** `refuse` (default): a file holding etcd.password or api.token, or the etcd.keyFile it names, must grant nothing to "others". */
  exposedSecrets?: 'refuse' | 'allow';
}

/**
 * Read a config file into a raw document: JSON for `.json`, YAML 1.2 (core schema, a JSON superset) otherwise.
 * A file holding a secret that every local user can read is refused (docs/security.md).
 */
export async function readConfigFile(path: string, opts: ReadOptions = {}): Promise<unknown> {
  const raw = await readRawConfigFile(path);
  if (opts.exposedSecrets !== 'allow') await refuseExposedSecrets(path, raw);
  return raw;
}

// The etcd password in the file, or the private key it names, must not be open to "others" (mode & 0o007).
async function refuseExposedSecrets(path: string, raw: unknown): Promise<void> {
  const etcd = isMapping(raw) && isMapping(raw.etcd) ? raw.etcd : undefined;
  if (etcd?.password !== undefined) await refuseIfOpen(path, 'holds a secret (etcd.password)');
  const api = isMapping(raw) && isMapping(raw.api) ? raw.api : undefined;
  if (api?.token !== undefined) await refuseIfOpen(path, 'holds a secret (api.token)');
  if (typeof etcd?.keyFile === 'string' && etcd.keyFile !== '') {
    await refuseIfOpen(resolve(dirname(path), etcd.keyFile), `is the private key named by etcd.keyFile in ${path}`);
  }
}

async function refuseIfOpen(file: string, what: string): Promise<void> {
  let mode: number;
  try {
    mode = (await stat(file)).mode & 0o777;
  } catch {
    return; // a missing key file fails where it is read, with its own message
  }
  if ((mode & 0o007) === 0) return;
  const shown = `0${mode.toString(8).padStart(3, '0')}`;
  throw new ConfigError(file, undefined, `${what} but is open to other users (mode ${shown}): run chmod o-rwx ${file}`);
}

async function readRawConfigFile(path: string): Promise<unknown> {
  const bytes = await readBoundedFile(path, { field: path, maxBytes: MAX_CONFIG_BYTES, unreadable: 'cannot read the config file' });
  const text = bytes.toString('utf8');
  const value = extname(path).toLowerCase() === '.json' ? parseJson(path, text) : parseYaml(path, text);
  checkShape(path, value);
  return value;
}

function parseYaml(path: string, text: string): unknown {
  // The YAML composer and every reader after it recurse per level: a document nested thousands of levels
  // deep overflows the stack. The CST parser is iterative, so the depth is measured there first.
  refuseDeepYaml(path, text);
  const doc = parseDocument(text, { schema: 'core', uniqueKeys: true, prettyErrors: true });
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const where = pos ? `${path}:${pos.line}:${pos.col}` : path;
    const line = pos ? text.split('\n')[pos.line - 1]?.trim() : undefined;
    const problem =
      err.code === 'MULTIPLE_DOCS' ? 'holds more than one document' : err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(where, line, `not valid YAML: ${problem}`, { cause: err });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    // Alias bombs and the like: the document is well-formed but not usable as data.
    throw new ConfigError(path, undefined, `not usable YAML: ${(err as Error).message}`, { cause: err });
  }
  return value;
}

function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const at = /position (\d+)/.exec(String((err as Error).message));
    const before = at ? text.slice(0, Number(at[1])).split('\n') : undefined;
    const where = before ? `${path}:${before.length}:${before[before.length - 1].length + 1}` : path;
    const line = before ? text.split('\n')[before.length - 1].trim() : undefined;
    const problem = String((err as Error).message).replace(/ at position \d+.*$/, '');
    throw new ConfigError(where, line, `not valid JSON: ${problem}`, { cause: err });
  }
}

/** Read and validate an agent config file. Defaults: process.env, os.hostname(), paths relative to the file. */
export async function loadAgentConfig(path: string, opts: ParseOptions & ReadOptions = {}): Promise<AgentConfig> {
  const { exposedSecrets, ...parseOpts } = opts;
  const raw = await readConfigFile(path, exposedSecrets ? { exposedSecrets } : {});
  const cfg = parseAgentConfig(raw, { env: process.env, hostname: hostname(), baseDir: dirname(resolve(path)), ...parseOpts });
  await checkProblemsFiles(cfg.problems); // the kernel rule file it names must load, too
  if (cfg.api) await readApiToken(cfg.api); // and the API token file must be usable
  return cfg;
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
