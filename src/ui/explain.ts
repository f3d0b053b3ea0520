// The node page's timeline: `GET /v1/explain?node=NAME` (the same data as `beacon explain node NAME`),
// fetched when the page opens and again when the node's state or its events change (not on a timer:
// unlike the snapshot, an explanation is read from etcd).
import { h, type ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { clock } from './format.js';

const html = htm.bind(h);

/** The JSON of /v1/explain (src/explain/explain.ts, docs/cli.md). */
interface Explanation {
  node: string;
  state: string;
  verdict: string;
  timeline: { time: string; what: string; detail: string }[];
  skipped: number;
}

type Loaded = { state: 'loading' } | { state: 'ok'; x: Explanation } | { state: 'error'; message: string };

export function Explain(props: { name: string; revision: string }): ComponentChildren {
  const [got, setGot] = useState<Loaded>({ state: 'loading' });
  useEffect(() => {
    const ac = new AbortController();
    fetch(`/v1/explain?node=${encodeURIComponent(props.name)}`, { signal: ac.signal })
      .then(async (r) => {
        const body = (await r.json()) as Explanation & { error?: string };
        setGot(r.ok ? { state: 'ok', x: body } : { state: 'error', message: body.error ?? `HTTP ${r.status}` });
      })
      .catch((err: unknown) => {
        if (!ac.signal.aborted) setGot({ state: 'error', message: String(err) });
      });
    return () => ac.abort();
  }, [props.name, props.revision]);
  if (got.state === 'loading') return html`<p class="muted">Loading the timeline…</p>`;
  if (got.state === 'error') return html`<p class="muted" data-explain-error>Timeline not available: ${got.message}</p>`;
  const { x } = got;
  return html`<p class="verdict" data-verdict>${x.verdict}</p>
    ${x.skipped > 0 ? html`<p class="muted small">${x.skipped} invalid record${x.skipped === 1 ? '' : 's'} skipped.</p>` : ''}
    <ol class="timeline" data-timeline>
      ${x.timeline.map(
        (e, i) => html`<li key=${i} data-what=${e.what}>
          <time datetime=${e.time}>${clock(e.time)}</time> <strong>${e.what}</strong> <span class="detail">${e.detail}</span>
        </li>`,
      )}
    </ol>`;
}
