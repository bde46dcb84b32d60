import type {
  AluaSnapshot,
  AluaState,
  AluaStore,
  CampaignOptions,
  CasResult,
  ConfigEntry,
  ConfigEvent,
  ConfigKind,
  ConfigStore,
  Coordinator,
  CoordinatorEvents,
  DataClaim,
  Election,
  ElectionRole,
  IdentityStore,
  JsonValue,
  LeaderRecord,
  Membership,
  ModeParameterStateStore,
  NodeAddresses,
  PortGroup,
  ReplicaSet,
  ReplicaSetStore,
  ReservationStateStore,
  ResignOptions,
  SessionState,
  Subscription,
  Versioned,
  VolumeListener,
} from './coordinator.js';
import type { TypedEmitter } from './typed-emitter.js';

/** The parts a Coordinator is made of, one per concern (the interfaces of coordinator.ts). */
export interface CoordinatorParts {
  readonly events: TypedEmitter<CoordinatorEvents>;
  /** Whatever holds the session state (etcd: the lease session; embedded: a state machine). */
  readonly session: { readonly state: SessionState };
  readonly membership: Membership;
  readonly identity: IdentityStore;
  readonly election: Election;
  readonly alua: AluaStore;
  readonly replicaSets: ReplicaSetStore;
  readonly reservations: ReservationStateStore;
  readonly modePages: ModeParameterStateStore;
  readonly config: ConfigStore;
}

/**
 * The Coordinator façade both implementations share: every per-concern call goes to its part,
 * unchanged. A subclass builds the parts (etcd-coordinator.ts, embedded-coordinator.ts) and
 * owns only what differs: its kind, start() and close().
 */
export abstract class CoordinatorFacade implements Coordinator {
  abstract readonly kind: 'embedded' | 'etcd';
  abstract readonly nodeName: string;
  readonly #parts: CoordinatorParts;

  constructor(parts: CoordinatorParts) {
    this.#parts = parts;
  }

  abstract start(): Promise<void>;
  abstract close(): Promise<void>;

  on<E extends keyof CoordinatorEvents>(event: E, listener: CoordinatorEvents[E]): () => void {
    return this.#parts.events.on(event, listener);
  }

  sessionState(): SessionState {
    return this.#parts.session.state;
  }

  // ---- membership ----------------------------------------------------------------------------
  members(): Promise<NodeAddresses[]> {
    return this.#parts.membership.members();
  }
  watchMembers(listener: (members: NodeAddresses[]) => void): Promise<Subscription> {
    return this.#parts.membership.watchMembers(listener);
  }

  // ---- identity ------------------------------------------------------------------------------
  allocatePortGroup(): Promise<PortGroup> {
    return this.#parts.identity.allocatePortGroup();
  }
  portGroups(): Promise<PortGroup[]> {
    return this.#parts.identity.portGroups();
  }
  volumeSeed(volume: string, proposal?: string): Promise<string> {
    return this.#parts.identity.volumeSeed(volume, proposal);
  }

  // ---- election ------------------------------------------------------------------------------
  campaign(volume: string, options?: CampaignOptions): void {
    this.#parts.election.campaign(volume, options);
  }
  resign(volume: string, options?: ResignOptions): Promise<void> {
    return this.#parts.election.resign(volume, options);
  }
  role(volume: string): ElectionRole {
    return this.#parts.election.role(volume);
  }
  epoch(volume: string): number | undefined {
    return this.#parts.election.epoch(volume);
  }
  canServeWrites(volume: string): boolean {
    return this.#parts.election.canServeWrites(volume);
  }
  leader(volume: string): Promise<LeaderRecord | undefined> {
    return this.#parts.election.leader(volume);
  }
  watchLeader(volume: string, listener: (leader: LeaderRecord | undefined) => void): Promise<Subscription> {
    return this.#parts.election.watchLeader(volume, listener);
  }

  // ---- ALUA ----------------------------------------------------------------------------------
  publishAlua(
    volume: string,
    epoch: number,
    groups: readonly { targetPortGroupId: number; state: AluaState }[],
  ): Promise<AluaSnapshot> {
    return this.#parts.alua.publishAlua(volume, epoch, groups);
  }
  readAlua(volume: string): Promise<AluaSnapshot | undefined> {
    return this.#parts.alua.readAlua(volume);
  }
  watchAlua(listener: VolumeListener<AluaSnapshot>): Promise<Subscription> {
    return this.#parts.alua.watchAlua(listener);
  }

