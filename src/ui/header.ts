// The banner: the watcher's own state (role, etcd, sync, mass-failure guard), the stream's state, and
// the count of records skipped as invalid. Every state is written as a word, never by colour alone.
import { h, type ComponentChildren } from 'preact';
import htm from 'htm';
import type { StatusSnapshot } from '../watcher/status-types.js';

const html = htm.bind(h);

function Flag(props: { ok: boolean; label: string; yes: string; no: string; id: string }): ComponentChildren {
  return html`<li data-flag=${props.id} class=${props.ok ? 'ok' : 'bad'}>
    <span class="k">${props.label}</span> <span class="v">${props.ok ? props.yes : props.no}</span>
  </li>`;
}

/** The page's stream to the watcher. */
export type Connection = 'connecting' | 'live' | 'reconnecting';

export function Header(props: { snap: StatusSnapshot | undefined; conn: Connection }): ComponentChildren {
  const { snap, conn } = props;
  const w = snap?.watcher;
  return html`<header class="top">
    <div class="title">
      <h1><a href="#/">beacon status</a></h1>
      <p class="conn" data-conn=${conn} role="status" aria-live="polite">
        ${conn === 'live' ? 'live' : conn === 'connecting' ? 'connecting…' : 'reconnecting…'}
      </p>
    </div>
    ${w &&
    html`<ul class="flags" aria-label="watcher state">
      <li data-flag="watcher"><span class="k">watcher</span> <span class="v">${w.id}</span></li>
      <li data-flag="role" class=${w.role === 'leader' ? 'ok' : ''}><span class="k">role</span> <span class="v">${w.role}</span></li>
      <${Flag} id="etcd" ok=${w.etcdAnswering} label="etcd" yes="answering" no="not answering" />
      <${Flag} id="sync" ok=${w.inSync} label="sync" yes="in sync" no="catching up" />
      <${Flag} id="guard" ok=${!w.massFailure} label="mass-failure guard" yes="armed" no="tripped: remedies held" />
      <li data-flag="invalid" class=${snap.invalid.current > 0 ? 'bad' : ''}>
        <span class="k">invalid records skipped</span> <span class="v">${snap.invalid.current} now, ${snap.invalid.total} seen</span>
      </li>
    </ul>`}
  </header>`;
}
