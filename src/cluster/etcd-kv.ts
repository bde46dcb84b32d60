import type { Etcd3, ICompare, IRequestOp, IResponseOp } from 'etcd3';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { Subscription, VolumeListener } from './coordinator.js';
import { type RetryOptions, withRetry } from './etcd-retry.js';
import {
  type KeyEvent,
  type KeyRange,
  type KeyValue,
  type RangeWatchHandlers,
  rangeRequest,
  toKeyValue,
  waitForEvent,
  watchRange,
} from './etcd-watch.js';
import { encode, revision } from './records.js';

/** The answer of one transaction, with etcd's per-op responses made plain. */
export interface TxnResult {
  readonly succeeded: boolean;
  /** The revision the transaction ran at (its header's). */
  readonly revision: number;
  /** Per op of the branch that ran: the keys a range op read ([] for other ops). */
  readonly ranges: readonly KeyValue[][];
  /** Per op of the branch that ran: how many keys a delete op removed (0 for other ops). */
  readonly deleted: readonly number[];
}

export interface TxnRequest {
  readonly compare?: readonly ICompare[];
  readonly success: readonly IRequestOp[];
  readonly failure?: readonly IRequestOp[];
}

/** Request ops. */
export const op = {
  put(key: string, value: unknown, lease?: string): IRequestOp {
    return { request_put: { key: Buffer.from(key), value: encode(value), ...(lease ? { lease } : {}) } };
  },
  delete(range: KeyRange | string): IRequestOp {
    return { request_delete_range: rangeRequest(typeof range === 'string' ? { key: range } : range) };
  },
  range(range: KeyRange | string): IRequestOp {
    return { request_range: rangeRequest(typeof range === 'string' ? { key: range } : range) };
  },
};

/** Compares. */
export const cmp = {
  absent(key: string): ICompare {
    return { key: Buffer.from(key), target: 'Create', result: 'Equal', create_revision: 0 };
  },
  present(key: string): ICompare {
    return { key: Buffer.from(key), target: 'Create', result: 'Greater', create_revision: 0 };
  },
  /** The key's mod revision is exactly `rev` (0: absent). */
  unchanged(key: string, rev: number): ICompare {
    return { key: Buffer.from(key), target: 'Mod', result: 'Equal', mod_revision: rev };
  },
  /** No key under `prefix` was written after revision `rev`. */
  prefixUnchangedSince(prefix: string, rev: number): ICompare {
    const range = rangeRequest({ key: prefix, prefix: true });
    return {
      key: range.key,
      range_end: range.range_end,
      target: 'Mod',
      result: 'Less',
      mod_revision: rev + 1,
    };
  },
  /** The leader-only guard: the election key still exists with the caller's epoch (its create revision). */
  leader(leaderKey: string, epoch: number): ICompare {
    return { key: Buffer.from(leaderKey), target: 'Create', result: 'Equal', create_revision: epoch };
  },
};

function plain(responses: readonly IResponseOp[]): Pick<TxnResult, 'ranges' | 'deleted'> {
  return {
    ranges: responses.map((r) => r.response_range?.kvs.map(toKeyValue) ?? []),
    deleted: responses.map((r) => Number(r.response_delete_range?.deleted ?? 0)),
  };
}

/**
 * The one layer that calls etcd for key-value work: every unary call goes through the cluster's
 * retry policy (deadline per call, backoff with jitter, one overall deadline: etcd-retry.ts),
 * every watch is tracked so close() ends them all. The coordinator's parts (election, replica
 * sets, reservations, config, identity, membership) speak to etcd only through it.
 */
export class EtcdKv {
  readonly client: Etcd3;
  readonly #logger: Logger;
  readonly #subscriptions = new Set<Subscription>();
  #closed = false;

  constructor(client: Etcd3, logger: Logger) {
    this.client = client;
    this.#logger = logger;
  }

  get closed(): boolean {
    return this.#closed;
  }

