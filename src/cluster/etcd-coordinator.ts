import { randomBytes } from 'node:crypto';
import { Etcd3, type ICompare, type IOptions, type IRequestOp, type ITxnResponse } from 'etcd3';
import type { z } from 'zod';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type {
  AluaSnapshot,
  AluaState,
  CampaignOptions,
  CasResult,
  ConfigEntry,
  ConfigEvent,
  ConfigKind,
  Coordinator,
  CoordinatorEvents,
  CoordinatorOptions,
  ElectionRole,
  JsonValue,
  LeaderRecord,
  LeadershipLossReason,
  NodeAddresses,
  PortGroup,
  PortId,
  ReplicaSet,
  SessionState,
  Subscription,
  Versioned,
  VolumeListener,
} from './coordinator.js';
import { EtcdSession, type SessionLease } from './etcd-session.js';
import { type KeyValue, rangeRequest, toKeyValue, waitForEvent, watchRange } from './etcd-watch.js';
import { fencingPolicy } from './fencing.js';
import { KeyLayout } from './keys.js';
import {
  aluaValueSchema,
  counterSchema,
  datasetSchema,
  decode,
  decodeJson,
  encode,
  leaderValueSchema,
  nodeAddressesSchema,
  prAppliedSchema,
  revision,
  rtpiRecordSchema,
  seedRecordSchema,
  tpgRecordSchema,
} from './records.js';
import { backoffDelay, etcdFaultOptions, RETRY_POLICY, sleep, toClusterError, withRetry } from './retry.js';
import { StateMachine } from '../util/state-machine.js';
import { TypedEmitter } from './typed-emitter.js';

export interface EtcdCoordinatorOptions extends CoordinatorOptions {
  /** etcd client URLs, e.g. ['http://127.0.0.1:2379']. */
  readonly endpoints: readonly string[];
  /** Key prefix; default `/tandem/<cluster>/`. */
  readonly prefix?: string;
  /** Cluster name for the default prefix. Default 'default'. */
  readonly cluster?: string;
  readonly credentials?: IOptions['credentials'];
  readonly auth?: IOptions['auth'];
  /** Deadline of every unary etcd call. Default RETRY_POLICY.callTimeoutMs. */
  readonly callTimeoutMs?: number;
}

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
  /** Aborted by resign() / close(). */
  stop: AbortController;
  loop: Promise<void> | undefined;
}

const MAX_CAS_ATTEMPTS = 100;

/**
 * The Coordinator on etcd (npm `etcd3`).
 *
 * Election: our own lease + transaction, not etcd3's `Election`/`Campaign`. Reasons: (1) the
 * Campaign's lease tracks keep-alives on the wall clock and reports loss only after 2 × TTL
 * without contact — far too late for self-fencing; we need the send time of the last confirmed
 * keep-alive on the monotonic clock, which only our own keep-alive loop knows. (2) One key per
 * volume, won by `create_revision == 0`, makes the epoch exactly that key's create revision and
 * lets every leader-only write be one transaction guarded by `create_revision == epoch`; Campaign
 * queues candidates (first-come) and hides the revision. (3) The same transaction can later carry
 * the in-sync-set check of safety rule 2 (only an in-sync replica may become primary), which a
 * queue that promotes the next waiter automatically could not.
 */
export class EtcdCoordinator implements Coordinator {
  readonly kind = 'etcd' as const;
  readonly nodeName: string;
  readonly keys: KeyLayout;
  readonly #node: NodeAddresses;
  readonly #logger: Logger;
  readonly #client: Etcd3;
  readonly #session: EtcdSession;
  readonly #events: TypedEmitter<CoordinatorEvents>;
  readonly #elections = new Map<string, VolumeElection>();
  readonly #subscriptions = new Set<Subscription>();
  /** Last reservation revision acknowledged per volume: re-announced on every new lease. */
  readonly #acks = new Map<string, number>();
  #started = false;
  #closed = false;

