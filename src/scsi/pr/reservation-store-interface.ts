import type { ReservationEffects } from './result.js';
import type { ReservationState } from './state.js';

/** A state and the revision it was read at (etcd: the key's mod revision). */
export interface ReservationSnapshot {
  readonly state: ReservationState;
  readonly revision: number;
}

/** A new state and what applying it does on each node (unit attentions, aborted tasks). */
export interface ReservationChange extends ReservationEffects {
  readonly state: ReservationState;
}

/**
 * Where one LU's reservation state lives (DESIGN.md safety rule 7). Embedded mode: memory, plus
 * a file while APTPL is set (MemoryReservationStore). Cluster mode (src/cluster): one etcd key per
 * volume, changed by a transaction that compares the revision.
 *
 * Contract:
 * - `get()` is synchronous: the gate reads it for every command. It returns the state last
 *   applied on this node.
 * - `compareAndSet(revision, change)` replaces the state if it is still at `revision` and
 *   resolves true only once the change is in force on every live node serving the LU (each has
 *   run its `subscribe` listeners, so no node executes a command the new state forbids) or
 *   those nodes are fenced. It resolves false when another change came first, and by then
 *   `get()` returns that change (a newer revision): the caller re-reads and recomputes. It rejects when the change could not be made durable; then the
 *   state is unchanged.
 * - `subscribe(listener)` sees every applied change, from this node or another, in revision
 *   order; the store awaits the listener before it counts the change as applied here.
 */
export interface ReservationStore {
  /** The state survives a restart of every node when APTPL is set (REPORT CAPABILITIES PTPL_C). */
  readonly persistsThroughPowerLoss: boolean;
  get(): ReservationSnapshot;
  compareAndSet(revision: number, change: ReservationChange): Promise<boolean>;
  subscribe(listener: (change: ReservationChange) => void | Promise<void>): () => void;
}
