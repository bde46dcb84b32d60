import type { Etcd3, IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from 'etcd3';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { StateMachine } from '../util/state-machine.js';
import type { SessionState } from './coordinator.js';
import { abortError, clusterBackoff, RETRY_POLICY, withRetry } from './etcd-retry.js';
import { type FencingPolicy, RenewalClock } from './fencing.js';
import { TypedEmitter } from './typed-emitter.js';

/** One granted lease: a term of this node's session. */
export interface SessionLease {
  /** etcd lease id (int64, decimal). */
  readonly id: string;
  /** 1, 2, 3, … — a new one after every fence. */
  readonly generation: number;
  /** Aborts the moment this lease's term ends (fenced, expired or closed). */
  readonly signal: AbortSignal;
}

export type FenceReason = 'lease-renewal-overdue' | 'lease-expired';

export interface SessionEvents {
  /** A new lease is granted and confirmed fresh. */
  live: (lease: SessionLease) => void;
  /** The term of `lease` is over; fired synchronously when detected, before `lease.signal` aborts. */
  fenced: (e: { lease: SessionLease; reason: FenceReason }) => void;
  state: (e: { from: SessionState; to: SessionState }) => void;
}

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

/**
 * The node's session with etcd: one lease, kept alive on one stream, carrying the membership key,
 * every election key and the reservation acknowledgements (the pattern of etcd's Go
 * `concurrency.Session`). One lease per node, not per volume: a node that cannot reach etcd can
 * renew none of them, and one keep-alive clock then fences every volume at once.
 *
 * States: idle -> connecting -> live -> fenced -> connecting -> … ; any -> closed. A fenced lease
 * is never revived, even if etcd answers again in time: the node revokes it (best effort) and
 * starts a new term with a new lease, so a new leadership always carries a new epoch.
 */
export class EtcdSession extends TypedEmitter<SessionEvents> {
  readonly #client: Etcd3;
  readonly #policy: FencingPolicy;
  readonly #logger: Logger;
  readonly #clock: RenewalClock;
  readonly #sm: StateMachine<SessionState>;
  #lease: (SessionLease & { controller: AbortController }) | undefined;
  #generation = 0;
  #stopKeepAlive: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  readonly #closing = new AbortController();

  constructor(
    client: Etcd3,
    policy: FencingPolicy,
    logger: Logger,
    clock: RenewalClock = new RenewalClock(policy),
  ) {
    super(logger);
    this.#client = client;
    this.#policy = policy;
    this.#logger = logger.child({ scope: 'session' });
    this.#clock = clock;
    this.#sm = new StateMachine<SessionState>('session', 'idle', this.#logger, (from, to) =>
      this.emit('state', { from, to }),
    );
  }

  get state(): SessionState {
    return this.#sm.state;
  }

  get policy(): FencingPolicy {
    return this.#policy;
  }

  get clock(): RenewalClock {
    return this.#clock;
  }

  /** The live lease, if the session is live and its last confirmed keep-alive is recent enough. */
  current(): SessionLease | undefined {
    const lease = this.#lease;
    if (!lease || this.#sm.state !== 'live' || lease.signal.aborted || !this.#clock.fresh()) return undefined;
    return lease;
  }

  /** Synchronous, monotonic: may writes guarded by lease `generation` still be served? */
  fresh(generation: number): boolean {
    return this.current()?.generation === generation;
  }

  start(): void {
    if (this.#loop) return;
    this.#loop = this.#run().catch((err: unknown) => {
      this.#logger.error({ err }, 'session loop failed');
    });
  }

  /** Resolves with the live lease (now, or when one is granted); rejects when `signal` aborts. */
  waitLive(signal?: AbortSignal): Promise<SessionLease> {
    const now = this.current();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const signals = signal ? [signal, this.#closing.signal] : [this.#closing.signal];
      const any = AbortSignal.any(signals);
      if (any.aborted) {
        reject(abortError(any));
        return;
      }
      const off = this.on('live', (lease) => {
        off();
        any.removeEventListener('abort', onAbort);
        resolve(lease);
      });
      const onAbort = () => {
        off();
        reject(abortError(any));
      };
      any.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Ends the session: stops keep-alives and revokes the lease (its keys vanish at once). */
  async close(): Promise<void> {
    if (this.#sm.state === 'closed') return;
    this.#closing.abort(new TandemError('TANDEM_ERR_CLUSTER_CLOSED', 'session closed'));
    this.#stopKeepAlive?.();
    await this.#loop;
    const lease = this.#lease;
    this.#sm.transition(['idle', 'connecting', 'live', 'fenced'], 'closed');
    if (lease) {
      lease.controller.abort(new TandemError('TANDEM_ERR_CLUSTER_CLOSED', 'session closed'));
      await this.#revoke(lease.id);
    }
  }

  async #run(): Promise<void> {
    while (!this.#closing.signal.aborted) {
      this.#sm.transition(['idle', 'fenced'], 'connecting');
      let sentAt = 0;
      let id: string;
      try {
        // Until granted or closed: the node has nothing to do without a session.
        id = await withRetry(
          'lease grant',
          async () => {
            sentAt = this.#clock.now();
            const res = await this.#client.leaseClient.leaseGrant({ TTL: this.#policy.ttlMs / 1000 });
            // etcd may raise a TTL below its minimum, never lower one: our window stays conservative.
            if (Number(res.TTL) * 1000 < this.#policy.ttlMs) {
              throw new TandemError('TANDEM_ERR_CLUSTER_CORRUPT', `etcd granted TTL ${res.TTL}s < requested`);
            }
            return res.ID;
          },
          {
            signal: this.#closing.signal,
            deadlineMs: Number.POSITIVE_INFINITY,
            retryable: () => true,
            onRetry: (err, attempt, delayMs) =>
              this.#logger.warn({ err, attempt: attempt + 1, delayMs }, 'lease grant failed; retrying'),
          },
        );
      } catch {
        break; // closing
      }
      if (this.#closing.signal.aborted) {
        await this.#revoke(id);
        break;
      }
      this.#clock.granted(sentAt);
      if (!this.#clock.fresh()) {
        // The grant took longer than the fencing window: unusable from the start.
        this.#logger.warn({ lease: id }, 'lease granted too late to be used; revoking');
        void this.#revoke(id);
        continue;
      }
      const controller = new AbortController();
      const lease = { id, generation: ++this.#generation, signal: controller.signal, controller };
      this.#lease = lease;
      this.#sm.transition(['connecting'], 'live', { lease: id, generation: lease.generation });
      this.emit('live', lease);

      const reason = await this.#keepAlive(lease);
      if (reason === 'closed') break;
      // Fence first (state + event: listeners stop serving writes), then wake the waiters.
      this.#sm.transition(['live'], 'fenced', {
        lease: id,
        generation: lease.generation,
        reason,
        sinceLastConfirmedMs: Math.round(this.#clock.now() - this.#clock.lastConfirmedSentAt()),
      });
      this.emit('fenced', { lease, reason });
      controller.abort(new TandemError('TANDEM_ERR_CLUSTER_NOT_LEADER', `session lease fenced: ${reason}`));
      // Release whatever it still holds at once, if etcd is there to hear it; else it expires.
      void this.#revoke(id);
    }
  }

  /** Keeps `lease` alive until its term ends; resolves with why. */
  #keepAlive(lease: SessionLease): Promise<FenceReason | 'closed'> {
    const policy = this.#policy;
    const clock = this.#clock;
    return new Promise((resolve) => {
      let stream: KeepAliveStream | undefined;
      const backoff = clusterBackoff();
      let done = false;
      let fenceTimer: NodeJS.Timeout | undefined;

      const finish = (reason: FenceReason | 'closed') => {
        if (done) return;
        done = true;
        clearInterval(tick);
        clearTimeout(fenceTimer);
        this.#stopKeepAlive = undefined;
        // end(), not cancel(): etcd3 treats a cancelled stream as a failed host and resets it.
        stream?.end();
        stream = undefined;
        resolve(reason);
      };
      const check = () => {
        if (!clock.fresh()) finish('lease-renewal-overdue');
        else armFence();
      };
      const armFence = () => {
        clearTimeout(fenceTimer);
        fenceTimer = setTimeout(check, Math.max(0, clock.deadline() - clock.now()) + 1);
      };
      const send = () => {
        if (!stream || done) return;
        clock.sent();
        stream.write({ ID: lease.id });
      };
      const reopen = (s: KeepAliveStream, err: unknown) => {
        if (s !== stream || done) return;
        stream = undefined;
        const delay = backoff.next();
        this.#logger.warn({ err, delayMs: delay }, 'keep-alive stream broke; reopening');
        setTimeout(open, delay);
      };
      const open = () => {
        if (done) return;
        clock.streamReset();
        this.#client.leaseClient.leaseKeepAlive().then(
          (s) => {
            if (done) {
              s.end();
              return;
            }
            stream = s;
            s.on('data', (res) => {
              if (s !== stream || done) return;
              if (res.TTL === '0') {
                finish('lease-expired');
              } else if (!clock.confirmed()) {
                finish('lease-renewal-overdue');
              } else {
                backoff.reset();
                armFence();
              }
            });
            s.on('error', (err) => reopen(s, err));
            s.on('end', () => reopen(s, new Error('keep-alive stream ended')));
            send();
          },
          (err: unknown) => {
            if (done) return;
            const delay = backoff.next();
            this.#logger.warn({ err, delayMs: delay }, 'keep-alive stream did not open; retrying');
            setTimeout(open, delay);
          },
        );
      };

      const tick = setInterval(() => {
        check();
        send();
      }, policy.keepAliveIntervalMs);
      this.#stopKeepAlive = () => finish('closed');
      armFence();
      open();
    });
  }

  async #revoke(id: string): Promise<void> {
    try {
      await this.#client.leaseClient.leaseRevoke(
        { ID: id },
        { deadline: new Date(Date.now() + RETRY_POLICY.callTimeoutMs) },
      );
      this.#logger.info({ lease: id }, 'lease revoked');
    } catch (err) {
      this.#logger.debug({ err, lease: id }, 'lease revoke failed; it will expire on its own');
    }
  }
}
