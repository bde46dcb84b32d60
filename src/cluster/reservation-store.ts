import { randomUUID } from 'node:crypto';
import type {
  ReservationChange,
  ReservationSnapshot,
  ReservationStore,
} from '../scsi/pr/reservation-store-interface.js';
import type { ReservationEffects, UnitAttentionEffect } from '../scsi/pr/result.js';
import { EMPTY_STATE, type NexusIdentity, type NexusMatch, parseReservationState } from '../scsi/pr/state.js';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { withRetry } from '../util/retry.js';
import type { CasResult, Coordinator, JsonValue } from './coordinator.js';
import { abortError, isRetryable, RETRY_POLICY } from './etcd-retry.js';

/**
 * One volume's persistent and SPC-2 reservations in etcd (DESIGN.md safety rule 7), as the
 * ReservationStore src/scsi/pr owns. The etcd value carries the state AND the change's effects
 * (unit attentions, aborted nexuses), so every node applies the effects to the nexuses logged in
 * there: `{ state, effects: { unitAttentions, abort, issuer? }, node }`.
 *
 * - `get()` is the state last applied here (from the watch the composition root feeds through
 *   `deliver()`, or from this node's own compare-and-set).
 * - `compareAndSet` is one etcd transaction on the key's mod revision; true only once this node
 *   has applied it AND every other live node serving the volume has acknowledged it (or left:
 *   a node whose session lease expired has fenced itself).
 */
export interface ClusterReservationStoreOptions {
  readonly coordinator: Coordinator;
  readonly volume: string;
  /** Live nodes serving the volume (this one included) at the time of the call. */
  readonly servingNodes: () => readonly string[];
  readonly logger: Logger;
  /** How long a change may wait for the other nodes before PERSISTENT RESERVE OUT fails. Default 30 s. */
  readonly applyTimeoutMs?: number;
}

interface StoredValue {
  readonly state: JsonValue;
  readonly effects: {
    readonly unitAttentions: readonly UnitAttentionEffect[];
    readonly abort: readonly NexusMatch[];
    readonly issuer?: NexusIdentity;
  };
  readonly node: string;
  /**
   * The ids of the last changes, this one last: a node whose answer from etcd was lost finds out
   * whether its own change is committed (issue 14, finding 9).
   */
  readonly recent?: readonly string[];
}

/** How many change ids a value carries (a change overwritten by this many others is old news). */
const RECENT_IDS = 16;

/** How long to wait for the watch to bring this node's own change back before applying it directly. */
const OWN_CHANGE_GRACE_MS = 2000;

export class ClusterReservationStore implements ReservationStore {
  readonly persistsThroughPowerLoss = true;
  readonly #opts: ClusterReservationStoreOptions;
  readonly #log: Logger;
  #snapshot: ReservationSnapshot;
  readonly #listeners = new Set<(change: ReservationChange) => void | Promise<void>>();
  #queue: Promise<void> = Promise.resolve();
  readonly #waiters = new Set<{ revision: number; resolve: () => void }>();
  #closed = false;
  /** Aborted by close(): ends a compare-and-set's wait between attempts. */
  readonly #abort = new AbortController();
  /** `recent` of the value last applied here. */
  #recent: readonly string[] = [];

  private constructor(opts: ClusterReservationStoreOptions, snapshot: ReservationSnapshot) {
    this.#opts = opts;
    this.#log = opts.logger.child({ volume: opts.volume, component: 'reservations' });
    this.#snapshot = snapshot;
  }

  /** Reads the current state from etcd and acknowledges it (a joining node counts as applied). */
  static async open(opts: ClusterReservationStoreOptions): Promise<ClusterReservationStore> {
    const v = await opts.coordinator.readReservations(opts.volume);
    const state =
      v.value === undefined ? EMPTY_STATE : parseReservationState((v.value as unknown as StoredValue).state);
    const store = new ClusterReservationStore(opts, { state, revision: v.revision });
    store.#recent = (v.value as unknown as StoredValue | undefined)?.recent ?? [];
    if (v.revision > 0) await opts.coordinator.acknowledgeReservations(opts.volume, v.revision);
    return store;
  }

  get(): ReservationSnapshot {
    return this.#snapshot;
  }

