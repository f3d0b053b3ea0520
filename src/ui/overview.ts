// The front page: a summary line, then nodes, services, capacity and recent events.
import { h, type ComponentChildren } from 'preact';
import htm from 'htm';
import type { StatusSnapshot } from '../watcher/status-types.js';
import { CapacityNodes, CapacityServices, capacitySummary } from './capacity.js';
import { Events } from './events.js';
import { NodesTable } from './nodes.js';
import { Services } from './services.js';

const html = htm.bind(h);

export function Overview(props: { snap: StatusSnapshot; now: number }): ComponentChildren {
  const { snap, now } = props;
  const by = new Map<string, number>();
  for (const n of snap.nodes) by.set(n.state, (by.get(n.state) ?? 0) + 1);
  const endpoints = snap.services.reduce((a, s) => a + s.endpoints.length, 0);
  const critical = snap.services.reduce((a, s) => a + s.endpoints.filter((e) => e.health === 'critical').length, 0);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const summary =
    `${plural(snap.nodes.length, 'node')} (${[...by].map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}), ` +
    `${plural(snap.services.length, 'service')}, ${plural(endpoints, 'endpoint')}${critical > 0 ? ` (${critical} critical)` : ''}`;
  return html`
    <p class="summary" data-summary>${summary}</p>
    <section aria-labelledby="h-nodes">
      <h2 id="h-nodes">Nodes</h2>
      <${NodesTable} nodes=${snap.nodes} now=${now} />
    </section>
    <section aria-labelledby="h-services">
      <h2 id="h-services">Services</h2>
      <${Services} services=${snap.services} now=${now} />
    </section>
    <section aria-labelledby="h-capacity">
      <h2 id="h-capacity">Capacity <span class="muted small" data-capacity-summary>${capacitySummary(snap.capacity)}</span></h2>
      <h3>Per node</h3>
      <${CapacityNodes} capacity=${snap.capacity} />
      <h3>Per service</h3>
      <${CapacityServices} capacity=${snap.capacity} />
    </section>
    <section aria-labelledby="h-events">
      <h2 id="h-events">Recent events</h2>
      <${Events} events=${snap.events} total=${snap.eventsTotal} />
    </section>
  `;
}
