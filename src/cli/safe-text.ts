// Text from etcd reaching a terminal. Any record field may hold ESC/OSC sequences (clear the screen, set
// the title, fake a prompt), a CR that overwrites what came before, a newline that forges a table row, or a
// bidi override that shows `gnp.exe` as `exe.png`. Every human printer passes record text through
// safeText(); structured output goes through escapeJson() or the YAML printer in output.ts. The escaped
// form stays readable and is unambiguous: a backslash is doubled, so `\x1b` in the output is an escape only
// when the stored text held ESC itself.

/**
 * Code points that must never reach a terminal raw: C0 controls (ESC, BEL, CR, LF, TAB, ...), DEL, C1
 * controls (U+009B is a one-byte CSI on some terminals), the Arabic letter mark, zero-width and direction
 * marks, line/paragraph separators, bidi embeddings, overrides and isolates, invisible operators, the BOM,
 * and lone surrogates (written as U+FFFD otherwise, hiding what was stored).
 */
export const UNSAFE_CHARS =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSAFE_GLOBAL = new RegExp(UNSAFE_CHARS.source, 'g');
// For terminal text: the unsafe ones and the backslash (doubled, so escaping is injective).
const ESCAPED_GLOBAL = new RegExp(`\\\\|${UNSAFE_CHARS.source}`, 'g');

const SHORT: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** The visible escape of one unsafe code point: `\n`, `\r`, `\t`, `\\`, `\x1b`, `\u202e`. */
function escapeOne(c: string): string {
  const short = SHORT[c];
  if (short) return short;
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Whether `text` holds a code point that must not reach a terminal raw. */
export function hasUnsafe(text: string): boolean {
  return UNSAFE_CHARS.test(text);
}

/**
 * `text` safe for one line of a terminal: every code point of UNSAFE_CHARS (newline and tab included) and
 * the backslash written as a visible escape. With `maxWidth`, cut to at most that many columns, ending in `…`
 * (never inside an escape).
 */
export function safeText(text: string, maxWidth?: number): string {
  const escaped = String(text).replace(ESCAPED_GLOBAL, escapeOne);
  if (maxWidth === undefined || displayWidth(escaped) <= maxWidth) return escaped;
  return cut(escaped, maxWidth);
}

/** Multi-line text (an error report): each line made safe, the line breaks kept. */
export function safeLines(text: string): string {
  return String(text).split('\n').map((l) => safeText(l)).join('\n');
}

/**
 * Serialised JSON with the unsafe code points JSON.stringify leaves raw (DEL, C1, bidi, zero-width, U+2028/9)
 * written as `\u` escapes: still valid JSON, and the same data once parsed. They can only be inside strings.
 * C0 controls are left alone: JSON.stringify escapes them inside strings, so a raw one is layout (newline).
 */
export function escapeJson(json: string): string {
  return json.replace(UNSAFE_GLOBAL, (c) => (c.charCodeAt(0) < 0x20 ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

// Columns a code point takes in a terminal: 0 for combining marks, 2 for wide East Asian and emoji, else 1.
const ZERO_WIDTH = /^[\p{Mn}\p{Me}]$/u;
const WIDE = /^[\p{Emoji_Presentation}\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]$/u;

function charWidth(c: string): number {
  if (c.charCodeAt(0) < 0x300) return 1;
  if (ZERO_WIDTH.test(c)) return 0;
  return WIDE.test(c) ? 2 : 1;
}

/** How many terminal columns `text` (already made safe) takes: what table columns are aligned on. */
export function displayWidth(text: string): number {
  let w = 0;
  // Fast path: ASCII only.
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  for (const c of text) w += charWidth(c);
  return w;
}

/** `text` padded with spaces to `width` columns. */
export function padDisplay(text: string, width: number): string {
  const w = displayWidth(text);
  return w >= width ? text : text + ' '.repeat(width - w);
}

// Cut escaped text to `maxWidth` columns including the ellipsis, never splitting an escape (`\x1b`, `\u202e`).
function cut(escaped: string, maxWidth: number): string {
  const units = escaped.match(/\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|.)|[\s\S]/gu) ?? [];
  let out = '';
  let w = 0;
  for (const u of units) {
    const uw = u.startsWith('\\') ? u.length : charWidth(u);
    if (w + uw > maxWidth - 1) break;
    out += u;
    w += uw;
  }
  return `${out}…`;
}