  assertOpen(): void {
    if (this.#closed) throw new TandemError('TANDEM_ERR_CLUSTER_CLOSED', 'the coordinator is closed');
  }

  /** Marks the layer closed: calls that check assertOpen() fail from now on. */
  markClosed(): void {
    this.#closed = true;
  }

  /** Closes every watch still open. */
  async closeWatches(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
    this.#subscriptions.clear();
  }

  /** Closes the client (after the session that shares it has revoked its lease). */
  closeClient(): void {
    this.client.close();
  }

  async get(key: string, opts?: RetryOptions): Promise<KeyValue | undefined> {
    const res = await withRetry(`get ${key}`, () => this.client.kv.range({ key: Buffer.from(key) }), opts);
    const kv = res.kvs[0];
    return kv ? toKeyValue(kv) : undefined;
  }

  /** Every key under `prefix`, and the revision they were read at. */
  async list(prefix: string, what = `list ${prefix}`): Promise<{ revision: number; kvs: KeyValue[] }> {
    const res = await withRetry(what, () =>
      this.client.kv.range(rangeRequest({ key: prefix, prefix: true })),
    );
    return { revision: revision(res.header.revision), kvs: res.kvs.map(toKeyValue) };
  }

  /** Several ranges read at one revision (one transaction without compares). */
  async read(what: string, ranges: readonly (KeyRange | string)[]): Promise<TxnResult> {
    return this.txn(what, { success: ranges.map((r) => op.range(r)) });
  }

  /** One transaction, retried under the policy: only for idempotent ones (see withRetry). */
  async txn(what: string, req: TxnRequest, opts?: RetryOptions): Promise<TxnResult> {
    const res = await withRetry(
      what,
      () =>
        this.client.kv.txn({
          compare: [...(req.compare ?? [])],
          success: [...req.success],
          ...(req.failure ? { failure: [...req.failure] } : {}),
        }),
      opts,
    );
    return { succeeded: res.succeeded, revision: revision(res.header.revision), ...plain(res.responses) };
  }

  /**
   * `ops` in one transaction guarded by leadership (safety rule 2: the primary changes shared
   * state only while its election key exists with its epoch). Resolves false if it does not.
   */
  async guarded(
    what: string,
    leaderKey: string,
    epoch: number,
    ops: readonly IRequestOp[],
  ): Promise<TxnResult> {
    return this.txn(what, { compare: [cmp.leader(leaderKey, epoch)], success: ops });
  }

  /**
   * Writes `ops` only if `key` does not exist; else reads it. `existing` is what a failed attempt
   * found (a retried transaction whose first answer was lost finds its own value).
   */
  async createIfAbsent(
    what: string,
    key: string,
    ops: readonly IRequestOp[],
  ): Promise<{ created: boolean; revision: number; existing: KeyValue | undefined }> {
    const res = await this.txn(what, { compare: [cmp.absent(key)], success: ops, failure: [op.range(key)] });
    return { created: res.succeeded, revision: res.revision, existing: res.ranges[0]?.[0] };
  }

  /** One attempt, no retry (best-effort cleanups that a lease expiry also performs). */
  async once(req: TxnRequest): Promise<void> {
    await this.client.kv.txn({
      compare: [...(req.compare ?? [])],
      success: [...req.success],
      ...(req.failure ? { failure: [...req.failure] } : {}),
    });
  }

  /** List-then-watch of a key or prefix (watchRange), closed with the layer. */
  async watch(range: KeyRange, handlers: RangeWatchHandlers): Promise<Subscription> {
    this.assertOpen();
    const sub = await watchRange(this.client, range, handlers, this.#logger);
    this.#subscriptions.add(sub);
    return {
      close: async () => {
        this.#subscriptions.delete(sub);
        await sub.close();
      },
    };
  }

  /**
   * A prefix of one key per volume (`volumeOf` names it), delivered per volume; a re-list
   * reports the volumes that vanished meanwhile.
   */
  async watchVolumes<T>(
    base: string,
    volumeOf: (key: string) => string,
    parse: (volume: string, kv: KeyValue) => T,
    listener: VolumeListener<T>,
  ): Promise<Subscription> {
    const known = new Set<string>();
    return this.watch(
      { key: base, prefix: true },
      {
        snapshot: (kvs, rev) => {
          const seen = new Set<string>();
          for (const kv of kvs) {
            const volume = volumeOf(kv.key);
            seen.add(volume);
            listener(volume, parse(volume, kv), kv.modRevision);
          }
          for (const volume of known) if (!seen.has(volume)) listener(volume, undefined, rev);
          known.clear();
          for (const v of seen) known.add(v);
        },
        change: (ev, rev) => {
          const volume = volumeOf(ev.key);
          if (ev.type === 'delete') {
            known.delete(volume);
            listener(volume, undefined, rev);
          } else {
            known.add(volume);
            listener(volume, parse(volume, ev), rev);
          }
        },
      },
    );
  }

  /** The first event on `range` from `fromRevision` that `match` accepts (see waitForEvent). */
  waitFor(
    range: KeyRange,
    fromRevision: number,
    match: (event: KeyEvent) => boolean,
    signal: AbortSignal,
  ): Promise<'matched' | 'aborted' | 'error'> {
    return waitForEvent(this.client, range, fromRevision, match, signal);
  }
}