  // ---- replicated volumes --------------------------------------------------------------------
  era(): Promise<string> {
    return this.#parts.replicaSets.era();
  }
  createReplicaSet(volume: string, dataset: string): Promise<boolean> {
    return this.#parts.replicaSets.createReplicaSet(volume, dataset);
  }
  readReplicaSet(volume: string): Promise<ReplicaSet> {
    return this.#parts.replicaSets.readReplicaSet(volume);
  }
  watchReplicaSets(listener: VolumeListener<ReplicaSet>): Promise<Subscription> {
    return this.#parts.replicaSets.watchReplicaSets(listener);
  }
  setInSync(volume: string, epoch: number, node: string, inSync: boolean): Promise<void> {
    return this.#parts.replicaSets.setInSync(volume, epoch, node, inSync);
  }
  leaveInSync(volume: string): Promise<void> {
    return this.#parts.replicaSets.leaveInSync(volume);
  }
  leaveInSyncWhile(volume: string, other: string): Promise<boolean> {
    return this.#parts.replicaSets.leaveInSyncWhile(volume, other);
  }
  deleteReplicaSet(volume: string): Promise<void> {
    return this.#parts.replicaSets.deleteReplicaSet(volume);
  }
  publishDataClaim(volume: string, claim: DataClaim): Promise<void> {
    return this.#parts.replicaSets.publishDataClaim(volume, claim);
  }
  readDataClaims(volume: string): Promise<ReadonlyMap<string, DataClaim>> {
    return this.#parts.replicaSets.readDataClaims(volume);
  }

  // ---- persistent reservations ---------------------------------------------------------------
  readReservations(volume: string): Promise<Versioned<JsonValue>> {
    return this.#parts.reservations.readReservations(volume);
  }
  compareAndSetReservations(
    volume: string,
    expectedRevision: number,
    value: JsonValue,
  ): Promise<CasResult<JsonValue>> {
    return this.#parts.reservations.compareAndSetReservations(volume, expectedRevision, value);
  }
  watchReservations(listener: VolumeListener<JsonValue>): Promise<Subscription> {
    return this.#parts.reservations.watchReservations(listener);
  }
  acknowledgeReservations(volume: string, revision: number): Promise<void> {
    return this.#parts.reservations.acknowledgeReservations(volume, revision);
  }
  awaitReservationsApplied(
    volume: string,
    revision: number,
    nodes: readonly string[],
    timeoutMs: number,
  ): Promise<{ applied: string[]; missing: string[] }> {
    return this.#parts.reservations.awaitReservationsApplied(volume, revision, nodes, timeoutMs);
  }

  // ---- mode parameters ----------------------------------------------------------------------
  readModeParameters(volume: string): Promise<Versioned<JsonValue>> {
    return this.#parts.modePages.readModeParameters(volume);
  }
  putModeParameters(volume: string, value: JsonValue): Promise<number> {
    return this.#parts.modePages.putModeParameters(volume, value);
  }
  watchModeParameters(listener: VolumeListener<JsonValue>): Promise<Subscription> {
    return this.#parts.modePages.watchModeParameters(listener);
  }

  // ---- desired configuration -----------------------------------------------------------------
  readConfig(): Promise<{ revision: number; entries: ConfigEntry[] }> {
    return this.#parts.config.readConfig();
  }
  putConfig(kind: ConfigKind, name: string, value: JsonValue, expectedRevision?: number): Promise<number> {
    return this.#parts.config.putConfig(kind, name, value, expectedRevision);
  }
  deleteConfig(kind: ConfigKind, name: string, expectedRevision?: number): Promise<boolean> {
    return this.#parts.config.deleteConfig(kind, name, expectedRevision);
  }
  watchConfig(listener: (event: ConfigEvent) => void): Promise<Subscription> {
    return this.#parts.config.watchConfig(listener);
  }
  replaceConfig(
    entries: readonly { kind: ConfigKind; name: string; value: JsonValue }[],
    expectedRevision?: number,
  ): Promise<number> {
    return this.#parts.config.replaceConfig(entries, expectedRevision);
  }
}
