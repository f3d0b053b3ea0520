// Recent events, newest first: the watcher's (NodeFailed, NodeJoined...) and the agents' node-problem
// events together, each tagged with where it came from.
import { h, type ComponentChildren } from 'preact';
import htm from 'htm';
import type { EventStatus } from '../watcher/status-types.js';
import { clock } from './format.js';

const html = htm.bind(h);

export function Events(props: { events: EventStatus[]; total: number; node?: string }): ComponentChildren {
  const events = props.node ? props.events.filter((e) => e.node === props.node) : props.events;
  if (events.length === 0) return html`<p class="muted">No recent event${props.node ? ' for this node' : ''}.</p>`;
  return html`<ol class="events">
      ${events.map(
        (e) => html`<li key=${`${e.origin}/${e.id}`} class=${`event sev-${e.severity}`} data-event=${e.type}>
          <time datetime=${e.time}>${clock(e.time)}</time>
          <span class="origin">${e.origin === 'watcher' ? 'watcher' : 'node problem'}</span>
          <strong class="type">${e.type}</strong>
          ${e.node === '*' ? html`<span>all nodes</span>` : html`<a href=${`#/node/${encodeURIComponent(e.node)}`}>${e.node}</a>`}
          <span class="reason">${e.reason}</span>
          <span class="message">${e.message}</span>
        </li>`,
      )}
    </ol>
    ${!props.node && props.total > props.events.length
      ? html`<p class="muted small">Showing the newest ${props.events.length} of ${props.total} retained events (all: <code>beacon events</code>).</p>`
      : ''}`;
}
