import type { ICompare } from 'etcd3';
import { TandemError } from '../util/errors.js';
import { StateMachine } from '../util/state-machine.js';
import type {
  CampaignOptions,
  CoordinatorEvents,
  Election,
  ElectionRole,
  LeaderRecord,
  LeadershipLossReason,
  ResignOptions,
  Subscription,
} from './coordinator.js';
import { cmp, op } from './etcd-kv.js';
import type { EtcdPartContext } from './etcd-part.js';
import { clusterBackoff, sleep, toClusterError } from './etcd-retry.js';
import type { EtcdSession, SessionLease } from './etcd-session.js';
import type { KeyValue } from './etcd-watch.js';
import { decode, handoverValueSchema, leaderValueSchema } from './records.js';
import type { TypedEmitter } from './typed-emitter.js';

/** Per-volume election: one guarded state machine, one campaign loop. */
interface VolumeElection {
  readonly volume: string;
  readonly sm: StateMachine<ElectionRole>;
  wanted: boolean;
  epoch: number | undefined;
  /** Campaign only while in the volume's in-sync set (replicated volumes). */
  requireInSync: boolean;
  staleLogged?: boolean;
  /** Session generation that holds the leadership (canServeWrites compares it). */
  generation: number;
  /** The lease the leader key is on (a hand-over record goes on it too). */
  leaseId: string | undefined;
  /** Aborted by resign() / close(). */
  stop: AbortController;
  loop: Promise<void> | undefined;
}

/**
 * Per-volume election on etcd: our own lease + transaction, not etcd3's `Election`/`Campaign`.
 * Reasons: (1) the Campaign's lease tracks keep-alives on the wall clock and reports loss only
 * after 2 × TTL without contact — far too late for self-fencing; we need the send time of the
 * last confirmed keep-alive on the monotonic clock, which only our own keep-alive loop knows.
 * (2) One key per volume, won by `create_revision == 0`, makes the epoch exactly that key's
 * create revision and lets every leader-only write be one transaction guarded by
 * `create_revision == epoch`; Campaign queues candidates (first-come) and hides the revision.
 * (3) The same transaction carries the in-sync-set check of safety rule 2 (only an in-sync
 * replica may become primary), which a queue that promotes the next waiter automatically could not.
 */
export class EtcdElection implements Election {
  readonly #ctx: EtcdPartContext;
  readonly #session: EtcdSession;
  readonly #events: TypedEmitter<CoordinatorEvents>;
  readonly #elections = new Map<string, VolumeElection>();

