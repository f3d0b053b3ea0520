// The status page in the browser: one EventSource on /v1/status/stream, each message a whole snapshot
// (src/watcher/status-types.ts), rendered with preact + htm (no JSX, no build-time transform beyond
// esbuild's bundle). Every value from etcd is rendered as a text node, which preact escapes; nothing is ever
// set as HTML. Routes live in the fragment (`#/node/NAME`), so the watcher serves one page.
import { h, render, type ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import type { StatusSnapshot } from '../watcher/status-types.js';
import { NodePage } from './node-page.js';
import { Overview } from './overview.js';
import { Header, type Connection } from './header.js';

const html = htm.bind(h);

/** Whether the stream is delivering. */

function useSnapshot(): { snap: StatusSnapshot | undefined; conn: Connection } {
  const [snap, setSnap] = useState<StatusSnapshot | undefined>(undefined);
  const [conn, setConn] = useState<Connection>('connecting');
  useEffect(() => {
    const es = new EventSource('/v1/status/stream');
    es.addEventListener('status', (ev) => {
      setSnap(JSON.parse((ev as MessageEvent<string>).data) as StatusSnapshot);
      setConn('live');
    });
    // EventSource reconnects by itself (the stream says `retry: 1000`).
    es.onerror = () => setConn('reconnecting');
    return () => es.close();
  }, []);
  return { snap, conn };
}

// Ages and "time since" labels move on their own: re-render once a second (no request involved).
function useClock(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(t);
  }, []);
  return now;
}

function useRoute(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function App(): ComponentChildren {
  const { snap, conn } = useSnapshot();
  const now = useClock();
  const route = useRoute();
  const m = /^#\/node\/([^/]+)$/.exec(route);
  const node = m ? decodeURIComponent(m[1]!) : undefined;
  useEffect(() => {
    document.title = node ? `${node} · beacon status` : 'beacon status';
  }, [node]);
  return html`
    <${Header} snap=${snap} conn=${conn} />
    <main id="main">
      ${!snap
        ? html`<p class="muted">Waiting for the watcher…</p>`
        : node
          ? html`<${NodePage} snap=${snap} name=${node} now=${now} />`
          : html`<${Overview} snap=${snap} now=${now} />`}
    </main>
  `;
}

render(html`<${App} />`, document.getElementById('app')!);
