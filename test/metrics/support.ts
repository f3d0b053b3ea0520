// Scraping and reading Prometheus' text format in tests: the samples by name and labels.

/** One sample of a scrape. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse the text exposition format (comments skipped; label values unescaped). */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when none. */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${hits.length} samples match ${name} ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}

/** GET `url`; the status, Content-Type and body. */
export async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** Scrape a /metrics URL into samples (throws unless 200). */
export async function scrape(url: string): Promise<Sample[]> {
  const r = await get(url);
  if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${r.body.slice(0, 200)}`);
  return parseExposition(r.body);
}

/** Wait for an agent's `registered` line; on timeout the error shows its last log lines. */
export async function registered(p: { waitLine(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<unknown>; lines: Record<string, unknown>[] }): Promise<void> {
  try {
    await p.waitLine((l) => l.msg === 'registered', 40_000);
  } catch (err) {
    const last = p.lines.slice(-8).map((l) => JSON.stringify({ ...l, err: undefined }).slice(0, 300));
    throw new Error(`agent not registered; last log lines:\n${last.join('\n')}`, { cause: err });
  }
}