  constructor(opts: EtcdCoordinatorOptions) {
    if (opts.endpoints.length === 0) {
      throw new TandemError('TANDEM_ERR_CLUSTER_INVALID_ARGUMENT', 'no etcd endpoints');
    }
    nodeAddressesSchema.parse(opts.node);
    this.#node = { ...opts.node, portals: [...opts.node.portals] };
    this.nodeName = opts.node.name;
    this.keys = opts.prefix ? new KeyLayout(opts.prefix) : KeyLayout.forCluster(opts.cluster ?? 'default');
    this.#logger = opts.logger.child({ component: 'cluster', node: this.nodeName });
    const policy = fencingPolicy(opts.leaseTtlSeconds, opts.fenceMarginMs);
    this.#client = new Etcd3({
      hosts: [...opts.endpoints],
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      ...(opts.auth ? { auth: opts.auth } : {}),
      ...etcdFaultOptions(opts.callTimeoutMs),
    });
    this.#events = new TypedEmitter<CoordinatorEvents>(this.#logger);
    this.#session = new EtcdSession(this.#client, policy, this.#logger);
    this.#session.on('state', (e) => this.#events.emit('session', e));
    this.#session.on('fenced', ({ lease, reason }) => this.#onFenced(lease, reason));
    this.#session.on('live', (lease) => this.#onLive(lease));
    this.#logger.info({ prefix: this.keys.prefix, ...policy }, 'etcd coordinator configured');
  }

  on<E extends keyof CoordinatorEvents>(event: E, listener: CoordinatorEvents[E]): () => void {
    return this.#events.on(event, listener);
  }

  /** The fencing window in use (for logs, metrics and tests). */
  get fencing() {
    return this.#session.policy;
  }

  /** Monotonic send time of the last confirmed keep-alive (for tests and metrics). */
  lastConfirmedKeepAliveSentAt(): number {
    return this.#session.clock.lastConfirmedSentAt();
  }

  sessionState(): SessionState {
    return this.#session.state;
  }

  async start(): Promise<void> {
    this.#assertOpen();
    if (this.#started) return;
    this.#started = true;
    this.#session.start();
    for (;;) {
      const lease = await this.#session.waitLive();
      try {
        await this.#register(lease);
        return;
      } catch (err) {
        if (!lease.signal.aborted) throw err; // else: fenced meanwhile, register on the next lease
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const v of this.#elections.values()) {
      v.wanted = false;
      this.#endTerm(v, 'closed', 'closed');
      v.sm.transition(['idle', 'candidate', 'fenced'], 'closed');
      v.stop.abort(new TandemError('TANDEM_ERR_CLUSTER_CLOSED', 'coordinator closed'));
    }
    await Promise.all([...this.#elections.values()].map((v) => v.loop));
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
    this.#subscriptions.clear();
    // Revoking the lease deletes the membership and every election key at once.
    await this.#session.close();
    this.#client.close();
  }

  // ---- membership -----------------------------------------------------------------------------

  async members(): Promise<NodeAddresses[]> {
    const kvs = await this.#list(this.keys.members());
    return kvs.map((kv) => decode(nodeAddressesSchema, kv.key, kv.value)).sort(byName);
  }

  async watchMembers(listener: (members: NodeAddresses[]) => void): Promise<Subscription> {
    const current = new Map<string, NodeAddresses>();
    const deliver = () => listener([...current.values()].sort(byName));
    return this.#watch(this.keys.members(), {
      snapshot: (kvs) => {
        current.clear();
        for (const kv of kvs) current.set(kv.key, decode(nodeAddressesSchema, kv.key, kv.value));
        deliver();
      },
      change: (ev) => {
        if (ev.type === 'delete') current.delete(ev.key);
        else current.set(ev.key, decode(nodeAddressesSchema, ev.key, ev.value));
        deliver();
      },
    });
  }

  async #register(lease: SessionLease): Promise<void> {
    const ops: IRequestOp[] = [put(this.keys.member(this.nodeName), this.#node, lease.id)];
    for (const [volume, rev] of this.#acks) {
      ops.push(put(this.keys.prAppliedBy(volume, this.nodeName), { revision: rev }, lease.id));
    }
    await withRetry('register member', () => this.#client.kv.txn({ compare: [], success: ops }), {
      signal: lease.signal,
      deadlineMs: 60_000,
      logger: this.#logger,
    });
    this.#logger.info({ lease: lease.id, generation: lease.generation }, 'member registered');
  }

  #onLive(lease: SessionLease): void {
    if (lease.generation === 1) return; // start() registers the first one and reports failure.
    this.#register(lease).catch((err: unknown) => {
      if (!lease.signal.aborted) this.#logger.error({ err }, 'member registration failed');
    });
  }

  // ---- identity ---------------------------------------------------------------------------------

  async allocatePortGroup(): Promise<PortGroup> {
    this.#assertOpen();
    const targetPortGroupId = await this.#allocateId(
      this.keys.tpgCounter(),
      this.keys.tpg(this.nodeName),
      tpgRecordSchema,
      (n) => ({ targetPortGroupId: n }),
      (r) => r.targetPortGroupId,
    );
    const ports: PortId[] = [];
    for (const portal of this.#node.portals) {
      const relativePortId = await this.#allocateId(
        this.keys.rtpiCounter(),
        this.keys.rtpi(this.nodeName, portal),
        rtpiRecordSchema,
        (n) => ({ relativePortId: n }),
        (r) => r.relativePortId,
      );
      ports.push({ portal, relativePortId });
    }
    ports.sort((a, b) => a.relativePortId - b.relativePortId);
    return { node: this.nodeName, targetPortGroupId, ports };
  }

  async portGroups(): Promise<PortGroup[]> {
    const res = await withRetry('read port groups', () =>
      this.#client.kv.txn({
        compare: [],
        success: [
          { request_range: rangeRequest({ key: this.keys.tpgs(), prefix: true }) },
          { request_range: rangeRequest({ key: this.keys.rtpis(), prefix: true }) },
        ],
      }),
    );
    const groups = new Map<string, { targetPortGroupId: number; ports: PortId[] }>();
    for (const kv of res.responses[0]!.response_range.kvs.map(toKeyValue)) {
      const [node] = this.keys.rest(this.keys.tpgs(), kv.key);
      const rec = decode(tpgRecordSchema, kv.key, kv.value);
      groups.set(node!, { targetPortGroupId: rec.targetPortGroupId, ports: [] });
    }
    for (const kv of res.responses[1]!.response_range.kvs.map(toKeyValue)) {
      const [node, portal] = this.keys.rest(this.keys.rtpis(), kv.key);
      const rec = decode(rtpiRecordSchema, kv.key, kv.value);
      groups.get(node!)?.ports.push({ portal: portal!, relativePortId: rec.relativePortId });
    }
    return [...groups]
      .map(([node, g]) => ({
        node,
        targetPortGroupId: g.targetPortGroupId,
        ports: g.ports.sort((a, b) => a.relativePortId - b.relativePortId),
      }))
      .sort((a, b) => a.targetPortGroupId - b.targetPortGroupId);
  }

  async volumeSeed(volume: string, proposal?: string): Promise<string> {
    this.#assertOpen();
    const key = this.keys.seed(volume);
    const seed = proposal ?? randomBytes(16).toString('hex');
    const res = await withRetry('volume seed', () =>
      this.#client.kv.txn({
        compare: [absent(key)],
        success: [put(key, { seed })],
        failure: [{ request_range: { key: Buffer.from(key) } }],
      }),
    );
    if (res.succeeded) {
      this.#logger.info({ volume, seed }, 'volume identity seed created');
      return seed;
    }
    const kv = res.responses[0]!.response_range.kvs[0]!;
    return decode(seedRecordSchema, key, kv.value).seed;
  }

  /**
   * Allocates a number once: if `idKey` exists, its number; else the counter's next value, taken
   * in one transaction that also requires the counter unchanged since read (CAS on its mod
   * revision) and `idKey` still absent. Numbers are never reused.
   */
  async #allocateId<R>(
    counterKey: string,
    idKey: string,
    schema: z.ZodType<R>,
    make: (n: number) => R,
    numberOf: (r: R) => number,
  ): Promise<number> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const read = await withRetry('read id', () =>
        this.#client.kv.txn({
          compare: [],
          success: [
            { request_range: { key: Buffer.from(idKey) } },
            { request_range: { key: Buffer.from(counterKey) } },
          ],
        }),
      );
      const existing = read.responses[0]!.response_range.kvs[0];
      if (existing) return numberOf(decode(schema, idKey, existing.value));
      const counter = read.responses[1]!.response_range.kvs[0];
      const next = counter ? decode(counterSchema, counterKey, counter.value).next : 1;
      const counterMod = counter ? revision(counter.mod_revision) : 0;
      if (next > 65535) {
        throw new TandemError(
          'TANDEM_ERR_CLUSTER_IDS_EXHAUSTED',
          `${counterKey}: every id 1..65535 is taken`,
        );
      }
      const res = await withRetry('allocate id', () =>
        this.#client.kv.txn({
          compare: [
            absent(idKey),
            { key: Buffer.from(counterKey), target: 'Mod', result: 'Equal', mod_revision: counterMod },
          ],
          success: [put(idKey, make(next)), put(counterKey, { next: next + 1 })],
        }),
      );
      if (res.succeeded) {
        this.#logger.info({ key: idKey, id: next }, 'cluster id allocated');
        return next;
      }
    }
    throw new TandemError('TANDEM_ERR_CLUSTER_CONFLICT', `${idKey}: allocation kept losing races`, {
      retryable: true,
    });
  }

  // ---- election ----------------------------------------------------------------------------------

  campaign(volume: string, options: CampaignOptions = {}): void {
    this.#assertOpen();
    let v = this.#elections.get(volume);
    if (!v) {
      this.keys.leader(volume); // validates the name
      const created: VolumeElection = {
        volume,
        sm: new StateMachine<ElectionRole>('election', 'idle', this.#logger.child({ volume })),
        wanted: false,
        epoch: undefined,
        requireInSync: false,
        generation: 0,
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

  async resign(volume: string): Promise<void> {
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
    if (wasLeader && epoch !== undefined) await this.#releaseKey(this.keys.leader(volume), epoch);
    v.epoch = undefined;
  }

  /** Deletes the election key if it is still the incarnation created at `epoch`. Best effort. */
  async #releaseKey(key: string, epoch: number): Promise<void> {
    try {
      await this.#client.kv.txn({
        compare: [leaderGuard(key, epoch)],
        success: [{ request_delete_range: { key: Buffer.from(key) } }],
      });
    } catch (err) {
      this.#logger.warn({ err, key, epoch }, 'could not delete the election key; it goes with the lease');
    }
  }

  role(volume: string): ElectionRole {
    if (this.#closed) return 'closed';
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

  async leader(volume: string): Promise<LeaderRecord | undefined> {
    const key = this.keys.leader(volume);
    const res = await withRetry('read leader', () => this.#client.kv.range({ key: Buffer.from(key) }));
    const kv = res.kvs[0];
    return kv ? leaderRecord(volume, toKeyValue(kv)) : undefined;
  }

  async watchLeader(
    volume: string,
    listener: (leader: LeaderRecord | undefined) => void,
  ): Promise<Subscription> {
    const key = this.keys.leader(volume);
    return this.#watch(
      key,
      {
        snapshot: (kvs) => listener(kvs[0] ? leaderRecord(volume, kvs[0]) : undefined),
        change: (ev) => listener(ev.type === 'delete' ? undefined : leaderRecord(volume, ev)),
      },
      false,
    );
  }

  async #campaignLoop(v: VolumeElection, stop: AbortSignal): Promise<void> {
    const key = this.keys.leader(v.volume);
    let attempt = 0;
    while (!stop.aborted && !this.#closed) {
      let lease: SessionLease;
      try {
        lease = await this.#session.waitLive(stop);
      } catch {
        break;
      }
      v.sm.transition(['fenced'], 'candidate');
      const signal = AbortSignal.any([lease.signal, stop]);
      try {
        const inSyncKey = this.keys.inSyncMember(v.volume, this.nodeName);
        // Safety rule 2: only a member of the in-sync set may become primary, checked in the
        // same transaction that takes the key (the primary removes a member with a txn guarded
        // by its key, so the two can never both succeed).
        const compare = v.requireInSync ? [absent(key), present(inSyncKey)] : [absent(key)];
        const res = await withRetry(
          'campaign',
          () =>
            this.#client.kv.txn({
              compare,
              success: [put(key, { node: this.nodeName, lease: lease.id }, lease.id)],
              failure: [{ request_range: { key: Buffer.from(key) } }],
            }),
          { signal },
        );
        const headerRev = revision(res.header.revision);
        let epoch: number | undefined;
        if (res.succeeded) {
          epoch = headerRev; // the put happened at this revision: the key's create revision
        } else {
          const kv = res.responses[0]!.response_range.kvs[0];
          if (kv) {
            const holder = decode(leaderValueSchema, key, kv.value);
            // Our own key from an earlier attempt of this very txn whose answer was lost.
            if (holder.node === this.nodeName && holder.lease === lease.id)
              epoch = revision(kv.create_revision);
          }
        }
        if (epoch === undefined && res.responses[0]!.response_range.kvs.length === 0) {
          // No primary, and this node is not in the in-sync set: it holds stale data and must
          // not serve it. Wait for the set or the key to change (a returning primary resyncs us).
          if (!v.staleLogged) {
            v.staleLogged = true;
            this.#logger.warn(
              { volume: v.volume },
              'not in the in-sync set and no primary: waiting for an in-sync replica to return',
            );
          }
          await waitForEvent(
            this.#client,
            { key: this.keys.inSync(v.volume), prefix: true },
            headerRev + 1,
            () => true,
            AbortSignal.any([signal, AbortSignal.timeout(2000)]),
          );
          continue;
        }
        v.staleLogged = false;
        if (epoch === undefined) {
          // Someone else leads: wait until the key is deleted (lease expiry, resignation).
          const outcome = await waitForEvent(
            this.#client,
            { key },
            headerRev + 1,
            (ev) => ev.type === 'delete',
            signal,
          );
          if (outcome === 'error')
            throw new TandemError('TANDEM_ERR_CLUSTER_UNAVAILABLE', 'election watch cancelled', {
              retryable: true,
            });
          attempt = 0;
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
          if (!v.sm.transition(['candidate'], 'leader', { epoch, lease: lease.id })) continue;
          this.#events.emit('leadershipAcquired', { volume: v.volume, epoch });
        }
        // Hold it until the term ends: fencing (session), resign/close, or the key goes away.
        const outcome = await waitForEvent(
          this.#client,
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
          const now = await withRetry('read leader', () => this.#client.kv.range({ key: Buffer.from(key) }), {
            signal,
          });
          const kv = now.kvs[0];
          if (!kv || revision(kv.create_revision) !== epoch) this.#endTerm(v, gone(), 'fenced');
          else continue; // still ours: hold again (the loop re-enters through the adopt path)
        }
        attempt = 0;
      } catch (err) {
        if (signal.aborted) continue;
        const delay = backoffDelay(attempt++);
        this.#logger.warn(
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

  // ---- ALUA -----------------------------------------------------------------------------------------

  async publishAlua(
    volume: string,
    epoch: number,
    groups: readonly { targetPortGroupId: number; state: AluaState }[],
  ): Promise<AluaSnapshot> {
    this.#assertOpen();
    const v = this.#elections.get(volume);
    if (!v || v.epoch !== epoch || !this.canServeWrites(volume)) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_NOT_LEADER',
        `${volume}: not the primary with epoch ${epoch}`,
      );
    }
    const value = aluaValueSchema.parse({
      epoch,
      primary: this.nodeName,
      groups: [...groups].sort((a, b) => a.targetPortGroupId - b.targetPortGroupId),
    });
    const res = await withRetry('publish ALUA', () =>
      this.#client.kv.txn({
        compare: [leaderGuard(this.keys.leader(volume), epoch)],
        success: [put(this.keys.alua(volume), value)],
      }),
    );
    if (!res.succeeded) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_NOT_LEADER',
        `${volume}: election key with epoch ${epoch} is gone`,
      );
    }
    return { volume, ...value, revision: revision(res.header.revision) };
  }

  async readAlua(volume: string): Promise<AluaSnapshot | undefined> {
    const kv = await this.#get(this.keys.alua(volume));
    return kv ? aluaSnapshot(volume, kv) : undefined;
  }

  async watchAlua(listener: VolumeListener<AluaSnapshot>): Promise<Subscription> {
    return this.#watchVolumes(this.keys.aluas(), (volume, kv) => aluaSnapshot(volume, kv), listener);
  }

  // ---- replicated volumes ----------------------------------------------------------------------------

  async era(): Promise<string> {
    const key = this.keys.era();
    const proposal = randomBytes(12).toString('hex');
    const res = await withRetry('era', () =>
      this.#client.kv.txn({
        compare: [absent(key)],
        success: [put(key, { id: proposal })],
        failure: [{ request_range: { key: Buffer.from(key) } }],
      }),
    );
    if (res.succeeded) return proposal;
    const kv = res.responses[0]!.response_range.kvs[0];
    return kv ? decode(datasetSchema, key, kv.value).id : proposal;
  }

  async createReplicaSet(volume: string, dataset: string): Promise<boolean> {
    this.#assertOpen();
    const key = this.keys.dataset(volume);
    const res = await withRetry('create replica set', () =>
      this.#client.kv.txn({
        compare: [absent(key)],
        success: [
          put(key, { id: dataset }),
          put(this.keys.inSyncMember(volume, this.nodeName), { epoch: 0 }),
        ],
        failure: [{ request_range: { key: Buffer.from(key) } }],
      }),
    );
    if (res.succeeded) return true;
    // A retried txn whose first answer was lost finds its own dataset id.
    const kv = res.responses[0]!.response_range.kvs[0];
    return kv !== undefined && decode(datasetSchema, key, kv.value).id === dataset;
  }

  async readReplicaSet(volume: string): Promise<ReplicaSet> {
    const res = await withRetry('read replica set', () =>
      this.#client.kv.txn({
        compare: [],
        success: [
          { request_range: { key: Buffer.from(this.keys.dataset(volume)) } },
          { request_range: rangeRequest({ key: this.keys.inSync(volume), prefix: true }) },
        ],
      }),
    );
    const ds = res.responses[0]!.response_range.kvs[0];
    const members = res.responses[1]!.response_range.kvs.map(
      (kv) => this.keys.rest(this.keys.inSync(volume), kv.key.toString())[0]!,
    );
    return {
      dataset: ds ? decode(datasetSchema, this.keys.dataset(volume), ds.value).id : undefined,
      inSync: members.sort(),
    };
  }

  async watchReplicaSets(listener: VolumeListener<ReplicaSet>): Promise<Subscription> {
    // Any change under insync/ or datasets/ re-reads that volume's set (few, small keys).
    const base = this.keys.inSyncAll();
    const datasets = `${this.keys.prefix}datasets/`;
    // One read at a time per volume, in event order: a later read never reports older state.
    const chains = new Map<string, Promise<void>>();
    const reread = (volume: string, rev: number) => {
      const next = (chains.get(volume) ?? Promise.resolve()).then(() =>
        this.readReplicaSet(volume).then(
          (set) => listener(volume, set.dataset || set.inSync.length > 0 ? set : undefined, rev),
          (err: unknown) => this.#logger.warn({ err, volume }, 'reading a replica set failed'),
        ),
      );
      chains.set(volume, next);
    };
    const volumes = (kvs: readonly KeyValue[], b: string) =>
      new Set(kvs.map((kv) => this.keys.rest(b, kv.key)[0]!));
    const a = await this.#watch(base, {
      snapshot: (kvs, rev) => {
        for (const v of volumes(kvs, base)) reread(v, rev);
      },
      change: (ev, rev) => reread(this.keys.rest(base, ev.key)[0]!, rev),
    });
    const b = await this.#watch(datasets, {
      snapshot: (kvs, rev) => {
        for (const v of volumes(kvs, datasets)) reread(v, rev);
      },
      change: (ev, rev) => reread(this.keys.rest(datasets, ev.key)[0]!, rev),
    });
    return {
      close: async () => {
        await a.close();
        await b.close();
      },
    };
  }

  async setInSync(volume: string, epoch: number, node: string, inSync: boolean): Promise<void> {
    this.#assertOpen();
    const member = this.keys.inSyncMember(volume, node);
    const res = await withRetry(`${inSync ? 'add to' : 'remove from'} in-sync set`, () =>
      this.#client.kv.txn({
        compare: [leaderGuard(this.keys.leader(volume), epoch)],
        success: [inSync ? put(member, { epoch }) : { request_delete_range: { key: Buffer.from(member) } }],
      }),
    );
    if (!res.succeeded) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_NOT_LEADER',
        `${volume}: election key with epoch ${epoch} is gone; in-sync set unchanged`,
      );
    }
    this.#logger.info({ volume, node, inSync, epoch }, inSync ? 'replica in sync' : 'replica out of sync');
  }

  async leaveInSync(volume: string): Promise<void> {
    this.#assertOpen();
    const key = this.keys.inSyncMember(volume, this.nodeName);
    await withRetry('leave in-sync set', () =>
      this.#client.kv.txn({ compare: [], success: [{ request_delete_range: { key: Buffer.from(key) } }] }),
    );
    this.#logger.warn({ volume }, 'left the in-sync set: this replica must be resynced');
  }

  async deleteReplicaSet(volume: string): Promise<void> {
    await withRetry('delete replica set', () =>
      this.#client.kv.txn({
        compare: [],
        success: [
          { request_delete_range: { key: Buffer.from(this.keys.dataset(volume)) } },
          { request_delete_range: rangeRequest({ key: this.keys.inSync(volume), prefix: true }) },
        ],
      }),
    );
  }

  // ---- persistent reservations ------------------------------------------------------------------------

  async readReservations(volume: string): Promise<Versioned<JsonValue>> {
    const key = this.keys.reservation(volume);
    const kv = await this.#get(key);
    return kv
      ? { value: decodeJson(key, kv.value), revision: kv.modRevision }
      : { value: undefined, revision: 0 };
  }

  async compareAndSetReservations(
    volume: string,
    expectedRevision: number,
    value: JsonValue,
  ): Promise<CasResult<JsonValue>> {
    this.#assertOpen();
    const key = this.keys.reservation(volume);
    // Retrying is safe: if a first attempt applied but its answer was lost, the retry fails the
    // compare and reports a conflict whose `current` holds our own value; the caller re-reads.
    const res = await withRetry('reservations CAS', () =>
      this.#client.kv.txn({
        compare: [{ key: Buffer.from(key), target: 'Mod', result: 'Equal', mod_revision: expectedRevision }],
        success: [put(key, value)],
        failure: [{ request_range: { key: Buffer.from(key) } }],
      }),
    );
    if (res.succeeded) return { ok: true, revision: revision(res.header.revision) };
    const kv = res.responses[0]!.response_range.kvs[0];
    return {
      ok: false,
      current: kv
        ? { value: decodeJson(key, kv.value), revision: revision(kv.mod_revision) }
        : { value: undefined, revision: 0 },
    };
  }

  async watchReservations(listener: VolumeListener<JsonValue>): Promise<Subscription> {
    return this.#watchVolumes(
      this.keys.reservations(),
      (_volume, kv) => decodeJson(kv.key, kv.value),
      listener,
    );
  }

  async acknowledgeReservations(volume: string, rev: number): Promise<void> {
    this.#assertOpen();
    // Remembered: re-announced on every new lease, so a re-registered node stays acknowledged.
    this.#acks.set(volume, Math.max(rev, this.#acks.get(volume) ?? 0));
    const lease = await this.#session.waitLive(AbortSignal.timeout(RETRY_POLICY.deadlineMs));
    await withRetry(
      'acknowledge reservations',
      () =>
        this.#client.kv.txn({
          compare: [],
          success: [
            put(
              this.keys.prAppliedBy(volume, this.nodeName),
              { revision: this.#acks.get(volume)! },
              lease.id,
            ),
          ],
        }),
      { signal: lease.signal },
    );
  }

  async awaitReservationsApplied(
    volume: string,
    rev: number,
    nodes: readonly string[],
    timeoutMs: number,
  ): Promise<{ applied: string[]; missing: string[] }> {
    const timeout = AbortSignal.timeout(timeoutMs);
    for (;;) {
      const res = await withRetry('read reservation acks', () =>
        this.#client.kv.txn({
          compare: [],
          success: [
            { request_range: rangeRequest({ key: this.keys.members(), prefix: true }) },
            { request_range: rangeRequest({ key: this.keys.prApplied(volume), prefix: true }) },
          ],
        }),
      );
      const live = new Set(
        res.responses[0]!.response_range.kvs.map(
          (kv) => this.keys.rest(this.keys.members(), kv.key.toString())[0]!,
        ),
      );
      const acked = new Map<string, number>();
      for (const kv of res.responses[1]!.response_range.kvs.map(toKeyValue)) {
        const [node] = this.keys.rest(this.keys.prApplied(volume), kv.key);
        acked.set(node!, decode(prAppliedSchema, kv.key, kv.value).revision);
      }
      const applied: string[] = [];
      const missing: string[] = [];
      for (const node of nodes) {
        if ((acked.get(node) ?? 0) >= rev) applied.push(node);
        else if (live.has(node)) missing.push(node);
        // else: its session lease expired, so it fenced itself before that (safety rule 4).
      }
      if (missing.length === 0 || timeout.aborted) return { applied, missing };
      const from = revision(res.header.revision) + 1;
      const watchers = new AbortController();
      const signal = AbortSignal.any([timeout, watchers.signal]);
      await Promise.race([
        waitForEvent(this.#client, { key: this.keys.members(), prefix: true }, from, () => true, signal),
        waitForEvent(
          this.#client,
          { key: this.keys.prApplied(volume), prefix: true },
          from,
          () => true,
          signal,
        ),
      ]);
      watchers.abort();
    }
  }

  // ---- configuration ------------------------------------------------------------------------------------

  async readConfig(): Promise<{ revision: number; entries: ConfigEntry[] }> {
    const res = await withRetry('read config', () =>
      this.#client.kv.range(rangeRequest({ key: this.keys.config(), prefix: true })),
    );
    const entries = res.kvs.map(toKeyValue).flatMap((kv) => this.#configEntry(kv));
    return { revision: revision(res.header.revision), entries };
  }

  async putConfig(
    kind: ConfigKind,
    name: string,
    value: JsonValue,
    expectedRevision?: number,
  ): Promise<number> {
    this.#assertOpen();
    const key = this.keys.configKey(kind, name);
    const compare: ICompare[] =
      expectedRevision === undefined
        ? []
        : [{ key: Buffer.from(key), target: 'Mod', result: 'Equal', mod_revision: expectedRevision }];
    const res = await withRetry('put config', () =>
      this.#client.kv.txn({ compare, success: [put(key, value)] }),
    );
    if (!res.succeeded) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_CONFLICT',
        `${kind}/${name} changed since revision ${expectedRevision}`,
      );
    }
    return revision(res.header.revision);
  }

  async deleteConfig(kind: ConfigKind, name: string, expectedRevision?: number): Promise<boolean> {
    this.#assertOpen();
    const key = this.keys.configKey(kind, name);
    const compare: ICompare[] =
      expectedRevision === undefined
        ? []
        : [{ key: Buffer.from(key), target: 'Mod', result: 'Equal', mod_revision: expectedRevision }];
    const res: ITxnResponse = await withRetry('delete config', () =>
      this.#client.kv.txn({ compare, success: [{ request_delete_range: { key: Buffer.from(key) } }] }),
    );
    if (!res.succeeded) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_CONFLICT',
        `${kind}/${name} changed since revision ${expectedRevision}`,
      );
    }
    return Number(res.responses[0]!.response_delete_range.deleted) > 0;
  }

  async replaceConfig(
    entries: readonly { kind: ConfigKind; name: string; value: JsonValue }[],
    expectedRevision?: number,
  ): Promise<number> {
    this.#assertOpen();
    const current = await this.readConfig();
    const wanted = new Map(entries.map((e) => [this.keys.configKey(e.kind, e.name), e.value]));
    const ops: IRequestOp[] = [];
    for (const e of current.entries) {
      const key = this.keys.configKey(e.kind, e.name);
      if (!wanted.has(key)) ops.push({ request_delete_range: { key: Buffer.from(key) } });
    }
    for (const [key, value] of wanted) ops.push(put(key, value));
    // Nothing under config/ may have changed since the caller read it (nor since we did).
    const since = Math.min(expectedRevision ?? current.revision, current.revision);
    const range = rangeRequest({ key: this.keys.config(), prefix: true });
    const compare: ICompare[] = [
      { key: range.key, range_end: range.range_end, target: 'Mod', result: 'Less', mod_revision: since + 1 },
    ];
    const res = await withRetry('replace config', () => this.#client.kv.txn({ compare, success: ops }));
    if (!res.succeeded) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_CONFLICT',
        `the configuration changed after revision ${since}; read it again and retry`,
      );
    }
    return revision(res.header.revision);
  }

  async watchConfig(listener: (event: ConfigEvent) => void): Promise<Subscription> {
    return this.#watch(this.keys.config(), {
      snapshot: (kvs, rev) =>
        listener({ type: 'snapshot', revision: rev, entries: kvs.flatMap((kv) => this.#configEntry(kv)) }),
      change: (ev, rev) => {
        const id = this.keys.parseConfigKey(ev.key);
        if (!id) return;
        if (ev.type === 'delete') listener({ type: 'delete', revision: rev, kind: id.kind, name: id.name });
        else {
          const [entry] = this.#configEntry(ev);
          if (entry) listener({ type: 'put', revision: rev, entry });
        }
      },
    });
  }

  #configEntry(kv: KeyValue): ConfigEntry[] {
    const id = this.keys.parseConfigKey(kv.key);
    if (!id) {
      this.#logger.warn({ key: kv.key }, 'ignoring a key under config/ that Tandem did not write');
      return [];
    }
    return [{ ...id, value: decodeJson(kv.key, kv.value), revision: kv.modRevision }];
  }

  // ---- plumbing ------------------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed) throw new TandemError('TANDEM_ERR_CLUSTER_CLOSED', 'the coordinator is closed');
  }

  async #get(key: string): Promise<KeyValue | undefined> {
    const res = await withRetry(`get ${key}`, () => this.#client.kv.range({ key: Buffer.from(key) }));
    const kv = res.kvs[0];
    return kv ? toKeyValue(kv) : undefined;
  }

  async #list(prefix: string): Promise<KeyValue[]> {
    const res = await withRetry(`list ${prefix}`, () =>
      this.#client.kv.range(rangeRequest({ key: prefix, prefix: true })),
    );
    return res.kvs.map(toKeyValue);
  }

  async #watch(
    key: string,
    handlers: Parameters<typeof watchRange>[2],
    prefix = true,
  ): Promise<Subscription> {
    this.#assertOpen();
    const sub = await watchRange(this.#client, { key, prefix }, handlers, this.#logger);
    this.#subscriptions.add(sub);
    return {
      close: async () => {
        this.#subscriptions.delete(sub);
        await sub.close();
      },
    };
  }

  /** A prefix of one key per volume, delivered per volume; a re-list reports vanished ones. */
  async #watchVolumes<T>(
    base: string,
    parse: (volume: string, kv: KeyValue) => T,
    listener: VolumeListener<T>,
  ): Promise<Subscription> {
    const known = new Set<string>();
    const volumeOf = (key: string) => this.keys.rest(base, key)[0]!;
    return this.#watch(base, {
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
    });
  }
}

function byName(a: NodeAddresses, b: NodeAddresses): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function put(key: string, value: unknown, lease?: string): IRequestOp {
  return { request_put: { key: Buffer.from(key), value: encode(value), ...(lease ? { lease } : {}) } };
}

function absent(key: string): ICompare {
  return { key: Buffer.from(key), target: 'Create', result: 'Equal', create_revision: 0 };
}

function present(key: string): ICompare {
  return { key: Buffer.from(key), target: 'Create', result: 'Greater', create_revision: 0 };
}

/** The leader-only guard: the election key still exists with the caller's epoch. */
function leaderGuard(leaderKey: string, epoch: number): ICompare {
  return { key: Buffer.from(leaderKey), target: 'Create', result: 'Equal', create_revision: epoch };
}

function leaderRecord(volume: string, kv: KeyValue): LeaderRecord {
  const v = decode(leaderValueSchema, kv.key, kv.value);
  return { volume, node: v.node, epoch: kv.createRevision };
}

function aluaSnapshot(volume: string, kv: KeyValue): AluaSnapshot {
  const v = decode(aluaValueSchema, kv.key, kv.value);
  return { volume, ...v, revision: kv.modRevision };
}
