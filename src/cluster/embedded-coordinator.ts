import type { Logger } from '../util/logger.js';
import { StateMachine } from '../util/state-machine.js';
import type {
  AluaSnapshot,
  AluaState,
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
  SessionState,
  Subscription,
  Versioned,
  VolumeListener,
} from './coordinator.js';
import { EmbeddedAlua } from './embedded-alua.js';
import { type BootstrapEntries, EmbeddedConfig } from './embedded-config.js';
import { EmbeddedElection } from './embedded-election.js';
import { EmbeddedIdentity } from './embedded-identity.js';
import { EmbeddedModePages } from './embedded-mode-pages.js';
import { EmbeddedReplicaSets } from './embedded-replica-sets.js';
import { EmbeddedReservations } from './embedded-reservations.js';
import { EmbeddedStore } from './embedded-store.js';
import { nodeAddressesSchema } from './records.js';
import { TypedEmitter } from './typed-emitter.js';

export { EMBEDDED_EPOCH } from './embedded-store.js';

export interface EmbeddedCoordinatorOptions extends CoordinatorOptions {
  /**
   * Where the desired configuration persists (JSON, replaced durably on every change). Absent:
   * in memory only. A node restarted on the same file serves what it served before.
   */
  readonly configFile?: string;
  /** The first start's configuration (the node file's targets and LUNs): used only while `configFile` does not exist yet. */
  readonly bootstrap?: BootstrapEntries;
}

/**
 * The single-node, in-process Coordinator (DESIGN.md "Embedded mode"): no etcd, no lease. The
 * node is leader of every volume it campaigns for, at epoch 1, and is never fenced. One shared
 * store (embedded-store.ts: revisions, watch delivery) under one part per concern, as on etcd —
 * identity, election, ALUA, replica sets, reservations, mode parameters, configuration. Stores
 * live in memory, except the configuration and the mode parameters (files in the data directory);
 * identity is deterministic instead (embedded-identity.ts). Revisions count writes from 1, like
 * etcd's; watches deliver asynchronously (after the writer has its answer), in order, as etcd
 * watches do, so code written against one behaves the same on the other.
 */
export class EmbeddedCoordinator implements Coordinator {
  readonly kind = 'embedded' as const;
  readonly nodeName: string;
  readonly #node: NodeAddresses;
  readonly #logger: Logger;
  readonly #events: TypedEmitter<CoordinatorEvents>;
  readonly #session: StateMachine<SessionState>;
  readonly #store: EmbeddedStore;
  readonly #identity: EmbeddedIdentity;
  readonly #election: EmbeddedElection;
  readonly #alua: EmbeddedAlua;
  readonly #replicaSets: EmbeddedReplicaSets;
  readonly #reservations: EmbeddedReservations;
  readonly #modePages: EmbeddedModePages;
  readonly #config: EmbeddedConfig;

  constructor(opts: EmbeddedCoordinatorOptions) {
    nodeAddressesSchema.parse(opts.node);
    this.#node = { ...opts.node, portals: [...opts.node.portals] };
    this.nodeName = opts.node.name;
    this.#logger = opts.logger.child({ component: 'cluster', node: this.nodeName, coordinator: 'embedded' });
    this.#events = new TypedEmitter<CoordinatorEvents>(this.#logger);
    this.#session = new StateMachine<SessionState>('session', 'idle', this.#logger, (from, to) =>
      this.#events.emit('session', { from, to }),
    );
    const store = new EmbeddedStore(this.nodeName, this.#logger, this.#session);
    this.#store = store;
    this.#identity = new EmbeddedIdentity(store, this.#node);
    this.#election = new EmbeddedElection(store, this.#events);
    this.#alua = new EmbeddedAlua(store, this.#election);
    this.#replicaSets = new EmbeddedReplicaSets(store, this.#election);
    this.#reservations = new EmbeddedReservations(store);
    this.#modePages = new EmbeddedModePages(store, opts.configFile);
    this.#config = new EmbeddedConfig(store, opts.configFile, opts.bootstrap, this.#modePages);
  }

  on<E extends keyof CoordinatorEvents>(event: E, listener: CoordinatorEvents[E]): () => void {
    return this.#events.on(event, listener);
  }

  sessionState(): SessionState {
    return this.#session.state;
  }

  async start(): Promise<void> {
    this.#store.assertOpen();
    this.#session.transition(['idle'], 'connecting');
    await this.#config.load();
    await this.#modePages.load();
    this.#session.transition(['connecting'], 'live');
  }

  /** Saves the configuration if it never was (the node started on its bootstrap). */
  persist(): Promise<void> {
    return this.#config.persist();
  }

  async close(): Promise<void> {
    if (this.#session.state === 'closed') return;
    await this.#modePages.saved.catch(() => undefined);
    this.#election.closeAll();
    this.#store.clearListeners();
    this.#session.transition(['idle', 'connecting', 'live', 'fenced'], 'closed');
  }

  // ---- membership: the node itself, while its session is live --------------------------------
  async members(): Promise<NodeAddresses[]> {
    return this.#session.state === 'live' ? [this.#node] : [];
  }
  async watchMembers(listener: (members: NodeAddresses[]) => void): Promise<Subscription> {
    listener(await this.members());
    return { close: async () => undefined };
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
  campaign(volume: string): void {
    this.#election.campaign(volume);
  }
  resign(volume: string): Promise<void> {
    return this.#election.resign(volume);
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
  replaceConfig(entries: BootstrapEntries, expectedRevision?: number): Promise<number> {
    return this.#config.replaceConfig(entries, expectedRevision);
  }
}
