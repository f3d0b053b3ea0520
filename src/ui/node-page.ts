// One node (`#/node/NAME`): the `beacon explain` verdict and timeline, then its current records as this
// watcher holds them (live record, conditions, maintenance), its endpoints, its capacity and its events,
// all from the same live snapshot.
import { h, type ComponentChildren } from 'preact';
import htm from 'htm';
import type { StatusSnapshot } from '../watcher/status-types.js';
import { CapacityNodes, CapacityServices } from './capacity.js';
import { Events } from './events.js';
import { Explain } from './explain.js';
import { bytes, clock, since } from './format.js';
import { Labels, Maintenance, State } from './nodes.js';
import { Services } from './services.js';

const html = htm.bind(h);

function Row(props: { k: string; children: ComponentChildren }): ComponentChildren {
  return html`<div class="kv"><dt>${props.k}</dt><dd>${props.children}</dd></div>`;
}

export function NodePage(props: { snap: StatusSnapshot; name: string; now: number }): ComponentChildren {
  const { snap, name, now } = props;
  const n = snap.nodes.find((x) => x.name === name);
  if (!n) {
    return html`<p><a href="#/">← all nodes</a></p>
      <h2>${name}</h2>
      <p class="muted" data-missing>This watcher knows no node of that name (never registered, or its identity was removed).</p>`;
  }
  const f = n.facts;
  const u = n.utilization;
  return html`<p><a href="#/">← all nodes</a></p>
    <h2 data-node-page=${n.name}>${n.name} <${State} state=${n.state} /></h2>
    <section aria-labelledby="h-explain">
      <h3 id="h-explain">What happened</h3>
      <${Explain} name=${n.name} revision=${`${n.state}/${n.registeredAt}/${snap.events.filter((e) => e.node === n.name).map((e) => e.id).join(',')}`} />
    </section>
    <section aria-labelledby="h-node">
      <h3 id="h-node">Registration</h3>
      <dl class="details">
        <${Row} k="Address"><span class="mono">${n.address ?? '—'}</span><//>
        <${Row} k="Registered">${n.registeredAt ? `${clock(n.registeredAt)} (${since(n.registeredAt, now)} ago)` : '—'}<//>
        ${n.leftAt && html`<${Row} k="Left">${clock(n.leftAt)}<//>`}
        <${Row} k="Agent">${n.agentVersion ?? '—'}${n.ttl !== null ? ` · lease TTL ${n.ttl} s` : ''}<//>
        <${Row} k="System">${f ? `${f.os} ${f.osRelease} · kernel ${f.kernel} · ${f.arch}` : '—'}<//>
        <${Row} k="Capacity">${f ? `${f.cpus} CPUs · ${bytes(f.memoryBytes)} memory · ${bytes(f.diskBytes)} disk` : '—'}<//>
        <${Row} k="Utilization"
          >${u ? `load ${u.load1.toFixed(1)} · memory ${u.memoryUsedPercent}% · disk ${u.diskUsedPercent ?? '?'}% (sampled ${since(u.at, now)} ago)` : '—'}<//
        >
        <${Row} k="Maintenance"><${Maintenance} node=${n} /><//>
        <${Row} k="Labels"><${Labels} labels=${n.labels} /><//>
      </dl>
    </section>
    <section aria-labelledby="h-conditions">
      <h3 id="h-conditions">Conditions</h3>
      ${n.conditions.length === 0
        ? html`<p class="muted">No conditions reported${n.state === 'up' || n.state === 'leaving' ? '' : ' (a node that is gone reports none)'}.</p>`
        : html`<div class="table-wrap" role="region" tabindex="0" aria-label=${`Conditions of ${n.name}`}>
            <table class="cards">
              <caption class="sr-only">Conditions of ${n.name}</caption>
              <thead>
                <tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Since</th><th scope="col">Message</th></tr>
              </thead>
              <tbody>
                ${n.conditions.map(
                  (c) => html`<tr key=${c.type}>
                    <th scope="row" data-label="Type">${c.type}</th>
                    <td data-label="Status">${c.status}</td>
                    <td data-label="Reason">${c.reason}</td>
                    <td data-label="Since">${since(c.lastTransitionTime, now)}</td>
                    <td data-label="Message">${c.message}</td>
                  </tr>`,
                )}
              </tbody>
            </table>
          </div>`}
    </section>
    <section aria-labelledby="h-node-services">
      <h3 id="h-node-services">Endpoints</h3>
      <${Services} services=${snap.services} now=${now} node=${n.name} />
    </section>
    <section aria-labelledby="h-node-capacity">
      <h3 id="h-node-capacity">Capacity</h3>
      ${n.state === 'up'
        ? html`<${CapacityNodes} capacity=${snap.capacity} node=${n.name} />
            <${CapacityServices} capacity=${snap.capacity} node=${n.name} />`
        : html`<p class="muted">Only a registered node offers capacity.</p>`}
    </section>
    <section aria-labelledby="h-node-events">
      <h3 id="h-node-events">Recent events</h3>
      <${Events} events=${snap.events} total=${snap.eventsTotal} node=${n.name} />
    </section>`;
}
