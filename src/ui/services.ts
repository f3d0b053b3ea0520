// Services and their endpoints: health as a word, how long it has been so, and the check's output as
// preformatted text (a text node: markup in it stays visible text).
import { h, type ComponentChildren } from 'preact';
import htm from 'htm';
import type { ServiceStatus } from '../watcher/status-types.js';
import { since } from './format.js';
import { State } from './nodes.js';

const html = htm.bind(h);

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function Services(props: { services: ServiceStatus[]; now: number; node?: string }): ComponentChildren {
  const { now, node } = props;
  const services = node
    ? props.services.map((s) => ({ ...s, endpoints: s.endpoints.filter((e) => e.node === node) })).filter((s) => s.endpoints.length > 0)
    : props.services;
  if (services.length === 0) return html`<p class="muted">No endpoint registered.</p>`;
  return html`${services.map((s) => {
    const counts = new Map<string, number>();
    for (const e of s.endpoints) counts.set(e.health, (counts.get(e.health) ?? 0) + 1);
    return html`<section key=${s.name} class="service" data-service=${s.name} aria-labelledby=${`svc-${s.name}`}>
      <h3 id=${`svc-${s.name}`}>
        ${s.name} <span class="muted small">${[...counts].map(([k, v]) => `${v} ${k}`).join(', ')}</span>
      </h3>
      <div class="table-wrap" role="region" tabindex="0" aria-label=${`Endpoints of ${s.name}`}>
        <table class="cards endpoints">
          <caption class="sr-only">Endpoints of ${s.name}</caption>
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">Endpoint</th>
              <th scope="col">Health</th>
              <th scope="col">Since</th>
              <th scope="col">Tags</th>
              <th scope="col">Check output</th>
            </tr>
          </thead>
          <tbody>
            ${s.endpoints.map(
              (e) => html`<tr key=${e.node} data-endpoint=${`${s.name}/${e.node}`}>
                <th scope="row" data-label="Node"><a href=${`#/node/${encodeURIComponent(e.node)}`}>${e.node}</a></th>
                <td data-label="Endpoint" class="mono">${hostPort(e.address, e.port)}/${e.protocol}</td>
                <td data-label="Health"><${State} state=${e.health} /></td>
                <td data-label="Since">${since(e.since, now)}</td>
                <td data-label="Tags">${e.tags.length > 0 ? e.tags.join(', ') : html`<span class="muted">—</span>`}</td>
                <td data-label="Check output"><pre class="output" data-field="output" tabindex="0">${e.output || '—'}</pre></td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
    </section>`;
  })}`;
}