  subscribe(listener: (change: ReservationChange) => void | Promise<void>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A value from the reservations watch (undefined: the key was deleted). */
  deliver(value: JsonValue | undefined, revision: number): void {
    this.#enqueue(value, revision);
  }

  close(): void {
    this.#closed = true;
    this.#abort.abort();
    for (const w of this.#waiters) w.resolve();
    this.#waiters.clear();
  }

  async compareAndSet(revision: number, change: ReservationChange): Promise<boolean> {
    const { coordinator, volume } = this.#opts;
    const id = randomUUID();
    const value: StoredValue = {
      state: change.state as unknown as JsonValue,
      effects: {
        unitAttentions: change.unitAttentions,
        abort: change.abort,
        ...(change.issuer ? { issuer: change.issuer } : {}),
      },
      node: coordinator.nodeName,
      recent: [...this.#recent, id].slice(-RECENT_IDS),
    };
    const json = value as unknown as JsonValue;
    const r = await this.#casKnown(revision, json, id);
    if (!r.ok) {
      // Another change came first: get() must return it before we answer (the caller recomputes).
      if (!(await this.#appliedWithin(r.current.revision, OWN_CHANGE_GRACE_MS))) {
        this.#enqueue(r.current.value, r.current.revision);
        await this.#queue;
      }
      return false;
    }
    // In force here first (this node's listeners have run), then everywhere else.
    if (!(await this.#appliedWithin(r.revision, OWN_CHANGE_GRACE_MS))) {
      this.#enqueue(json, r.revision);
      await this.#queue;
    }
    const others = this.#opts.servingNodes().filter((n) => n !== coordinator.nodeName);
    if (others.length === 0) return true;
    const timeoutMs = this.#opts.applyTimeoutMs ?? 30_000;
    // The change is committed: an error now would tell the initiator it was not made (a retry
    // then fails on its own change). So the answer waits while a live node has not applied it
    // (a node that loses its session fences itself and stops counting), logged each round.
    for (let round = 1; ; round++) {
      const res = await coordinator.awaitReservationsApplied(volume, r.revision, others, timeoutMs);
      if (res.missing.length === 0) return true;
      this.#log.error(
        { revision: r.revision, missing: res.missing, waitedMs: round * timeoutMs },
        'reservation change committed but not yet applied by every live node: PERSISTENT RESERVE OUT waits',
      );
      if (this.#closed) {
        throw new TandemError(
          'TANDEM_ERR_CLUSTER_RESERVATIONS_NOT_APPLIED',
          `${volume}: reservation revision ${r.revision} not acknowledged by ${res.missing.join(', ')}`,
          { retryable: true },
        );
      }
    }
  }

  /**
   * The compare-and-set, asked again until etcd gives a definite answer: re-asking at the same
   * expected revision applies the change at most once, and a conflict whose value carries our
   * change id means our earlier attempt committed (its answer was lost).
   *
   * The bound (rule 7, and the store's contract: a rejection means the state is unchanged):
   * - a first attempt etcd refuses for good (not retryable: invalid, too large, permission)
   *   rejects at once: nothing was committed, so the rejection is the committed outcome;
   * - once an attempt's outcome is unknown (a retryable failure: the request may have committed),
   *   every error is asked again, under the cluster backoff (50 ms doubling to 1 s, jittered),
   *   with no count or time limit: until etcd answers, or close() (unmount, or the cluster link
   *   closing before the coordinator leaves), which ends the wait at once and rejects with the
   *   last error, as before. No deadline can end it sooner: while etcd is unreachable no answer
   *   is known, and an error for a committed change makes the initiator's retry fail on its
   *   own change.
   */
  async #casKnown(revision: number, json: JsonValue, id: string): Promise<CasResult<JsonValue>> {
    const { coordinator, volume } = this.#opts;
    let unknown = false;
    let last: unknown;
    const r = await withRetry(
      'reservation change',
      () => coordinator.compareAndSetReservations(volume, revision, json),
      {
        policy: RETRY_POLICY,
        deadlineMs: Number.POSITIVE_INFINITY,
        signal: this.#abort.signal,
        // Closed before any attempt failed: nothing was sent, TANDEM_ERR_CLUSTER_CLOSED.
        abortError: (signal) => last ?? abortError(signal),
        retryable: (err) => {
          last = err;
          if (isRetryable(err)) unknown = true;
          return unknown;
        },
        onRetry: (err, attempt) =>
          this.#log.warn(
            { err, attempt: attempt + 1, revision },
            'reservation change: outcome unknown; asking etcd again',
          ),
      },
    );
    if (r.ok) return r;
    const current = r.current.value as unknown as StoredValue | undefined;
    if (current?.recent?.includes(id)) return { ok: true, revision: r.current.revision };
    return r;
  }

  /** Resolves true once revision `rev` (or later) is applied here, false after `ms`. */
  #appliedWithin(rev: number, ms: number): Promise<boolean> {
    if (this.#snapshot.revision >= rev) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const w = {
        revision: rev,
        resolve: () => {
          clearTimeout(t);
          this.#waiters.delete(w);
          resolve(true);
        },
      };
      const t = setTimeout(() => {
        this.#waiters.delete(w);
        resolve(false);
      }, ms);
      this.#waiters.add(w);
    });
  }

  #enqueue(value: JsonValue | undefined, revision: number): void {
    this.#queue = this.#queue
      .then(() => this.#apply(value, revision))
      .catch((err: unknown) => this.#log.error({ err, revision }, 'applying a reservation change failed'));
  }

  /** In revision order, once each: the new state, then its effects here, then the acknowledgement. */
  async #apply(value: JsonValue | undefined, revision: number): Promise<void> {
    if (this.#closed || revision <= this.#snapshot.revision) return;
    let change: ReservationChange;
    if (value === undefined) {
      this.#recent = [];
      change = { state: EMPTY_STATE, unitAttentions: [], abort: [] };
    } else {
      const v = value as unknown as StoredValue;
      this.#recent = v.recent ?? [];
      const effects: ReservationEffects = v.effects ?? { unitAttentions: [], abort: [] };
      change = {
        state: parseReservationState(v.state),
        unitAttentions: effects.unitAttentions ?? [],
        abort: effects.abort ?? [],
        ...(effects.issuer ? { issuer: effects.issuer } : {}),
      };
    }
    this.#snapshot = { state: change.state, revision };
    for (const l of this.#listeners) await l(change);
    for (const w of [...this.#waiters]) if (w.revision <= revision) w.resolve();
    this.#opts.coordinator.acknowledgeReservations(this.#opts.volume, revision).catch((err: unknown) => {
      this.#log.warn({ err, revision }, 'acknowledging a reservation change failed');
    });
  }
}