  constructor(ctx: EtcdPartContext, session: EtcdSession, events: TypedEmitter<CoordinatorEvents>) {
    this.#ctx = ctx;
    this.#session = session;
    this.#events = events;
    session.on('fenced', ({ lease, reason }) => this.#onFenced(lease, reason));
  }

  campaign(volume: string, options: CampaignOptions = {}): void {
    this.#ctx.kv.assertOpen();
    let v = this.#elections.get(volume);
    if (!v) {
      this.#ctx.keys.leader(volume); // validates the name
      const created: VolumeElection = {
        volume,
        sm: new StateMachine<ElectionRole>('election', 'idle', this.#ctx.logger.child({ volume })),
        wanted: false,
        epoch: undefined,
        requireInSync: false,
        generation: 0,
        leaseId: undefined,
        stop: new AbortController(),
        loop: undefined,
      };
      this.#elections.set(volume, created);
      v = created;
    }
    v.requireInSync = options.requireInSync === true;
    if (v.wanted) return;
    v.wanted = true;
    const stop = new AbortController();
    v.stop = stop;
    v.sm.transition(['idle'], 'candidate');
    const election = v;
    // A loop ended by resign() may still be unwinding: the new one starts after it.
    const previous = v.loop ?? Promise.resolve();
    v.loop = previous.then(() => this.#campaignLoop(election, stop.signal));
  }

  async resign(volume: string, options: ResignOptions = {}): Promise<void> {
    const v = this.#elections.get(volume);
    if (!v) return;
    v.wanted = false;
    const epoch = v.epoch;
    const wasLeader = v.sm.state === 'leader';
    this.#endTerm(v, 'resigned', 'idle');
    v.sm.transition(['candidate', 'fenced'], 'idle');
    v.stop.abort(new TandemError('TANDEM_ERR_CLUSTER_CLOSED', 'resigned'));
    await v.loop;
    // Hand the key back at once (the peer need not wait for a TTL).
    if (wasLeader && epoch !== undefined) {
      const key = this.#ctx.keys.leader(volume);
      if (options.to && v.leaseId) await this.#handKey(volume, key, epoch, options.to, v.leaseId);
      else await this.#releaseKey(key, epoch);
    }
    v.epoch = undefined;
  }

  /** Ends every term and campaign (leadershipLost 'closed'); the lease revocation removes the keys. */
  async closeAll(): Promise<void> {
    for (const v of this.#elections.values()) {
      v.wanted = false;
      this.#endTerm(v, 'closed', 'closed');
      v.sm.transition(['idle', 'candidate', 'fenced'], 'closed');
      v.stop.abort(new TandemError('TANDEM_ERR_CLUSTER_CLOSED', 'coordinator closed'));
    }
    await Promise.all([...this.#elections.values()].map((v) => v.loop));
  }

  role(volume: string): ElectionRole {
    if (this.#ctx.kv.closed) return 'closed';
    return this.#elections.get(volume)?.sm.state ?? 'idle';
  }

  epoch(volume: string): number | undefined {
    const v = this.#elections.get(volume);
    return v?.sm.is('leader', 'fenced') ? v.epoch : undefined;
  }

  canServeWrites(volume: string): boolean {
    const v = this.#elections.get(volume);
    return v !== undefined && v.sm.state === 'leader' && this.#session.fresh(v.generation);
  }

  /** The epoch of the term this node holds now and may write in, else undefined. */
  servingEpoch(volume: string): number | undefined {
    return this.canServeWrites(volume) ? this.#elections.get(volume)?.epoch : undefined;
  }

  async leader(volume: string): Promise<LeaderRecord | undefined> {
    const kv = await this.#ctx.kv.get(this.#ctx.keys.leader(volume));
    return kv ? leaderRecord(volume, kv) : undefined;
  }

  async watchLeader(
    volume: string,
    listener: (leader: LeaderRecord | undefined) => void,
  ): Promise<Subscription> {
    return this.#ctx.kv.watch(
      { key: this.#ctx.keys.leader(volume) },
      {
        snapshot: (kvs) => listener(kvs[0] ? leaderRecord(volume, kvs[0]) : undefined),
        change: (ev) => listener(ev.type === 'delete' ? undefined : leaderRecord(volume, ev)),
      },
    );
  }

  /** Deletes the election key if it is still the incarnation created at `epoch`. Best effort. */
  async #releaseKey(key: string, epoch: number): Promise<void> {
    try {
      await this.#ctx.kv.once({ compare: [cmp.leader(key, epoch)], success: [op.delete(key)] });
    } catch (err) {
      this.#ctx.logger.warn({ err, key, epoch }, 'could not delete the election key; it goes with the lease');
    }
  }

  /**
   * Planned switchover to `to`: the key goes and the hand-over record comes in one transaction
   * guarded by our term, so no candidate can see the key gone without the record. The record is
   * on our lease: if this node dies mid-hand-over it goes with the lease.
   */
  async #handKey(volume: string, key: string, epoch: number, to: string, lease: string): Promise<void> {
    const { kv, keys, nodeName, logger } = this.#ctx;
    try {
      await kv.once({
        compare: [cmp.leader(key, epoch)],
        success: [op.delete(key), op.put(keys.handover(volume), { from: nodeName, to }, lease)],
      });
    } catch (err) {
      logger.warn({ err, key, epoch, to }, 'could not hand the election key over; it goes with the lease');
    }
  }

  async #campaignLoop(v: VolumeElection, stop: AbortSignal): Promise<void> {
    const { kv, keys, nodeName, logger } = this.#ctx;
    const key = keys.leader(v.volume);
    const backoff = clusterBackoff();
    while (!stop.aborted && !kv.closed) {
      let lease: SessionLease;
      try {
        lease = await this.#session.waitLive(stop);
      } catch {
        break;
      }
      v.sm.transition(['fenced'], 'candidate');
      const signal = AbortSignal.any([lease.signal, stop]);
      try {
        const inSyncKey = keys.inSyncMember(v.volume, nodeName);
        // Safety rule 2: only a member of the in-sync set may become primary, checked in the
        // same transaction that takes the key (the primary removes a member with a txn guarded
        // by its key, so the two can never both succeed).
        // Issue 14, finding 9: and only once this lease carries the member key. After a fence the
        // new lease registers it asynchronously; a leader without one would count as fenced to a
        // PERSISTENT RESERVE OUT waiting for every live node (awaitReservationsApplied).
        const registered = memberOnLease(keys.member(nodeName), lease.id);
        const compare = [cmp.absent(key), registered, ...(v.requireInSync ? [cmp.present(inSyncKey)] : [])];
        const hoKey = keys.handover(v.volume);
        const take = op.put(key, { node: nodeName, lease: lease.id }, lease.id);
        // No hand-over record: an ordinary election.
        let res = await kv.txn(
          'campaign',
          {
            compare: [...compare, cmp.absent(hoKey)],
            success: [take],
            failure: [op.range(key), op.range(hoKey)],
          },
          { signal },
        );
        const ho = res.succeeded || res.ranges[0]![0] ? undefined : res.ranges[1]?.[0];
        if (ho) {
          // A planned switchover (tandemctl switchover --to): only the named node may take the key.
          const h = decode(handoverValueSchema, hoKey, ho.value);
          if (h.to === nodeName) {
            res = await kv.txn(
              'campaign',
              {
                compare: [...compare, cmp.unchanged(hoKey, ho.modRevision)],
                success: [take, op.delete(hoKey)],
                failure: [op.range(key)],
              },
              { signal },
            );
          } else {
            if (h.from === nodeName) {
              // Ours, and we campaign again: the hand-over is over (it did not happen in time).
              await kv.once({ compare: [cmp.unchanged(hoKey, ho.modRevision)], success: [op.delete(hoKey)] });
            } else {
              await kv.waitFor(
                { key: hoKey },
                res.revision + 1,
                (ev) => ev.type === 'delete',
                AbortSignal.any([signal, AbortSignal.timeout(2000)]),
              );
            }
            continue;
          }
        }
        const headerRev = res.revision;
        let epoch: number | undefined;
        const holder = res.succeeded ? undefined : res.ranges[0]![0];
        if (res.succeeded) {
          epoch = headerRev; // the put happened at this revision: the key's create revision
        } else if (holder) {
          const value = decode(leaderValueSchema, key, holder.value);
          // Our own key from an earlier attempt of this very txn whose answer was lost.
          if (value.node === nodeName && value.lease === lease.id) epoch = holder.createRevision;
        }
        if (
          epoch === undefined &&
          !holder &&
          !(await kv.txn('member key check', { compare: [registered], success: [] }, { signal })).succeeded
        ) {
          // Not registered on this lease yet (the coordinator does it on every new lease).
          await kv.waitFor(
            { key: keys.member(nodeName) },
            headerRev + 1,
            () => true,
            AbortSignal.any([signal, AbortSignal.timeout(1000)]),
          );
          continue;
        }
        if (epoch === undefined && !holder) {
          // No primary, and this node is not in the in-sync set: it holds stale data and must
          // not serve it. Wait for the set or the key to change (a returning primary resyncs us).
          if (!v.staleLogged) {
            v.staleLogged = true;
            logger.warn(
              { volume: v.volume },
              'not in the in-sync set and no primary: waiting for an in-sync replica to return',
            );
          }
          await kv.waitFor(
            { key: keys.inSync(v.volume), prefix: true },
            headerRev + 1,
            () => true,
            AbortSignal.any([signal, AbortSignal.timeout(2000)]),
          );
          continue;
        }
        v.staleLogged = false;
        if (epoch === undefined) {
          // Someone else leads: wait until the key is deleted (lease expiry, resignation).
          const outcome = await kv.waitFor({ key }, headerRev + 1, (ev) => ev.type === 'delete', signal);
          if (outcome === 'error')
            throw new TandemError('TANDEM_ERR_CLUSTER_UNAVAILABLE', 'election watch cancelled', {
              retryable: true,
            });
          backoff.reset();
          continue;
        }
        const holding = v.sm.state === 'leader' && v.epoch === epoch && v.generation === lease.generation;
        if (signal.aborted || !(holding || v.sm.state === 'candidate')) {
          // Won, but the lease or the campaign ended meanwhile: give the key back at once.
          await this.#releaseKey(key, epoch);
          continue;
        }
        if (!holding) {
          v.epoch = epoch;
          v.generation = lease.generation;
          v.leaseId = lease.id;
          if (!v.sm.transition(['candidate'], 'leader', { epoch, lease: lease.id })) continue;
          this.#events.emit('leadershipAcquired', { volume: v.volume, epoch });
        }
        // Hold it until the term ends: fencing (session), resign/close, or the key goes away.
        const outcome = await kv.waitFor(
          { key },
          headerRev + 1,
          (ev) => ev.type === 'delete' || ev.createRevision !== epoch,
          signal,
        );
        // A node thawing from a stall may read the key's deletion before its own fence timer
        // fires: name the real cause. (It stopped serving already: canServeWrites is computed.)
        const gone = () => (this.#session.fresh(lease.generation) ? 'key-deleted' : 'lease-renewal-overdue');
        if (outcome === 'matched') this.#endTerm(v, gone(), 'fenced');
        else if (outcome === 'error') {
          // The watch broke while leading: re-check the key before deciding.
          const now = await kv.get(key, { signal });
          if (!now || now.createRevision !== epoch) this.#endTerm(v, gone(), 'fenced');
          else continue; // still ours: hold again (the loop re-enters through the adopt path)
        }
        backoff.reset();
      } catch (err) {
        if (signal.aborted) continue;
        const delay = backoff.next();
        logger.warn(
          { err: toClusterError(err, 'campaign'), volume: v.volume, delayMs: delay },
          'campaign failed; retrying',
        );
        await sleep(delay, stop).catch(() => undefined);
      }
    }
  }

  /** Ends the current term if this node leads: state first (writes stop), then the one event. */
  #endTerm(v: VolumeElection, reason: LeadershipLossReason, to: ElectionRole): void {
    const epoch = v.epoch;
    if (!v.sm.transition(['leader'], to, { epoch, reason })) return;
    this.#events.emit('leadershipLost', { volume: v.volume, epoch: epoch!, reason });
  }

  #onFenced(lease: SessionLease, reason: 'lease-renewal-overdue' | 'lease-expired'): void {
    for (const v of this.#elections.values()) {
      if (v.generation === lease.generation) this.#endTerm(v, reason, 'fenced');
    }
  }
}

/** The member key exists on `lease` (an etcd LEASE compare). */
function memberOnLease(memberKey: string, lease: string): ICompare {
  return { key: Buffer.from(memberKey), target: 'Lease', result: 'Equal', lease };
}

function leaderRecord(volume: string, kv: KeyValue): LeaderRecord {
  const v = decode(leaderValueSchema, kv.key, kv.value);
  return { volume, node: v.node, epoch: kv.createRevision };
}
