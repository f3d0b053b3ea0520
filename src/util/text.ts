// Untrusted text (keys and values read from etcd) on its way into a message, a log line or a terminal.

/** At most `max` characters, with C0/C1 controls, DEL and bidi/zero-width format characters as `\uXXXX`. */
export function escapeText(s: string, max = 300): string {
  const cut = s.length > max ? `${s.slice(0, max)}...` : s;
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
