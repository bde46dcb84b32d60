import fs from 'node:fs';
import path from 'node:path';
import { replaceFileDurably } from '../util/durable-file.js';
import { TandemError } from '../util/errors.js';
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
  PortId,
  ReplicaSet,
  SessionState,
  Subscription,
  Versioned,
  VolumeListener,
} from './coordinator.js';
import { KeyLayout } from './keys.js';
import { aluaValueSchema, nodeAddressesSchema } from './records.js';
import { TypedEmitter } from './typed-emitter.js';

/** The one epoch of an embedded node: nobody else can ever lead, so it never needs to grow. */
export const EMBEDDED_EPOCH = 1;

export interface EmbeddedCoordinatorOptions extends CoordinatorOptions {
  /**
   * Where the desired configuration persists (JSON, replaced durably on every change). Absent:
   * in memory only. A node restarted on the same file serves what it served before.
   */
  readonly configFile?: string;
  /** The first start's configuration (the node file's targets and LUNs): used only while `configFile` does not exist yet. */
  readonly bootstrap?: readonly { kind: ConfigKind; name: string; value: JsonValue }[];
}

/** The persisted form of the configuration. */
interface ConfigFile {
  readonly revision: number;
  readonly entries: readonly ConfigEntry[];
}

interface Stored {
  value: JsonValue;
  revision: number;
}

/**
 * The single-node, in-process Coordinator (DESIGN.md "Embedded mode"): no etcd, no lease. The
 * node is leader of every volume it campaigns for, at epoch 1, and is never fenced. Stores live
 * in memory; what must survive a restart is deterministic instead:
 *   - target port group id 1; relative port ids 1, 2, … in the order of `node.portals`;
 *   - a volume's seed is the proposal (the configured volumeId) or else the volume name.
 * Revisions count writes from 1, like etcd's; watches deliver asynchronously (after the writer
 * has its answer), in order, as etcd watches do, so code written against one behaves the same on the other.
 */
