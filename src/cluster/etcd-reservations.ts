import type { IRequestOp } from 'etcd3';
import type {
  CasResult,
  JsonValue,
  ReservationStateStore,
  Subscription,
  Versioned,
  VolumeListener,
} from './coordinator.js';
import { cmp, op } from './etcd-kv.js';
import type { EtcdPartContext } from './etcd-part.js';
import { RETRY_POLICY } from './etcd-retry.js';
import type { EtcdSession } from './etcd-session.js';
import { decode, decodeJson, prAppliedSchema } from './records.js';

/**
 * Persistent reservations on etcd (DESIGN.md safety rule 7): one value per volume changed only by
 * compare-and-set on its mod revision, and one acknowledgement per node and volume on the node's
 * session lease, so a node that fenced itself stops counting as one that has to apply a change.
 */
export class EtcdReservations implements ReservationStateStore {
  readonly #ctx: EtcdPartContext;
  readonly #session: EtcdSession;
  /** Last reservation revision acknowledged per volume: re-announced on every new lease. */
  readonly #acks = new Map<string, number>();

  constructor(ctx: EtcdPartContext, session: EtcdSession) {
    this.#ctx = ctx;
    this.#session = session;
  }

  /** The acknowledgements to put again on a new lease (with the member key, in one transaction). */
  announcements(lease: string): IRequestOp[] {
    const { keys, nodeName } = this.#ctx;
    return [...this.#acks].map(([volume, rev]) =>
      op.put(keys.prAppliedBy(volume, nodeName), { revision: rev }, lease),
    );
  }

  async readReservations(volume: string): Promise<Versioned<JsonValue>> {
    const key = this.#ctx.keys.reservation(volume);
    const kv = await this.#ctx.kv.get(key);
    return kv
      ? { value: decodeJson(key, kv.value), revision: kv.modRevision }
      : { value: undefined, revision: 0 };
  }

  async compareAndSetReservations(
    volume: string,
    expectedRevision: number,
    value: JsonValue,
  ): Promise<CasResult<JsonValue>> {
    const { kv, keys } = this.#ctx;
    kv.assertOpen();
    const key = keys.reservation(volume);
    // Retrying is safe: if a first attempt applied but its answer was lost, the retry fails the
    // compare and reports a conflict whose `current` holds our own value: the caller knows it by
    // its change id (ClusterReservationStore), never as another node's change.
    const res = await kv.txn('reservations CAS', {
      compare: [cmp.unchanged(key, expectedRevision)],
      success: [op.put(key, value)],
      failure: [op.range(key)],
    });
    if (res.succeeded) return { ok: true, revision: res.revision };
    const current = res.ranges[0]![0];
    return {
      ok: false,
      current: current
        ? { value: decodeJson(key, current.value), revision: current.modRevision }
        : { value: undefined, revision: 0 },
    };
  }

  async watchReservations(listener: VolumeListener<JsonValue>): Promise<Subscription> {
    const { kv, keys } = this.#ctx;
    const base = keys.reservations();
    return kv.watchVolumes(
      base,
      (key) => keys.rest(base, key)[0]!,
      (_volume, e) => decodeJson(e.key, e.value),
      listener,
    );
  }

  async acknowledgeReservations(volume: string, rev: number): Promise<void> {
    const { kv, keys, nodeName } = this.#ctx;
    kv.assertOpen();
    // Remembered: re-announced on every new lease, so a re-registered node stays acknowledged.
    this.#acks.set(volume, Math.max(rev, this.#acks.get(volume) ?? 0));
    const lease = await this.#session.waitLive(AbortSignal.timeout(RETRY_POLICY.deadlineMs));
    await kv.txn(
      'acknowledge reservations',
      {
        success: [
          op.put(keys.prAppliedBy(volume, nodeName), { revision: this.#acks.get(volume)! }, lease.id),
        ],
      },
      { signal: lease.signal },
    );
  }

  async awaitReservationsApplied(
    volume: string,
    rev: number,
    nodes: readonly string[],
    timeoutMs: number,
  ): Promise<{ applied: string[]; missing: string[] }> {
    const { kv, keys } = this.#ctx;
    const timeout = AbortSignal.timeout(timeoutMs);
    for (;;) {
      const res = await kv.read('read reservation acks', [
        { key: keys.members(), prefix: true },
        { key: keys.prApplied(volume), prefix: true },
      ]);
      const live = new Set(res.ranges[0]!.map((m) => keys.rest(keys.members(), m.key)[0]!));
      const acked = new Map<string, number>();
      for (const a of res.ranges[1]!) {
        const [node] = keys.rest(keys.prApplied(volume), a.key);
        acked.set(node!, decode(prAppliedSchema, a.key, a.value).revision);
      }
      const applied: string[] = [];
      const missing: string[] = [];
      for (const node of nodes) {
        if ((acked.get(node) ?? 0) >= rev) applied.push(node);
        else if (live.has(node)) missing.push(node);
        // else: its session lease expired, so it fenced itself before that (safety rule 4).
      }
      if (missing.length === 0 || timeout.aborted) return { applied, missing };
      const from = res.revision + 1;
      const watchers = new AbortController();
      const signal = AbortSignal.any([timeout, watchers.signal]);
      await Promise.race([
        kv.waitFor({ key: keys.members(), prefix: true }, from, () => true, signal),
        kv.waitFor({ key: keys.prApplied(volume), prefix: true }, from, () => true, signal),
      ]);
      watchers.abort();
    }
  }
}
