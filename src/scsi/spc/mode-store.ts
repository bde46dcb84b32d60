import type { ModeState } from '../lu-view.js';

/**
 * Where an LU's mode parameters live when they must outlive this process and be the same on
 * every node (issue 14, finding 6): an initiator that set WCE = 0 relies on written-through
 * writes after a failover or restart too, and SWP = 1 must stay on. Cluster mode: one etcd key
 * per volume; embedded: a file in the data directory (src/cluster/mode-parameter-store.ts).
 *
 * Contract:
 * - `get()` is synchronous: the parameters last saved (by any node), as read when the store
 *   opened or delivered since; undefined when none were ever saved (the defaults apply).
 * - `save(mode, issuer)` resolves once the parameters are durable where every node reads them;
 *   it rejects when they could not be made so (the caller then reports MODE SELECT failed).
 * - `subscribe(listener)` sees every change saved since the store opened, by this node or
 *   another, in order, with the I_T nexus that made it (`issuer`, ItNexus.id).
 */
export interface ModeParameterStore {
  get(): ModeState | undefined;
  save(mode: ModeState, issuer: string): Promise<void>;
  subscribe(listener: (mode: ModeState, issuer: string) => void): () => void;
  close(): void;
}

/** A stored value as ModeState (fields missing or of the wrong type take the default). */
export function modeStateFrom(value: unknown): ModeState | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const flag = (x: unknown, dflt: boolean) => (typeof x === 'boolean' ? x : dflt);
  return {
    wce: flag(v.wce, true),
    dSense: flag(v.dSense, false),
    swp: flag(v.swp, false),
    tas: flag(v.tas, false),
  };
}

export function sameMode(a: ModeState, b: ModeState): boolean {
  return a.wce === b.wce && a.dSense === b.dSense && a.swp === b.swp && a.tas === b.tas;
}
