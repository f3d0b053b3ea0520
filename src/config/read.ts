// Read a config file into a raw document (YAML 1.2 core schema, or JSON), bounded in size and depth;
// a file whose secrets other local users could read is refused. Parsing the document is src/config/load.ts's.
import { stat } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { MAX_CONFIG_BYTES, readBoundedFile } from '../util/file.js';
import { MAX_YAML_ALIASES, checkShape, refuseDeepYaml } from '../util/shape.js';
import { ConfigError } from '../errors.js';
import { isMapping } from '../util/fields.js';

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
