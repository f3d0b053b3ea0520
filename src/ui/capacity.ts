// The capacity view: per node capacity, reserved and used for CPU and memory, per service reservation
// against use, and the shortage / waste / mismatch flags with their messages. Everything comes computed in
// the snapshot (`capacity`, the same report as `beacon capacity -o json`); this file only lays it out.
// Flags are words (the kind) followed by the reason as text, never colour alone.
import { h, type ComponentChildren } from 'preact';
import htm from 'htm';
import type { CapacityReport, CapacityService } from '../watcher/status-types.js';
import { bytes } from './format.js';

const html = htm.bind(h);

type Flag = CapacityReport['nodes'][number]['flags'][number];

/** Cores for people: at most two decimals ("0.25", "2"), as `beacon capacity` prints them. */
export function cores(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : String(Number(n.toFixed(2)));
}

function pct(part: number | null | undefined, of: number | null | undefined): string {
  return part === null || part === undefined || !of ? '' : ` (${Math.round((part / of) * 100)}%)`;
}

/** One flag: its kind (and resource) as a chip, its reason as text beside it. */
function FlagItem(props: { flag: Flag }): ComponentChildren {
  const f = props.flag;
  return html`<li data-flag-kind=${f.kind}>
    <span class="chip warn">${f.kind}${f.resource ? ` · ${f.resource}` : ''}</span> <span class="reason">${f.message}</span>
  </li>`;
}

function Flags(props: { flags: Flag[]; error?: string | null }): ComponentChildren {
  if (props.flags.length === 0 && !props.error) return html`<span class="muted">—</span>`;
  return html`<ul class="findings">
    ${props.error ? html`<li data-flag-kind="error"><span class="chip bad">error</span> <span class="reason">${props.error}</span></li>` : ''}
    ${props.flags.map((f, i) => html`<${FlagItem} key=${i} flag=${f} />`)}
  </ul>`;
}

/** Nodes: capacity, reserved (share of capacity) and used, per resource, and the node's flags. */
export function CapacityNodes(props: { capacity: CapacityReport; node?: string }): ComponentChildren {
  const nodes = props.node ? props.capacity.nodes.filter((n) => n.name === props.node) : props.capacity.nodes;
  if (nodes.length === 0) return html`<p class="muted">No registered node${props.node ? ' of that name' : ''}.</p>`;
  const label = props.node ? `Capacity of ${props.node}` : 'Capacity per node';
  return html`<div class="table-wrap" role="region" tabindex="0" aria-label=${label}>
    <table class="cards capacity">
      <caption class="sr-only">${label}</caption>
      <thead>
        <tr>
          <th scope="col">Node</th>
          <th scope="col">CPU capacity</th>
          <th scope="col">CPU reserved</th>
          <th scope="col">CPU used</th>
          <th scope="col">Memory capacity</th>
          <th scope="col">Memory reserved</th>
          <th scope="col">Memory used</th>
          <th scope="col">Flags</th>
        </tr>
      </thead>
      <tbody>
        ${nodes.map(
          (n) => html`<tr key=${n.name} data-capacity-node=${n.name}>
            <th scope="row" data-label="Node"><a href=${`#/node/${encodeURIComponent(n.name)}`}>${n.name}</a></th>
            <td data-label="CPU capacity">${cores(n.capacity.cpu)}</td>
            <td data-label="CPU reserved" data-field="cpu-reserved">${cores(n.reserved.cpu)}${pct(n.reserved.cpu, n.capacity.cpu)}</td>
            <td data-label="CPU used" data-field="cpu-used">${cores(n.used?.cpu)}</td>
            <td data-label="Memory capacity">${bytes(n.capacity.memoryBytes)}</td>
            <td data-label="Memory reserved" data-field="memory-reserved">${bytes(n.reserved.memoryBytes)}${pct(n.reserved.memoryBytes, n.capacity.memoryBytes)}</td>
            <td data-label="Memory used" data-field="memory-used">${bytes(n.used?.memoryBytes)}</td>
            <td data-label="Flags" data-field="flags"><${Flags} flags=${n.flags} /></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** Services: reservation against use (share of the reservation), where it is measured, and its flags or error. */
export function CapacityServices(props: { capacity: CapacityReport; node?: string }): ComponentChildren {
  const services: CapacityService[] = props.node ? props.capacity.services.filter((s) => s.node === props.node) : props.capacity.services;
  if (services.length === 0) return html`<p class="muted">No service declares resources, a unit or a cgroup${props.node ? ' on this node' : ''}.</p>`;
  const label = props.node ? `Reservations and use on ${props.node}` : 'Reservations and use per service';
  return html`<div class="table-wrap" role="region" tabindex="0" aria-label=${label}>
    <table class="cards capacity">
      <caption class="sr-only">${label}</caption>
      <thead>
        <tr>
          <th scope="col">Service</th>
          <th scope="col">Node</th>
          <th scope="col">CPU reserved</th>
          <th scope="col">CPU used</th>
          <th scope="col">Memory reserved</th>
          <th scope="col">Memory used</th>
          <th scope="col">Measured from</th>
          <th scope="col">Flags</th>
        </tr>
      </thead>
      <tbody>
        ${services.map(
          (s) => html`<tr key=${`${s.service}/${s.node}`} data-capacity-service=${`${s.service}/${s.node}`}>
            <th scope="row" data-label="Service">${s.service}</th>
            <td data-label="Node"><a href=${`#/node/${encodeURIComponent(s.node)}`}>${s.node}</a></td>
            <td data-label="CPU reserved">${cores(s.reserved.cpu)}</td>
            <td data-label="CPU used" data-field="cpu-used">${cores(s.used?.cpu)}${pct(s.used?.cpu, s.reserved.cpu)}</td>
            <td data-label="Memory reserved">${bytes(s.reserved.memoryBytes)}</td>
            <td data-label="Memory used" data-field="memory-used">${bytes(s.used?.memoryBytes)}${pct(s.used?.memoryBytes, s.reserved.memoryBytes)}</td>
            <td data-label="Measured from" class="mono">${s.source ?? '—'}</td>
            <td data-label="Flags" data-field="flags"><${Flags} flags=${s.flags} error=${s.error} /></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** A one-line count of the findings ("2 waste, 1 mismatch"), or that there are none. */
export function capacitySummary(c: CapacityReport): string {
  const by = new Map<string, number>();
  for (const f of [...c.nodes.flatMap((n) => n.flags), ...c.services.flatMap((s) => s.flags)]) by.set(f.kind, (by.get(f.kind) ?? 0) + 1);
  const errors = c.services.filter((s) => s.error !== null).length;
  if (errors > 0) by.set('unreadable source', errors);
  return by.size === 0 ? 'no shortage, waste or mismatch' : [...by].map(([k, v]) => `${v} ${k}`).join(', ');
}
