import type { SenseReason } from './sense-reason.js';

/**
 * Unit attention conditions queued per I_T nexus (SAM-5 5.14). With UA_INTLCK_CTRL = 0 a
 * condition is cleared when it is reported.
 */
export class UnitAttentions {
  readonly #queues = new Map<string, SenseReason[]>();
  static readonly MAX_PER_NEXUS = 16;

  /** Queues `r` for one nexus; duplicates of a pending condition are not queued twice. */
  establish(nexusId: string, r: SenseReason): void {
    let q = this.#queues.get(nexusId);
    if (!q) {
      q = [];
      this.#queues.set(nexusId, q);
    }
    if (q.some((x) => x.name === r.name)) return;
    // SAM-5 5.14: when the queue overflows, the oldest conditions are lost and the
    // device server reports that parameters changed instead; keeping the newest is safest.
    if (q.length >= UnitAttentions.MAX_PER_NEXUS) q.shift();
    q.push(r);
  }

  establishAll(nexusIds: Iterable<string>, r: SenseReason, except?: string): void {
    for (const id of nexusIds) if (id !== except) this.establish(id, r);
  }

  peek(nexusId: string): SenseReason | undefined {
    return this.#queues.get(nexusId)?.[0];
  }

  /** Takes the oldest pending condition off the queue. */
  take(nexusId: string): SenseReason | undefined {
    const q = this.#queues.get(nexusId);
    const r = q?.shift();
    if (q && q.length === 0) this.#queues.delete(nexusId);
    return r;
  }

  clear(nexusId: string): void {
    this.#queues.delete(nexusId);
  }
}
