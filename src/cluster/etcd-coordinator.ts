import { Etcd3, type IOptions } from 'etcd3';
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
  DataClaim,
  ElectionRole,
  JsonValue,
  LeaderRecord,
  NodeAddresses,
  PortGroup,
  ReplicaSet,
  ResignOptions,
  SessionState,
  Subscription,
  Versioned,
  VolumeListener,
} from './coordinator.js';
import { EtcdAlua } from './etcd-alua.js';
import { EtcdConfig } from './etcd-config.js';
import { EtcdElection } from './etcd-election.js';
import { EtcdIdentity } from './etcd-identity.js';
import { EtcdKv } from './etcd-kv.js';
import { EtcdMembership } from './etcd-membership.js';
import { EtcdModePages } from './etcd-mode-pages.js';
import type { EtcdPartContext } from './etcd-part.js';
import { EtcdReplicaSets } from './etcd-replica-sets.js';
import { EtcdReservations } from './etcd-reservations.js';
import { etcdFaultOptions } from './etcd-retry.js';
import { EtcdSession, type SessionLease } from './etcd-session.js';
import { fencingPolicy } from './fencing.js';
import { KeyLayout } from './keys.js';
import { nodeAddressesSchema } from './records.js';
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

/**
 * The Coordinator on etcd (npm `etcd3`): one session lease (etcd-session.ts) and one KV layer
 * (etcd-kv.ts) shared by one part per concern — membership, identity, election (etcd-election.ts
 * says why it is not etcd3's Election), ALUA, replica sets, reservations, configuration. This
 * class only builds them, runs start/close, and answers the Coordinator interface through them.
 */
export class EtcdCoordinator implements Coordinator {
  readonly kind = 'etcd' as const;
  readonly nodeName: string;
  readonly keys: KeyLayout;
  readonly #logger: Logger;
  readonly #kv: EtcdKv;
  readonly #session: EtcdSession;
  readonly #events: TypedEmitter<CoordinatorEvents>;
  readonly #membership: EtcdMembership;
  readonly #identity: EtcdIdentity;
  readonly #election: EtcdElection;
  readonly #alua: EtcdAlua;
  readonly #replicaSets: EtcdReplicaSets;
  readonly #reservations: EtcdReservations;
  readonly #config: EtcdConfig;
  readonly #modePages: EtcdModePages;
  #started = false;

  constructor(opts: EtcdCoordinatorOptions) {
    if (opts.endpoints.length === 0) {
      throw new TandemError('TANDEM_ERR_CLUSTER_INVALID_ARGUMENT', 'no etcd endpoints');
    }
    nodeAddressesSchema.parse(opts.node);
    const node: NodeAddresses = { ...opts.node, portals: [...opts.node.portals] };
    this.nodeName = opts.node.name;
    this.keys = opts.prefix ? new KeyLayout(opts.prefix) : KeyLayout.forCluster(opts.cluster ?? 'default');
    this.#logger = opts.logger.child({ component: 'cluster', node: this.nodeName });
    const policy = fencingPolicy(opts.leaseTtlSeconds, opts.fenceMarginMs);
    const client = new Etcd3({
      hosts: [...opts.endpoints],
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      ...(opts.auth ? { auth: opts.auth } : {}),
      ...etcdFaultOptions(opts.callTimeoutMs),
    });
    this.#kv = new EtcdKv(client, this.#logger);
    const ctx: EtcdPartContext = {
      kv: this.#kv,
      keys: this.keys,
      nodeName: this.nodeName,
      logger: this.#logger,
    };
    this.#events = new TypedEmitter<CoordinatorEvents>(this.#logger);
    this.#session = new EtcdSession(client, policy, this.#logger);
    this.#session.on('state', (e) => this.#events.emit('session', e));
    // The election subscribes to the session's 'fenced' here: terms end before anyone else hears.
    this.#election = new EtcdElection(ctx, this.#session, this.#events);
    this.#session.on('live', (lease) => this.#onLive(lease));
    this.#membership = new EtcdMembership(ctx, node);
    this.#identity = new EtcdIdentity(ctx, node);
    this.#alua = new EtcdAlua(ctx, this.#election);
    this.#replicaSets = new EtcdReplicaSets(ctx);
    this.#reservations = new EtcdReservations(ctx, this.#session);
    this.#config = new EtcdConfig(ctx);
    this.#modePages = new EtcdModePages(ctx);
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
    this.#kv.assertOpen();
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
    if (this.#kv.closed) return;
    this.#kv.markClosed();
    await this.#election.closeAll();
    await this.#kv.closeWatches();
    // Revoking the lease deletes the membership and every election key at once.
    await this.#session.close();
    this.#kv.closeClient();
  }

  #register(lease: SessionLease): Promise<void> {
    return this.#membership.register(lease, this.#reservations.announcements(lease.id));
  }