export class EmbeddedCoordinator implements Coordinator {
  readonly kind = 'embedded' as const;
  readonly nodeName: string;
  readonly #node: NodeAddresses;
  readonly #logger: Logger;
  readonly #events: TypedEmitter<CoordinatorEvents>;
  readonly #session: StateMachine<SessionState>;
  readonly #roles = new Map<string, StateMachine<ElectionRole>>();
  readonly #alua = new Map<string, AluaSnapshot>();
  readonly #reservations = new Map<string, Stored>();
  readonly #acks = new Map<string, number>();
  readonly #config = new Map<string, ConfigEntry>();
  readonly #replicaSets = new Map<string, ReplicaSet>();
  /** Mode parameters by volume, persisted next to the configuration file (finding 6). */
  readonly #modePages = new Map<string, Stored>();
  /** Saves of the mode parameters file, one at a time. */
  #modePagesSaved: Promise<void> = Promise.resolve();
  readonly #claims = new Map<string, Map<string, DataClaim>>();
  readonly #listeners = {
    replicaSets: new Set<VolumeListener<ReplicaSet>>(),
    alua: new Set<VolumeListener<AluaSnapshot>>(),
    reservations: new Set<VolumeListener<JsonValue>>(),
    modePages: new Set<VolumeListener<JsonValue>>(),
    config: new Set<(e: ConfigEvent) => void>(),
    leader: new Set<{ volume: string; fn: (l: LeaderRecord | undefined) => void }>(),
  };
  readonly #configFile: string | undefined;
  readonly #bootstrap: EmbeddedCoordinatorOptions['bootstrap'];
  #portGroup: PortGroup | undefined;
  #revision = 1;
  #saved = false;

  constructor(opts: EmbeddedCoordinatorOptions) {
    this.#configFile = opts.configFile;
    this.#bootstrap = opts.bootstrap;
    nodeAddressesSchema.parse(opts.node);
    this.#node = { ...opts.node, portals: [...opts.node.portals] };
    this.nodeName = opts.node.name;
    this.#logger = opts.logger.child({ component: 'cluster', node: this.nodeName, coordinator: 'embedded' });
    this.#events = new TypedEmitter<CoordinatorEvents>(this.#logger);
    this.#session = new StateMachine<SessionState>('session', 'idle', this.#logger, (from, to) =>
      this.#events.emit('session', { from, to }),
    );
  }

  on<E extends keyof CoordinatorEvents>(event: E, listener: CoordinatorEvents[E]): () => void {
    return this.#events.on(event, listener);
  }

  sessionState(): SessionState {
    return this.#session.state;
  }

  async start(): Promise<void> {
    this.#assertOpen();
    this.#session.transition(['idle'], 'connecting');
    await this.#loadConfig();
    await this.#loadModePages();
    this.#session.transition(['connecting'], 'live');
  }

  /**
   * The persisted configuration wins over the node file: the file bootstraps only the first
   * start (as targetcli's saveconfig.json does, the live state is what is saved).
   */
  async #loadConfig(): Promise<void> {
    const file = this.#configFile;
    let text: string | undefined;
    try {
      if (file) text = await fs.promises.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      let saved: ConfigFile;
      try {
        saved = JSON.parse(text) as ConfigFile;
      } catch (err) {
        throw new TandemError(
          'TANDEM_ERR_CONFIG_INVALID',
          `${file}: not valid JSON: ${(err as Error).message}`,
        );
      }
      this.#revision = Math.max(1, saved.revision);
      for (const e of saved.entries) this.#config.set(this.#key(e.kind, e.name), cloneEntry(e));
      this.#saved = true;
      this.#logger.info(
        { file, entries: saved.entries.length },
        'configuration restored from the data directory',
      );
      return;
    }
    // Not saved yet: a first start that fails (a LUN it cannot open) must not make its
    // configuration the saved one, or fixing the node file would not be read. persist() saves it.
    for (const e of this.#bootstrap ?? []) this.#put(e.kind, e.name, e.value);
  }

  /** Saves the configuration if it never was (the node started on its bootstrap). */
  async persist(): Promise<void> {
    if (!this.#saved) await this.#saveConfig();
  }

  async #saveConfig(): Promise<void> {
    if (!this.#configFile) return;
    const data: ConfigFile = { revision: this.#revision, entries: [...this.#config.values()] };
    await fs.promises.mkdir(path.dirname(this.#configFile), { recursive: true });
    await replaceFileDurably(this.#configFile, `${JSON.stringify(data, null, 2)}\n`);
    this.#saved = true;
  }

  #key(kind: ConfigKind, name: string): string {
    return new KeyLayout('/embedded/').configKey(kind, name);
  }

  #put(kind: ConfigKind, name: string, value: JsonValue): ConfigEntry {
    const revision = this.#bump();
    const entry: ConfigEntry = { kind, name, value: clone(value), revision };
    this.#config.set(this.#key(kind, name), entry);
    return entry;
  }

  async close(): Promise<void> {
    if (this.#session.state === 'closed') return;
    await this.#modePagesSaved.catch(() => undefined);
    for (const [volume, sm] of this.#roles) {
      if (sm.transition(['leader'], 'closed', { epoch: EMBEDDED_EPOCH, reason: 'closed' })) {
        this.#events.emit('leadershipLost', { volume, epoch: EMBEDDED_EPOCH, reason: 'closed' });
      }
      sm.transition(['idle', 'candidate', 'fenced'], 'closed');
    }
    for (const set of Object.values(this.#listeners)) set.clear();
    this.#session.transition(['idle', 'connecting', 'live', 'fenced'], 'closed');
  }

  // ---- membership -----------------------------------------------------------------------------

  async members(): Promise<NodeAddresses[]> {
    return this.#session.state === 'live' ? [this.#node] : [];
  }

  async watchMembers(listener: (members: NodeAddresses[]) => void): Promise<Subscription> {
    const members = await this.members();
    listener(members);
    return { close: async () => undefined };
  }

  // ---- identity ---------------------------------------------------------------------------------

  async allocatePortGroup(): Promise<PortGroup> {
    this.#assertOpen();
    if (!this.#portGroup) {
      const ports: PortId[] = this.#node.portals.map((portal, i) => ({ portal, relativePortId: i + 1 }));
      this.#portGroup = { node: this.nodeName, targetPortGroupId: 1, ports };
    }
    return this.#portGroup;
  }

  async portGroups(): Promise<PortGroup[]> {
    return this.#portGroup ? [this.#portGroup] : [];
  }

  async volumeSeed(volume: string, proposal?: string): Promise<string> {
    new KeyLayout('/embedded/').seed(volume); // same validation as etcd keys
    return proposal ?? volume;
  }

  // ---- election ----------------------------------------------------------------------------------

  campaign(volume: string): void {
    this.#assertOpen();
    const sm = this.#role(volume);
    if (!sm.transition(['idle'], 'candidate')) return;
    sm.transition(['candidate'], 'leader', { epoch: EMBEDDED_EPOCH });
    queueMicrotask(() => {
      if (sm.state !== 'leader') return;
      this.#events.emit('leadershipAcquired', { volume, epoch: EMBEDDED_EPOCH });
      this.#notifyLeader(volume);
    });
  }

  async resign(volume: string): Promise<void> {
    const sm = this.#roles.get(volume);
    if (!sm) return;
    if (sm.transition(['leader'], 'idle', { epoch: EMBEDDED_EPOCH, reason: 'resigned' })) {
      this.#events.emit('leadershipLost', { volume, epoch: EMBEDDED_EPOCH, reason: 'resigned' });
      this.#notifyLeader(volume);
    }
    sm.transition(['candidate', 'fenced'], 'idle');
  }

  role(volume: string): ElectionRole {
    if (this.#session.state === 'closed') return 'closed';
    return this.#roles.get(volume)?.state ?? 'idle';
  }

  epoch(volume: string): number | undefined {
    return this.role(volume) === 'leader' ? EMBEDDED_EPOCH : undefined;
  }

  canServeWrites(volume: string): boolean {
    return this.role(volume) === 'leader';
  }

  async leader(volume: string): Promise<LeaderRecord | undefined> {
    return this.#leaderRecord(volume);
  }

  async watchLeader(
    volume: string,
    listener: (leader: LeaderRecord | undefined) => void,
  ): Promise<Subscription> {
    const entry = { volume, fn: listener };
    listener(this.#leaderRecord(volume));
    this.#listeners.leader.add(entry);
    return { close: async () => void this.#listeners.leader.delete(entry) };
  }

  #leaderRecord(volume: string): LeaderRecord | undefined {
    return this.role(volume) === 'leader'
      ? { volume, node: this.nodeName, epoch: EMBEDDED_EPOCH }
      : undefined;
  }

  #notifyLeader(volume: string): void {
    const record = this.#leaderRecord(volume);
    for (const l of this.#listeners.leader) if (l.volume === volume) l.fn(record);
  }

  #role(volume: string): StateMachine<ElectionRole> {
    let sm = this.#roles.get(volume);
    if (!sm) {
      sm = new StateMachine<ElectionRole>('election', 'idle', this.#logger.child({ volume }));
      this.#roles.set(volume, sm);
    }
    return sm;
  }

  // ---- ALUA -----------------------------------------------------------------------------------------

  async publishAlua(
    volume: string,
    epoch: number,
    groups: readonly { targetPortGroupId: number; state: AluaState }[],
  ): Promise<AluaSnapshot> {
    this.#assertOpen();
    if (epoch !== EMBEDDED_EPOCH || !this.canServeWrites(volume)) {
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
    const snapshot: AluaSnapshot = { volume, ...value, revision: this.#bump() };
    this.#alua.set(volume, snapshot);
    this.#deliver(this.#listeners.alua, (l) => l(volume, snapshot, snapshot.revision));
    return snapshot;
  }

  async readAlua(volume: string): Promise<AluaSnapshot | undefined> {
    return this.#alua.get(volume);
  }

  async watchAlua(listener: VolumeListener<AluaSnapshot>): Promise<Subscription> {
    for (const [volume, s] of this.#alua) listener(volume, s, s.revision);
    return this.#subscribe(this.#listeners.alua, listener);
  }

  // ---- persistent reservations ------------------------------------------------------------------------

  async readReservations(volume: string): Promise<Versioned<JsonValue>> {
    const s = this.#reservations.get(volume);
    return s ? { value: clone(s.value), revision: s.revision } : { value: undefined, revision: 0 };
  }

  async compareAndSetReservations(
    volume: string,
    expectedRevision: number,
    value: JsonValue,
  ): Promise<CasResult<JsonValue>> {
    this.#assertOpen();
    const current = await this.readReservations(volume);
    if (current.revision !== expectedRevision) return { ok: false, current };
    const stored = { value: clone(value), revision: this.#bump() };
    this.#reservations.set(volume, stored);
    this.#deliver(this.#listeners.reservations, (l) => l(volume, clone(stored.value), stored.revision));
    return { ok: true, revision: stored.revision };
  }

  // ---- replicated volumes: one node, so its own store is the whole in-sync set --------------

  async era(): Promise<string> {
    return 'embedded';
  }

  async createReplicaSet(volume: string, dataset: string): Promise<boolean> {
    if (this.#replicaSets.has(volume)) return false;
    this.#setReplicaSet(volume, { dataset, inSync: [this.nodeName] });
    return true;
  }

  async readReplicaSet(volume: string): Promise<ReplicaSet> {
    return this.#replicaSets.get(volume) ?? { dataset: undefined, inSync: [] };
  }

  async watchReplicaSets(listener: VolumeListener<ReplicaSet>): Promise<Subscription> {
    const rev = this.#revision;
    for (const [volume, set] of this.#replicaSets) listener(volume, set, rev);
    return this.#subscribe(this.#listeners.replicaSets, listener);
  }

  async setInSync(volume: string, epoch: number, node: string, inSync: boolean): Promise<void> {
    if (this.epoch(volume) !== epoch) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_NOT_LEADER',
        `${volume}: not the primary with epoch ${epoch}`,
      );
    }
    const cur = this.#replicaSets.get(volume) ?? { dataset: undefined, inSync: [] };
    const members = new Set(cur.inSync);
    if (inSync) members.add(node);
    else members.delete(node);
    this.#setReplicaSet(volume, { dataset: cur.dataset, inSync: [...members].sort() });
  }

  async leaveInSync(volume: string): Promise<void> {
    const cur = this.#replicaSets.get(volume);
    if (!cur) return;
    this.#setReplicaSet(volume, {
      dataset: cur.dataset,
      inSync: cur.inSync.filter((n) => n !== this.nodeName),
    });
  }

  async publishDataClaim(volume: string, claim: DataClaim): Promise<void> {
    const claims = this.#claims.get(volume) ?? new Map<string, DataClaim>();
    claims.set(this.nodeName, { ...claim });
    this.#claims.set(volume, claims);
  }

  async readDataClaims(volume: string): Promise<ReadonlyMap<string, DataClaim>> {
    return new Map(this.#claims.get(volume) ?? []);
  }

  async deleteReplicaSet(volume: string): Promise<void> {
    this.#claims.delete(volume);
    if (!this.#replicaSets.delete(volume)) return;
    const rev = this.#bump();
    this.#deliver(this.#listeners.replicaSets, (l) => l(volume, undefined, rev));
  }

  #setReplicaSet(volume: string, set: ReplicaSet): void {
    this.#replicaSets.set(volume, set);
    const rev = this.#bump();
    this.#deliver(this.#listeners.replicaSets, (l) => l(volume, set, rev));
  }

  async watchReservations(listener: VolumeListener<JsonValue>): Promise<Subscription> {
    for (const [volume, s] of this.#reservations) listener(volume, clone(s.value), s.revision);
    return this.#subscribe(this.#listeners.reservations, listener);
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
      if (node !== this.nodeName) continue; // not a member: as good as fenced
      if ((this.#acks.get(volume) ?? 0) >= revision) applied.push(node);
      else missing.push(node);
    }
    return { applied, missing };
  }

  // ---- configuration ------------------------------------------------------------------------------------

  async readConfig(): Promise<{ revision: number; entries: ConfigEntry[] }> {
    return { revision: this.#revision, entries: [...this.#config.values()].map(cloneEntry) };
  }

  async putConfig(
    kind: ConfigKind,
    name: string,
    value: JsonValue,
    expectedRevision?: number,
  ): Promise<number> {
    this.#assertOpen();
    const current = this.#config.get(this.#key(kind, name));
    if (expectedRevision !== undefined && (current?.revision ?? 0) !== expectedRevision) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_CONFLICT',
        `${kind}/${name} changed since revision ${expectedRevision}`,
      );
    }
    const entry = this.#put(kind, name, value);
    await this.#saveConfig();
    this.#deliver(this.#listeners.config, (l) =>
      l({ type: 'put', revision: entry.revision, entry: cloneEntry(entry) }),
    );
    return entry.revision;
  }

  async deleteConfig(kind: ConfigKind, name: string, expectedRevision?: number): Promise<boolean> {
    this.#assertOpen();
    const current = this.#config.get(this.#key(kind, name));
    if (expectedRevision !== undefined && (current?.revision ?? 0) !== expectedRevision) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_CONFLICT',
        `${kind}/${name} changed since revision ${expectedRevision}`,
      );
    }
    if (!current) return false;
    const revision = this.#delete(kind, name);
    await this.#saveConfig();
    await this.#modePagesSaved;
    this.#deliver(this.#listeners.config, (l) => l({ type: 'delete', revision, kind, name }));
    return true;
  }

  #delete(kind: ConfigKind, name: string): number {
    this.#config.delete(this.#key(kind, name));
    // A volume's mode parameters go with it (as on etcd): a new volume of the same name starts
    // from the defaults. The file is rewritten with the configuration's own save.
    if (kind === 'volumes' && this.#modePages.delete(name)) void this.#saveModePages().catch(() => undefined);
    return this.#bump();
  }

  async replaceConfig(
    entries: readonly { kind: ConfigKind; name: string; value: JsonValue }[],
    expectedRevision?: number,
  ): Promise<number> {
    this.#assertOpen();
    const latest = Math.max(0, ...[...this.#config.values()].map((e) => e.revision));
    if (expectedRevision !== undefined && latest > expectedRevision) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_CONFLICT',
        `the configuration changed after revision ${expectedRevision}`,
      );
    }
    // One saved file for the whole import, like etcd's one transaction; watchers get each change.
    const wanted = new Set(entries.map((e) => `${e.kind}/${e.name}`));
    const events: ConfigEvent[] = [];
    for (const e of [...this.#config.values()]) {
      if (wanted.has(`${e.kind}/${e.name}`)) continue;
      events.push({ type: 'delete', revision: this.#delete(e.kind, e.name), kind: e.kind, name: e.name });
    }
    for (const e of entries) {
      const entry = this.#put(e.kind, e.name, e.value);
      events.push({ type: 'put', revision: entry.revision, entry: cloneEntry(entry) });
    }
    await this.#saveConfig();
    for (const ev of events) this.#deliver(this.#listeners.config, (l) => l(ev));
    return this.#revision;
  }

  async watchConfig(listener: (event: ConfigEvent) => void): Promise<Subscription> {
    const snap = await this.readConfig();
    listener({ type: 'snapshot', ...snap });
    return this.#subscribe(this.#listeners.config, listener);
  }

  // ---- mode parameters: a file in the data directory, so a restart keeps them ------------------

  get #modePagesFile(): string | undefined {
    return this.#configFile ? path.join(path.dirname(this.#configFile), 'mode-pages.json') : undefined;
  }

  async #loadModePages(): Promise<void> {
    const file = this.#modePagesFile;
    if (!file) return;
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    let saved: Record<string, JsonValue>;
    try {
      saved = JSON.parse(text) as Record<string, JsonValue>;
    } catch (err) {
      throw new TandemError(
        'TANDEM_ERR_CONFIG_INVALID',
        `${file}: not valid JSON: ${(err as Error).message}`,
      );
    }
    for (const [volume, value] of Object.entries(saved)) {
      this.#modePages.set(volume, { value, revision: this.#bump() });
    }
  }

  async readModeParameters(volume: string): Promise<Versioned<JsonValue>> {
    const s = this.#modePages.get(volume);
    return s ? { value: clone(s.value), revision: s.revision } : { value: undefined, revision: 0 };
  }

  async putModeParameters(volume: string, value: JsonValue): Promise<number> {
    this.#assertOpen();
    const stored = { value: clone(value), revision: this.#bump() };
    this.#modePages.set(volume, stored);
    await this.#saveModePages();
    this.#deliver(this.#listeners.modePages, (l) => l(volume, clone(stored.value), stored.revision));
    return stored.revision;
  }

  /** Writes every volume's mode parameters to the data directory, one write at a time. */
  #saveModePages(): Promise<void> {
    const file = this.#modePagesFile;
    if (!file) return Promise.resolve();
    const save = async () => {
      const all = Object.fromEntries([...this.#modePages].map(([v, s]) => [v, s.value]));
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      await replaceFileDurably(file, `${JSON.stringify(all, null, 2)}\n`);
    };
    this.#modePagesSaved = this.#modePagesSaved.catch(() => undefined).then(save);
    return this.#modePagesSaved;
  }

  async watchModeParameters(listener: VolumeListener<JsonValue>): Promise<Subscription> {
    for (const [volume, s] of this.#modePages) listener(volume, clone(s.value), s.revision);
    return this.#subscribe(this.#listeners.modePages, listener);
  }

  // ---- plumbing ------------------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#session.state === 'closed') {
      throw new TandemError('TANDEM_ERR_CLUSTER_CLOSED', 'the coordinator is closed');
    }
  }

  #bump(): number {
    this.#revision += 1;
    return this.#revision;
  }

  #subscribe<L>(set: Set<L>, listener: L): Subscription {
    set.add(listener);
    return { close: async () => void set.delete(listener) };
  }

  /** Delivers after the writer has its answer (next macrotask), in order, like an etcd watch. */
  #deliver<L>(set: Set<L>, call: (l: L) => void): void {
    const targets = [...set];
    setImmediate(() => {
      for (const l of targets) {
        if (!set.has(l)) continue;
        try {
          call(l);
        } catch (err) {
          this.#logger.error({ err }, 'watch listener threw');
        }
      }
    });
  }
}

function clone(value: JsonValue): JsonValue {
  return structuredClone(value);
}

function cloneEntry(e: ConfigEntry): ConfigEntry {
  return { ...e, value: clone(e.value) };
}
