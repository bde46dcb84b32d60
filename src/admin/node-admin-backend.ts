import type {
  ConfigKind,
  Coordinator,
  JsonValue,
  LeaderRecord,
  NodeAddresses,
} from '../cluster/coordinator.js';
import type { SessionRegistry } from '../iscsi/session-registry.js';
import type { ReplicatedVolume } from '../replication/index.js';
import { TandemError } from '../util/errors.js';
import type {
  AdminBackend,
  AdminConfigEntry,
  ClusterStatus,
  NodeStatus,
  NodeVolumeStatus,
  SessionInfo,
  SwitchoverOutcome,
  VerifyOutcome,
  VolumeRecoveryInfo,
  VolumeStatusInfo,
} from './admin-backend.js';
import { AdminClient, type AdminClientTls } from './admin-client.js';
import { nodeInfos, volumeStatus } from './cluster-status.js';
import { type VolumeConfig, volumeSchema } from './config-schema.js';
import {
  checkCompared,
  checkVerifiable,
  routeToPrimary,
  switchoverCandidates,
  verifyProgress,
} from './primary-policy.js';
import { checkReplicaChange } from './replica-policy.js';

/**
 * The admin service's backend (src/admin/admin-backend.ts) for both modes, over what the
 * composition root owns: the coordinator, the served volumes, the sessions and the metrics.
 * Cluster reads and writes go to etcd with a short deadline, so `tandemctl` fails fast when etcd
 * is unreachable; a node that has lost its etcd session says so at once.
 */

/** What the node serves of one volume, for status, switchover and verify. */
export interface ServedVolume {
  readonly volume: VolumeConfig;
  readonly size: number;
  aluaState(): string;
  readonly replication?: ReplicatedVolume;
  /** Replicated: the in-sync set as this node knows it. */
  inSync?(): ReadonlySet<string>;
  /** Resolves when no command is executing on the volume's LU (bounded by the caller). */
  idle(): Promise<void>;
  /** Replicated: how it recovers after etcd lost its replica set (replica-set lifecycle). */
  recovery?(): Omit<VolumeRecoveryInfo, 'node'> | undefined;
}

/** The cluster runtime as the backend sees it. */
export interface ClusterHost {
  /** Undefined until the node has joined the cluster. */
  readonly coordinator: Coordinator | undefined;
  members(): readonly NodeAddresses[];
  served(): readonly ServedVolume[];
  /** `to`: the node that must take the role (switchover --to), else whichever eligible one. */
  handOver(
    volume: string,
    drained: () => Promise<void>,
    timeoutMs: number,
    to?: string,
  ): Promise<LeaderRecord | undefined>;
  /** Throws when this node would refuse the volume's backing path (DESIGN.md Trust). */
  checkVolumePath?(volume: VolumeConfig): void;
}

export interface AdminBackendOptions {
  readonly node: string;
  readonly portals: () => string[];
  readonly admin: () => string;
  readonly grpc: () => string;
  readonly sessions: SessionRegistry;
  /** HOST:PORT of the portal that is relative target port `id`. */
  readonly portalOf: (relativePortId: number) => string;
  readonly metricsText: () => Promise<string>;
  /** The node runtime (both modes: embedded runs on the in-process coordinator). */
  readonly cluster: ClusterHost;
  readonly mode: 'embedded' | 'cluster';
  /** How this node calls other nodes' admin APIs (its own certificate; absent: plaintext). */
  readonly peerAdminTls?: AdminClientTls | undefined;
}

/** etcd calls made for an operator: fail fast instead of retrying for the coordinator's 10 s. */
const ETCD_DEADLINE_MS = 3000;
const FANOUT_MS = 2000;
const SWITCHOVER_MS = 20_000;

export class DaemonAdminBackend implements AdminBackend {
  readonly mode: 'embedded' | 'cluster';
  readonly #o: AdminBackendOptions;
  readonly #upSince = Date.now();

  constructor(opts: AdminBackendOptions) {
    this.#o = opts;
    this.mode = opts.mode;
  }