  #onLive(lease: SessionLease): void {
    if (lease.generation === 1) return; // start() registers the first one and reports failure.
    this.#register(lease).catch((err: unknown) => {
      if (!lease.signal.aborted) this.#logger.error({ err }, 'member registration failed');
    });
  }

  // ---- membership ----------------------------------------------------------------------------
  members(): Promise<NodeAddresses[]> {
    return this.#membership.members();
  }
  watchMembers(listener: (members: NodeAddresses[]) => void): Promise<Subscription> {
    return this.#membership.watchMembers(listener);
  }

  // ---- identity ------------------------------------------------------------------------------
  allocatePortGroup(): Promise<PortGroup> {
    return this.#identity.allocatePortGroup();
  }
  portGroups(): Promise<PortGroup[]> {
    return this.#identity.portGroups();
  }
  volumeSeed(volume: string, proposal?: string): Promise<string> {
    return this.#identity.volumeSeed(volume, proposal);
  }

  // ---- election ------------------------------------------------------------------------------
  campaign(volume: string, options?: CampaignOptions): void {
    this.#election.campaign(volume, options);
  }
  resign(volume: string, options?: ResignOptions): Promise<void> {
    return this.#election.resign(volume, options);
  }
  role(volume: string): ElectionRole {
    return this.#election.role(volume);
  }
  epoch(volume: string): number | undefined {
    return this.#election.epoch(volume);
  }
  canServeWrites(volume: string): boolean {
    return this.#election.canServeWrites(volume);
  }
  leader(volume: string): Promise<LeaderRecord | undefined> {
    return this.#election.leader(volume);
  }
  watchLeader(volume: string, listener: (leader: LeaderRecord | undefined) => void): Promise<Subscription> {
    return this.#election.watchLeader(volume, listener);
  }

  // ---- ALUA ----------------------------------------------------------------------------------
  publishAlua(
    volume: string,
    epoch: number,
    groups: readonly { targetPortGroupId: number; state: AluaState }[],
  ): Promise<AluaSnapshot> {
    return this.#alua.publishAlua(volume, epoch, groups);
  }
  readAlua(volume: string): Promise<AluaSnapshot | undefined> {
    return this.#alua.readAlua(volume);
  }
  watchAlua(listener: VolumeListener<AluaSnapshot>): Promise<Subscription> {
    return this.#alua.watchAlua(listener);
  }

  // ---- replicated volumes --------------------------------------------------------------------
  era(): Promise<string> {
    return this.#replicaSets.era();
  }
  createReplicaSet(volume: string, dataset: string): Promise<boolean> {
    return this.#replicaSets.createReplicaSet(volume, dataset);
  }
  readReplicaSet(volume: string): Promise<ReplicaSet> {
    return this.#replicaSets.readReplicaSet(volume);
  }
  watchReplicaSets(listener: VolumeListener<ReplicaSet>): Promise<Subscription> {
    return this.#replicaSets.watchReplicaSets(listener);
  }
  setInSync(volume: string, epoch: number, node: string, inSync: boolean): Promise<void> {
    return this.#replicaSets.setInSync(volume, epoch, node, inSync);
  }
  leaveInSync(volume: string): Promise<void> {
    return this.#replicaSets.leaveInSync(volume);
  }
  deleteReplicaSet(volume: string): Promise<void> {
    return this.#replicaSets.deleteReplicaSet(volume);
  }
  publishDataClaim(volume: string, claim: DataClaim): Promise<void> {
    return this.#replicaSets.publishDataClaim(volume, claim);
  }
  readDataClaims(volume: string): Promise<ReadonlyMap<string, DataClaim>> {
    return this.#replicaSets.readDataClaims(volume);
  }

  // ---- persistent reservations ---------------------------------------------------------------
  readReservations(volume: string): Promise<Versioned<JsonValue>> {
    return this.#reservations.readReservations(volume);
  }
  compareAndSetReservations(
    volume: string,
    expectedRevision: number,
    value: JsonValue,
  ): Promise<CasResult<JsonValue>> {
    return this.#reservations.compareAndSetReservations(volume, expectedRevision, value);
  }
  watchReservations(listener: VolumeListener<JsonValue>): Promise<Subscription> {
    return this.#reservations.watchReservations(listener);
  }
  acknowledgeReservations(volume: string, revision: number): Promise<void> {
    return this.#reservations.acknowledgeReservations(volume, revision);
  }
  awaitReservationsApplied(
    volume: string,
    revision: number,
    nodes: readonly string[],
    timeoutMs: number,
  ): Promise<{ applied: string[]; missing: string[] }> {
    return this.#reservations.awaitReservationsApplied(volume, revision, nodes, timeoutMs);
  }

  // ---- mode parameters ----------------------------------------------------------------------
  readModeParameters(volume: string): Promise<Versioned<JsonValue>> {
    return this.#modePages.readModeParameters(volume);
  }
  putModeParameters(volume: string, value: JsonValue): Promise<number> {
    return this.#modePages.putModeParameters(volume, value);
  }
  watchModeParameters(listener: VolumeListener<JsonValue>): Promise<Subscription> {
    return this.#modePages.watchModeParameters(listener);
  }

  // ---- desired configuration -----------------------------------------------------------------
  readConfig(): Promise<{ revision: number; entries: ConfigEntry[] }> {
    return this.#config.readConfig();
  }
  putConfig(kind: ConfigKind, name: string, value: JsonValue, expectedRevision?: number): Promise<number> {
    return this.#config.putConfig(kind, name, value, expectedRevision);
  }
  deleteConfig(kind: ConfigKind, name: string, expectedRevision?: number): Promise<boolean> {
    return this.#config.deleteConfig(kind, name, expectedRevision);
  }
  watchConfig(listener: (event: ConfigEvent) => void): Promise<Subscription> {
    return this.#config.watchConfig(listener);
  }
  replaceConfig(
    entries: readonly { kind: ConfigKind; name: string; value: JsonValue }[],
    expectedRevision?: number,
  ): Promise<number> {
    return this.#config.replaceConfig(entries, expectedRevision);
  }
}
