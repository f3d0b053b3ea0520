// What must never reach a terminal raw: the scanner every hostile-input test runs over a command's output.

/**
 * Raw control bytes, DEL, C1 (as the code points UTF-8 decodes them to), bidi controls and zero-width
 * characters; the newline is the only control allowed (between lines of output).
 */
export const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;

/** Fail `t` when `out` holds a raw control character, naming where and showing its surroundings. */
export function assertNoRawControl(t: { true(v: boolean, msg?: string): void }, what: string, out: string): void {
  const m = RAW_CONTROL.exec(out);
  t.true(m === null, `${what}: raw U+${m?.[0].codePointAt(0)!.toString(16).padStart(4, '0')} at ${m?.index}: ${JSON.stringify(out.slice(Math.max(0, (m?.index ?? 0) - 40), (m?.index ?? 0) + 20))}`);
}
