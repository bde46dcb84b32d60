import type {
  CasResult,
  JsonValue,
  ReservationStateStore,
  Subscription,
  Versioned,
  VolumeListener,
} from './coordinator.js';
import { clone, type EmbeddedStore, type Stored } from './embedded-store.js';

/** Persistent reservation state in memory, with etcd's compare-and-set and watch semantics. */
export class EmbeddedReservations implements ReservationStateStore {
  readonly #store: EmbeddedStore;
  readonly #reservations = new Map<string, Stored>();
  readonly #acks = new Map<string, number>();
  readonly #listeners: Set<VolumeListener<JsonValue>>;

  constructor(store: EmbeddedStore) {
    this.#store = store;
    this.#listeners = store.listeners();
  }

  async readReservations(volume: string): Promise<Versioned<JsonValue>> {
    const s = this.#reservations.get(volume);
    return s ? { value: clone(s.value), revision: s.revision } : { value: undefined, revision: 0 };
  }

  async compareAndSetReservations(
    volume: string,
    expectedRevision: number,
    value: JsonValue,
  ): Promise<CasResult<JsonValue>> {
    this.#store.assertOpen();
    const current = await this.readReservations(volume);
    if (current.revision !== expectedRevision) return { ok: false, current };
    const stored = { value: clone(value), revision: this.#store.bump() };
    this.#reservations.set(volume, stored);
    this.#store.deliver(this.#listeners, (l) => l(volume, clone(stored.value), stored.revision));
    return { ok: true, revision: stored.revision };
  }

  async watchReservations(listener: VolumeListener<JsonValue>): Promise<Subscription> {
    for (const [volume, s] of this.#reservations) listener(volume, clone(s.value), s.revision);
    return this.#store.subscribe(this.#listeners, listener);
  }

  async acknowledgeReservations(volume: string, revision: number): Promise<void> {
    this.#acks.set(volume, Math.max(revision, this.#acks.get(volume) ?? 0));
  }

  async awaitReservationsApplied(
    volume: string,
    revision: number,
    nodes: readonly string[],
    _timeoutMs: number,
  ): Promise<{ applied: string[]; missing: string[] }> {
    const applied: string[] = [];
    const missing: string[] = [];
    for (const node of nodes) {
      if (node !== this.#store.nodeName) continue; // not a member: as good as fenced
      if ((this.#acks.get(volume) ?? 0) >= revision) applied.push(node);
      else missing.push(node);
    }
    return { applied, missing };
  }
}