  /** Runs an etcd operation for the operator with a short deadline. */
  async #etcd<T>(what: string, op: (c: Coordinator) => Promise<T>): Promise<T> {
    const coordinator = this.#o.cluster.coordinator;
    if (!coordinator) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_UNAVAILABLE',
        `${what}: node ${this.#o.node} is still joining the cluster`,
        {
          retryable: true,
        },
      );
    }
    const state = coordinator.sessionState();
    if (state !== 'live') {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_UNAVAILABLE',
        `${what}: node ${this.#o.node} has no live etcd session (${state}); check that etcd is reachable from it`,
        { retryable: true },
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TandemError(
              'TANDEM_ERR_CLUSTER_UNAVAILABLE',
              `${what}: etcd did not answer within ${ETCD_DEADLINE_MS / 1000} s`,
              { retryable: true },
            ),
          ),
        ETCD_DEADLINE_MS,
      );
    });
    try {
      return await Promise.race([op(coordinator), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #sessions(): SessionInfo[] {
    return this.#o.sessions
      .sessions()
      .filter((s) => s.type === 'Normal')
      .map((s) => ({
        node: this.#o.node,
        initiator: s.initiatorName,
        isid: s.isid.toString('hex'),
        target: s.target?.name ?? '',
        portal: s.target ? this.#o.portalOf(s.target.targetPort.relativePortId) : '',
        since: s.createdAt.getTime(),
        // MaxConnections = 1: a session has one connection.
        connections: 1,
      }));
  }

  async nodeStatus(): Promise<NodeStatus> {
    const c = this.#o.cluster;
    const coord = c?.coordinator;
    const volumes: NodeVolumeStatus[] = c.served().map((v) => {
      const r = v.replication?.status();
      const epoch = coord?.epoch(v.volume.id) ?? 0;
      const resyncing = r?.peers.filter((p) => p.state === 'resyncing') ?? [];
      const recovery = v.recovery?.();
      return {
        id: v.volume.id,
        role: coord?.role(v.volume.id) === 'leader' ? 'primary' : (r?.role ?? 'serving'),
        aluaState: v.aluaState(),
        epoch,
        size: v.size,
        ...(r
          ? {
              replication: {
                inSync: [...(v.inSync?.() ?? [])].sort(),
                peers: r.peers.map((p) => ({
                  node: p.node,
                  state: p.state,
                  resyncDoneBytes: p.resyncDoneBytes,
                  resyncTotalBytes: p.resyncTotalBytes,
                  resyncRateBps: p.resyncRateBps ?? 0,
                  resyncEtaSeconds: p.resyncEtaSeconds ?? 0,
                  resyncResumed: p.resyncResumed ?? false,
                })),
                resyncDone: resyncing.reduce((s, p) => s + p.resyncDoneBytes, 0),
                resyncTotal: resyncing.reduce((s, p) => s + p.resyncTotalBytes, 0),
              },
            }
          : {}),
        ...(recovery ? { recovery: { ...recovery, node: this.#o.node } } : {}),
      };
    });
    return {
      name: this.#o.node,
      mode: this.mode,
      portals: this.#o.portals(),
      admin: this.#o.admin(),
      grpc: this.#o.grpc(),
      upSince: this.#upSince,
      volumes,
      sessions: this.#sessions(),
    };
  }

  async clusterStatus(): Promise<ClusterStatus> {
    const own = await this.nodeStatus();
    const host = this.#o.cluster;
    const { members, groups, config } = await this.#etcd('status', async (c) => ({
      members: await c.members(),
      groups: await c.portGroups(),
      config: await c.readConfig(),
    }));
    const warnings: string[] = [];
    // Other nodes' own view (sessions, resync progress), asked in parallel with a short deadline.
    const others = await Promise.all(
      members
        .filter((m) => m.name !== this.#o.node)
        .map(async (m): Promise<NodeStatus | undefined> => {
          if (!m.admin) {
            warnings.push(`node ${m.name}: no admin address registered`);
            return undefined;
          }
          const client = new AdminClient(m.admin, { timeoutMs: FANOUT_MS, tls: this.#o.peerAdminTls });
          try {
            return await client.fetchNodeStatus(FANOUT_MS);
          } catch (err) {
            warnings.push(`node ${m.name}: NodeStatus from ${m.admin} failed: ${(err as Error).message}`);
            return undefined;
          } finally {
            client.close();
          }
        }),
    );
    const statuses = new Map<string, NodeStatus>([[own.name, own]]);
    for (const s of others) if (s) statuses.set(s.name, s);
    const nodes = nodeInfos(groups, members, statuses);
    const luns = config.entries
      .filter((e) => e.kind === 'luns')
      .map((l) => l.value as { target?: string; lun?: number; volume?: string });
    const volumes: VolumeStatusInfo[] = [];
    for (const e of config.entries.filter((x) => x.kind === 'volumes')) {
      const parsed = volumeSchema.safeParse(e.value);
      if (!parsed.success) continue;
      const v = parsed.data;
      const [leader, alua, replicaSet] = await this.#etcd('status', async (c) =>
        Promise.all([c.leader(v.id), c.readAlua(v.id), c.readReplicaSet(v.id)]),
      );
      const served = host.served().find((s) => s.volume.id === v.id);
      volumes.push(
        volumeStatus(
          v,
          { leader, alua, replicaSet },
          groups,
          statuses,
          luns,
          served?.size,
          new Set(members.map((m) => m.name)),
        ),
      );
    }
    return {
      mode: this.mode,
      node: this.#o.node,
      nodes,
      volumes,
      sessions: [...statuses.values()].flatMap((s) => s.sessions),
      warnings,
    };
  }

  async readConfig(): Promise<{ revision: number; entries: AdminConfigEntry[] }> {
    const r = await this.#etcd('reading the configuration', (c) => c.readConfig());
    return {
      revision: r.revision,
      entries: r.entries.map((e) => ({ kind: e.kind, name: e.name, value: e.value, revision: e.revision })),
    };
  }

  async putConfig(
    kind: ConfigKind,
    name: string,
    value: JsonValue,
    expectedRevision?: number,
  ): Promise<number> {
    if (kind === 'volumes') {
      this.#checkPath(value);
      await this.#checkResize(name, value);
      await this.#checkReplicas(name, value);
    }
    return this.#etcd(`writing ${kind}/${name}`, (c) => c.putConfig(kind, name, value, expectedRevision));
  }

  /** Refused here already when this node would refuse the volume's path (each node checks its own). */
  #checkPath(value: JsonValue): void {
    const v = volumeSchema.safeParse(value);
    try {
      if (v.success) this.#o.cluster?.checkVolumePath?.(v.data);
    } catch (err) {
      throw new TandemError('TANDEM_ERR_CLUSTER_INVALID_ARGUMENT', (err as Error).message);
    }
  }

  /** Growing a volume is live (a replicated one copy by copy); shrinking is refused now. */
  async #checkResize(name: string, value: JsonValue): Promise<void> {
    const { entries } = await this.#etcd(`reading volumes/${name}`, (c) => c.readConfig());
    const cur = entries.find((e) => e.kind === 'volumes' && e.name === name);
    const before = cur ? volumeSchema.safeParse(cur.value) : undefined;
    const after = volumeSchema.safeParse(value);
    if (!before?.success || !after.success || before.data.size === after.data.size) return;
    if ((after.data.size ?? 0) < (before.data.size ?? 0)) {
      if (before.data.kind === 'replicated' || after.data.kind === 'replicated') {
        throw new TandemError(
          'TANDEM_ERR_CONFIG_UNSUPPORTED',
          `volume ${name}: a replicated volume cannot shrink (every copy would lose the blocks past the new end); create a smaller volume and copy`,
        );
      }
      throw new TandemError(
        'TANDEM_ERR_CONFIG_UNSUPPORTED',
        `volume ${name}: a volume cannot shrink (blocks in use would vanish)`,
      );
    }
  }

  /**
   * A replicated volume's replica set or minInSync changes: never without an in-sync copy, never
   * the primary, never more copies asked for than there are (replica-policy.ts). Checked here, on
   * every write of the entry, whoever sends it.
   */
  async #checkReplicas(name: string, value: JsonValue): Promise<void> {
    const after = volumeSchema.safeParse(value);
    if (!after.success || after.data.kind !== 'replicated') return;
    const { cur, groups, set, leader } = await this.#etcd(`reading volumes/${name}`, async (c) => {
      const [config, groups, set, leader] = await Promise.all([
        c.readConfig(),
        c.portGroups(),
        c.readReplicaSet(name),
        c.leader(name),
      ]);
      return {
        cur: config.entries.find((e) => e.kind === 'volumes' && e.name === name),
        groups,
        set,
        leader,
      };
    });
    const before = cur ? volumeSchema.safeParse(cur.value) : undefined;
    const every = groups.map((g) => g.node);
    const was = before?.success ? (before.data.replicas ?? every) : [];
    const now = after.data.replicas ?? every;
    const changed =
      JSON.stringify([...was].sort()) !== JSON.stringify([...now].sort()) ||
      (before?.success ? before.data.minInSync : undefined) !== after.data.minInSync;
    if (!before?.success || !changed) return;
    checkReplicaChange({
      volume: name,
      before: was,
      after: now,
      inSync: set.inSync,
      ...(leader ? { primary: leader.node } : {}),
      ...(after.data.minInSync !== undefined ? { minInSync: after.data.minInSync } : {}),
    });
  }

  async deleteConfig(kind: ConfigKind, name: string, expectedRevision?: number): Promise<boolean> {
    const deleted = await this.#etcd(`deleting ${kind}/${name}`, (c) =>
      c.deleteConfig(kind, name, expectedRevision),
    );
    // A deleted replicated volume's lineage goes too: a volume created again with the same id
    // starts as a new dataset (its replicas are resynced from the new first replica).
    if (deleted && kind === 'volumes')
      await this.#etcd('deleting the replica set', (c) => c.deleteReplicaSet(name));
    return deleted;
  }

  async replaceConfig(
    entries: readonly Omit<AdminConfigEntry, 'revision'>[],
    expectedRevision?: number,
  ): Promise<void> {
    for (const e of entries) if (e.kind === 'volumes') this.#checkPath(e.value);
    await this.#etcd('importing the configuration', (c) => c.replaceConfig(entries, expectedRevision));
  }

  async switchover(volume: string, to?: string): Promise<SwitchoverOutcome> {
    const host = this.#o.cluster;
    const leader = await this.#etcd('switchover', (x) => x.leader(volume));
    const route = routeToPrimary('switchover', volume, this.#o.node, leader, host.members(), to);
    if (!route.local) {
      const client = new AdminClient(route.admin, {
        timeoutMs: SWITCHOVER_MS + 5000,
        tls: this.#o.peerAdminTls,
      });
      try {
        const r = await client.switchover(volume, to, SWITCHOVER_MS + 5000);
        return { volume, from: r.from, to: r.to, epoch: Number(r.epoch) };
      } finally {
        client.close();
      }
    }
    const served = host.served().find((s) => s.volume.id === volume);
    if (!served) throw new TandemError('TANDEM_ERR_ADMIN_NOT_FOUND', `volume ${volume} is not served here`);
    switchoverCandidates({
      volume,
      me: this.#o.node,
      live: host.members().map((m) => m.name),
      ...(served.replication ? { inSync: served.inSync?.() ?? new Set<string>() } : {}),
      ...(to !== undefined ? { to } : {}),
    });
    const next = await host.handOver(volume, () => withTimeout(served.idle(), 10_000), SWITCHOVER_MS, to);
    if (!next) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_UNAVAILABLE',
        `${to ? `${to} did not take ${volume} over` : `no node took ${volume} over`} within ${SWITCHOVER_MS / 1000} s; ${this.#o.node} campaigns again`,
        { retryable: true },
      );
    }
    return { volume, from: this.#o.node, to: next.node, epoch: next.epoch };
  }

  async verify(volume: string, onProgress: (done: number, total: number) => void): Promise<VerifyOutcome> {
    const host = this.#o.cluster;
    const served = host.served().find((s) => s.volume.id === volume);
    const leader = await this.#etcd('verify', (c) => c.leader(volume));
    const route = routeToPrimary('verify', volume, this.#o.node, leader, host.members());
    if (!route.local) {
      const client = new AdminClient(route.admin, { timeoutMs: 5000, tls: this.#o.peerAdminTls });
      try {
        const r = await client.verify(volume, onProgress);
        return {
          regions: Number(r.regions),
          regionSize: Number(r.regionSize),
          differing: (r.differing ?? []).map((d) => ({
            node: d.node,
            offset: Number(d.offset),
            length: Number(d.length),
          })),
        };
      } finally {
        client.close();
      }
    }
    checkVerifiable(volume, served?.replication !== undefined);
    const size = served!.size;
    const r = await served!.replication!.verify((done, total) =>
      onProgress(verifyProgress(size, done, total), size),
    );
    checkCompared(volume, r.nodes);
    return {
      regions: r.regions,
      regionSize: r.regionSize,
      differing: r.differing.map((d) => ({ node: d.node, offset: d.offset, length: d.length })),
    };
  }

  metricsText(): Promise<string> {
    return this.#o.metricsText();
  }
}

async function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
