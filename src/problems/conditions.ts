// The node's conditions as one list: each producer (a log monitor, the pressure monitor) owns some
// condition types; the agent writes the merged list to `<prefix>/v1/nodes/<node>/conditions` when it changes.
import type { Condition } from './types.js';

/** Merges the conditions of several producers and reports the whole list only when it changes. */
export class NodeConditions {
  private readonly byOwner = new Map<string, Condition[]>();
  private last = '';

  /** `onChange` gets every condition, sorted by type, whenever any status, reason, message or time changed. */
  constructor(private readonly onChange: (conditions: Condition[]) => void) {}

  /** Replace one producer's conditions (e.g. from LogMonitor's onConditions). */
  set(owner: string, conditions: readonly Condition[]): void {
    this.byOwner.set(owner, conditions.map((c) => ({ ...c })));
    const all = this.all();
    const key = JSON.stringify(all);
    if (key === this.last) return;
    this.last = key;
    this.onChange(all);
  }

  /** Every condition now, sorted by type. */
  all(): Condition[] {
    return [...this.byOwner.values()].flat().sort((a, b) => a.type.localeCompare(b.type));
  }
}
