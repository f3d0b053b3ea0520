// The nodes table: status, address, age, capacity and utilization, conditions, maintenance, labels.
// On a narrow screen each row becomes a card (app.css), the header cell's words repeated by `data-label`.
import { h, type ComponentChildren } from 'preact';
import htm from 'htm';
import type { NodeStatus } from '../watcher/status-types.js';
import { bytes, since } from './format.js';

const html = htm.bind(h);

/** A status word with its class (colour backs the word, never replaces it). */
export function State(props: { state: string }): ComponentChildren {
  return html`<span class=${`state state-${props.state}`} data-state=${props.state}>${props.state}</span>`;
}

/** Labels as `key=value` chips. */
export function Labels(props: { labels: Record<string, string> }): ComponentChildren {
  const entries = Object.entries(props.labels);
  if (entries.length === 0) return html`<span class="muted">—</span>`;
  return html`<ul class="chips">
    ${entries.map(([k, v]) => html`<li key=${k} class="chip">${k}=${v}</li>`)}
  </ul>`;
}

/** A utilization value with a meter (accessible name from the label). */
function Use(props: { label: string; percent: number | null | undefined; text: string }): ComponentChildren {
  if (props.percent === null || props.percent === undefined) return html`<span class="muted">${props.text}</span>`;
  return html`<span class="use">
    <meter min="0" max="100" low="70" high="90" optimum="0" value=${props.percent} aria-label=${props.label}></meter>
    <span>${props.text}</span>
  </span>`;
}

/** Conditions whose status is not the healthy one (`False` for a problem condition), or "none". */
export function Conditions(props: { node: NodeStatus }): ComponentChildren {
  const bad = props.node.conditions.filter((c) => c.status !== 'False');
  if (props.node.conditions.length === 0) return html`<span class="muted">—</span>`;
  if (bad.length === 0) return html`<span class="muted">${props.node.conditions.length} ok</span>`;
  return html`<ul class="chips">
    ${bad.map((c) => html`<li key=${c.type} class="chip warn" title=${c.message}>${c.type}: ${c.reason}</li>`)}
  </ul>`;
}

export function Maintenance(props: { node: NodeStatus }): ComponentChildren {
  const m = props.node.maintenance;
  if (!m) return html`<span class="muted">—</span>`;
  const svc = Object.keys(m.services);
  return html`<span class="chip warn">${m.reason !== null ? `node: ${m.reason}` : ''}${m.reason !== null && svc.length > 0 ? '; ' : ''}${svc.length > 0 ? `services: ${svc.join(', ')}` : ''}</span>`;
}

export function NodesTable(props: { nodes: NodeStatus[]; now: number }): ComponentChildren {
  const { nodes, now } = props;
  if (nodes.length === 0) return html`<p class="muted">No node registered under this prefix.</p>`;
  return html`<div class="table-wrap" role="region" tabindex="0" aria-label="Nodes">
    <table class="cards nodes">
      <caption class="sr-only">Nodes</caption>
      <thead>
        <tr>
          <th scope="col">Node</th>
          <th scope="col">Status</th>
          <th scope="col">Address</th>
          <th scope="col">Age</th>
          <th scope="col">CPUs / load</th>
          <th scope="col">Memory</th>
          <th scope="col">Disk</th>
          <th scope="col">Conditions</th>
          <th scope="col">Maintenance</th>
          <th scope="col">Labels</th>
        </tr>
      </thead>
      <tbody>
        ${nodes.map((n) => {
          const f = n.facts;
          const u = n.utilization;
          return html`<tr key=${n.name} data-node=${n.name}>
            <th scope="row" data-label="Node"><a href=${`#/node/${encodeURIComponent(n.name)}`}>${n.name}</a></th>
            <td data-label="Status"><${State} state=${n.state} /></td>
            <td data-label="Address" class="mono">${n.address ?? '—'}</td>
            <td data-label="Age" data-field="age">${since(n.registeredAt, now)}</td>
            <td data-label="CPUs / load">
              ${f ? `${f.cpus} CPU${f.cpus === 1 ? '' : 's'}` : '—'}${u ? ` · load ${u.load1.toFixed(1)}` : ''}
            </td>
            <td data-label="Memory">
              <${Use} label=${`memory used on ${n.name}`} percent=${u?.memoryUsedPercent} text=${`${u ? `${u.memoryUsedPercent}% of ` : ''}${bytes(f?.memoryBytes)}`} />
            </td>
            <td data-label="Disk">
              <${Use} label=${`disk used on ${n.name}`} percent=${u?.diskUsedPercent} text=${`${u && u.diskUsedPercent !== null ? `${u.diskUsedPercent}% of ` : ''}${bytes(f?.diskBytes)}`} />
            </td>
            <td data-label="Conditions"><${Conditions} node=${n} /></td>
            <td data-label="Maintenance"><${Maintenance} node=${n} /></td>
            <td data-label="Labels"><${Labels} labels=${n.labels} /></td>
          </tr>`;
        })}
      </tbody>
    </table>
  </div>`;
}
