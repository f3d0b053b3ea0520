// KEY=VALUE files: afterburn's /run/metadata/afterburn, Flatcar's /run/metadata/flatcar,
// /etc/environment and os-release(5) all share this shell-like format.
//
// Accepted, as systemd's EnvironmentFile= and os-release(5) readers accept it:
//   - blank lines, and lines whose first non-blank character is `#` or `;` (comments);
//   - an optional `export ` before the key (files written for `source`);
//   - values in double quotes (with \" \\ \$ \` escapes), single quotes (literal) or bare (trimmed).
// Not accepted: values spanning lines, `${VAR}` expansion, comments after a value (systemd keeps
// `a # b` as the value, so we do too). Malformed lines are ignored, never fatal: these files are
// written by other tools and one odd line must not hide the key we came for.
import { readFile } from 'node:fs/promises';

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parse KEY=VALUE text; a key set twice keeps its last value, as `source` would. */
export function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('export ')) line = line.slice('export '.length).trimStart();
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    if (!KEY_RE.test(key)) continue;
    const value = unquote(line.slice(eq + 1).trim());
    if (value === undefined) continue;
    out.set(key, value);
  }
  return out;
}

/** Read and parse a KEY=VALUE file; undefined when it does not exist (a missing file is normal). */
export async function readEnvFile(path: string, signal?: AbortSignal): Promise<Map<string, string> | undefined> {
  let text: string;
  try {
    text = await readFile(path, { encoding: 'utf8', signal });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  return parseEnvFile(text);
}

/** Whether `err` is a "no such file" error (ENOENT, or ENOTDIR when a parent is a file). */
export function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

// The value of one line without its quotes; undefined for an unterminated quote (malformed line).
function unquote(v: string): string | undefined {
  const q = v[0];
  if (q !== '"' && q !== "'") return v;
  if (v.length < 2 || !v.endsWith(q)) return undefined;
  const inner = v.slice(1, -1);
  if (q === "'") return inner;
  return inner.replace(/\\(["\\$`])/g, '$1');
}
