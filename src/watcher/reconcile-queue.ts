// The nodes the leader has still to compare with their status records, each with how it came to be
// marked: a watch event (with the live record a DELETE removed), or a listing, a takeover, the lease
// audit or a timer. A node waits at most once, so it is never in two reconciles at the same time.
import type { DeletedLive } from './model.js';
import type { DetectedBy } from './records.js';

/** A node waiting to be reconciled, with what the watch said about it. */
export interface Dirty {
  by: DetectedBy;
  deleted?: DeletedLive;
}

/** Nodes waiting to be reconciled, oldest first. */
export class ReconcileQueue {
  private readonly nodes = new Map<string, Dirty>();

  /** How many nodes wait. */
  get size(): number {
    return this.nodes.size;
  }

  /** Mark `node` for comparison (by default as found by a listing) unless it waits already. */
  mark(node: string, d: Dirty = { by: 'resync' }): void {
    if (!this.nodes.has(node)) this.nodes.set(node, d);
  }

  /** A watch event touched `node`: compare it as seen in the watch, keeping a DELETE's record seen before. */
  watched(node: string, deleted?: DeletedLive): void {
    const d = deleted ?? this.nodes.get(node)?.deleted;
    this.nodes.set(node, { by: 'watch', ...(d ? { deleted: d } : {}) });
  }

  /** Remove and return up to `n` waiting nodes, oldest first. */
  take(n: number): [string, Dirty][] {
    const out: [string, Dirty][] = [];
    for (const e of this.nodes) {
      if (out.length >= n) break;
      out.push(e);
    }
    for (const [node] of out) this.nodes.delete(node);
    return out;
  }

  /** Forget every waiting node (a later term lists everything again). */
  clear(): void {
    this.nodes.clear();
  }
}
