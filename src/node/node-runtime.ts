import type { VolumeRecoveryInfo } from '../admin/admin-backend.js';
import type {
  ClusterLunConfig,
  ClusterTargetConfig,
  NodeConfig,
  VolumeConfig,
} from '../admin/config-schema.js';
import type { ClusterHost, ServedVolume } from '../admin/node-admin-backend.js';
import { checkBackingPath } from '../backstore/backing-path.js';
import type { BlockDevice } from '../backstore/block-device.js';
import type {
  ConfigEntry,
  ConfigEvent,
  Coordinator,
  LeaderRecord,
  NodeAddresses,
  PortGroup,
  Subscription,
} from '../cluster/coordinator.js';
import { Portal } from '../iscsi/portal.js';
import type { PortalOptions, TargetDirectory, TargetEntry } from '../iscsi/portal-interface.js';
import type { SessionRegistry } from '../iscsi/session-registry.js';
import type { ReplicaSetRecovery } from '../replication/replica-set-lifecycle.js';
import type { OpcodeTable } from '../scsi/opcode-table.js';
import { reason } from '../scsi/sense-reason.js';
import { ScsiTarget } from '../scsi/target.js';
import { clusterPeerSecurity } from '../security/tls.js';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { ClusterLink } from './cluster-link.js';
import { bootstrapConfig, desiredConfig, lunMaskOf } from './desired-config.js';
import { growVolume } from './grow-volume.js';
import { type Mounted, mountLun } from './mount-lun.js';
import { planReconcile } from './plan-reconcile.js';
import { resyncRateBps } from './resync-rate.js';
import {
  hostPortName,
  parseHostPort,
  peerAddresses,
  sendTargetsAddress,
  targetPort,
  targetPortsOf,
} from './target-ports.js';

export interface NodeShared {
  readonly portals: Portal[];
  readonly targets: Map<string, ScsiTarget>;
  readonly sessions: SessionRegistry;
  readonly table: OpcodeTable;
  readonly portalOptions: PortalOptions;
  /** Told of every target engine the runtime creates (metrics observers). */
  readonly onTarget?: (iqn: string, engine: ScsiTarget) => void;
  /** The admin API's address, registered with the cluster ('' when off). */
  readonly adminAddress?: () => string;
  /** Wraps a LU's local store so its calls are timed (the "backstore" latency stage). */
  readonly timeDevice?: (device: BlockDevice, target: string, lun: number) => BlockDevice;
}

/** Builds the node's Coordinator once its listeners' real addresses are known. */
export type CoordinatorFactory = (node: NodeAddresses) => Coordinator;

/**
 * The node runtime, one for both modes (DESIGN.md Configuration): listens, joins its
 * Coordinator (etcd, or the in-process one of embedded mode), allocates its port group and
 * relative ports, then reconciles targets and LUNs from the watched configuration. In cluster
 * mode (a `cluster:` section) the ClusterLink adds forwarding, replication, the cluster's ALUA
 * state and reservation store; an embedded LU is Active/Optimized with its reservations local.
 */
export class NodeRuntime implements ClusterHost {
  readonly #cfg: NodeConfig;
  readonly #log: Logger;
  readonly #shared: NodeShared;
  readonly #makeCoordinator: CoordinatorFactory;
  /** Per portal: the targets it serves (filled by the reconcile; empty until ready). */
  readonly #directories: Map<string, TargetEntry>[] = [];
  readonly #mounted = new Map<string, Mounted>();
  readonly #subs: Subscription[] = [];
  readonly #config = new Map<string, ConfigEntry>();
  /** Targets as the configuration has them now: logins read ACL and CHAP from here, live. */
  readonly #targetConfigs = new Map<string, ClusterTargetConfig>();
  /** Each target's LUN masking as last applied. */
  readonly #masks = new Map<string, ClusterTargetConfig['aclLuns']>();
  coordinator: Coordinator | undefined;
  #link: ClusterLink | undefined;
  #self: NodeAddresses | undefined;
  #group: PortGroup | undefined;
  #portalNames: string[] = [];
  #reconciling: Promise<void> = Promise.resolve();
  #reconcileWanted = false;
  #firstSnapshot: ((err?: unknown) => void) | undefined;
  #stopping = false;

  constructor(cfg: NodeConfig, shared: NodeShared, log: Logger, makeCoordinator: CoordinatorFactory) {
    this.#cfg = cfg;
    this.#shared = shared;
    this.#makeCoordinator = makeCoordinator;
    this.#log = cfg.cluster ? log.child({ mode: 'cluster' }) : log;
  }

  get grpcAddress(): string {
    return this.#link?.address ?? '';
  }

  async start(): Promise<void> {
    const cfg = this.#cfg;
    // 1. Listeners first: their real addresses (port 0) are what the coordinator records.
    if (cfg.cluster) {
      this.#link = await ClusterLink.listen(
        {
          node: cfg.node.name,
          dataDir: cfg.node.dataDir,
          targets: this.#shared.targets,
          portsChanged: () => {
            for (const [iqn, engine] of this.#shared.targets) this.#setEnginePorts(iqn, engine);
          },
          stopping: () => this.#stopping,
          // TLS material (or insecure: true) before anything listens: a bad file stops the start.
          peers: clusterPeerSecurity(cfg, this.#log),
        },
        cfg.cluster,
        this.#log,
      );
    }
    for (const [i, hp] of cfg.portals.entries()) {
      const { host, port } = parseHostPort(hp);
      const entries = new Map<string, TargetEntry>();
      this.#directories.push(entries);
      const directory: TargetDirectory = {
        // Nothing is served before the node has joined and reconciled (login: target not found).
        lookup: (name) => entries.get(name),
        all: () => [...entries.values()],
      };
      const portal = await Portal.listen(
        host,
        port,
        this.#shared.portalOptions,
        directory,
        this.#shared.sessions,
        this.#log,
      );
      this.#shared.portals.push(portal);
      this.#portalNames[i] = hostPortName(portal.host, portal.port);
    }

    // 2. Join: session, membership, ids.
    this.#self = {
      name: cfg.node.name,
      portals: this.#portalNames,
      grpc: this.grpcAddress,
      admin: this.#shared.adminAddress?.() ?? '',
    };
    const coordinator = this.#makeCoordinator(this.#self);
    this.coordinator = coordinator;
    await coordinator.start();
    this.#group = await coordinator.allocatePortGroup();
    if (this.#link) {
      this.#log.info(
        { targetPortGroupId: this.#group.targetPortGroupId, ports: this.#group.ports },
        'joined the cluster',
      );
    }

    // 3. Bootstrap the desired configuration if the cluster has none (embedded: the coordinator
    // bootstraps its own store on the first start).
    if (cfg.bootstrap) await bootstrapConfig(coordinator, cfg.bootstrap, this.#log);

    // 4. Cluster mode: ALUA, forwarding, membership, reservations.
    await this.#link?.join(coordinator, this.#group);

    // 5. Configuration: reconcile the first snapshot before reporting ready.
    const first = new Promise<void>((resolve, reject) => {
      this.#firstSnapshot = (err) => (err ? reject(err) : resolve());
    });
    this.#subs.push(await coordinator.watchConfig((ev) => this.#onConfig(ev)));
    await first;
    if (this.#link) await this.#settle(this.#cfg.cluster!.leaseTtlSeconds);
  }

  /** Waits (bounded) until every LU has its ALUA state: a primary has published one. */
  async #settle(leaseTtlSeconds: number): Promise<void> {
    const deadline = Date.now() + (2 * leaseTtlSeconds + 5) * 1000;
    const settled = () =>
      [...this.#mounted.values()].every((m) =>
        ['active-optimized', 'active-non-optimized', 'standby'].includes(m.lu.access!.state()),
      );
    while (!settled() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (!settled()) this.#log.warn('some volumes have no primary yet; serving them as Transitioning');
  }

  #onConfig(ev: ConfigEvent): void {
    if (ev.type === 'snapshot') {
      this.#config.clear();
      for (const e of ev.entries) this.#config.set(`${e.kind}/${e.name}`, e);
    } else if (ev.type === 'put') {
      this.#config.set(`${ev.entry.kind}/${ev.entry.name}`, ev.entry);
    } else {
      this.#config.delete(`${ev.kind}/${ev.name}`);
    }
    this.#scheduleReconcile();
  }

  /** One reconcile at a time; changes that arrive meanwhile cause one more. */
  #scheduleReconcile(): void {
    if (this.#reconcileWanted) return;
    this.#reconcileWanted = true;
    this.#reconciling = this.#reconciling.then(async () => {
      this.#reconcileWanted = false;
      if (this.#stopping) return;
      const first = this.#firstSnapshot;
      this.#firstSnapshot = undefined;
      let failed: unknown;
      try {
        failed = await this.#reconcile();
      } catch (err) {
        this.#log.error({ err }, 'reconcile failed');
      }
      // Embedded mode: the node file's LUNs must all be served, or tandemd does not start.
      first?.(this.#link ? undefined : failed);
    });
  }

  /** Applies the plan; resolves the first mount error (logged, the rest goes on). */
  async #reconcile(): Promise<unknown> {
    let failed: unknown;
    const desired = desiredConfig(this.#config.values(), this.#log);
    const steps = planReconcile(desired, {
      luns: this.#mounted,
      targets: this.#targetConfigs,
      masks: this.#masks,
    });
    for (const step of steps) {
      switch (step.kind) {
        case 'target':
          this.#targetConfigs.set(step.iqn, step.config);
          this.#ensureTarget(step.iqn, step.config.alias);
          break;
        case 'mask': {
          const engine = this.#shared.targets.get(step.iqn)!;
          this.#masks.set(step.iqn, step.aclLuns);
          engine.lunMask = lunMaskOf(step.aclLuns);
          // What some initiators may see changed: they re-read REPORT LUNS.
          for (const lu of engine.logicalUnits().values())
            lu.unitAttentions.establishAll(lu.knownNexuses(), reason('REPORTED_LUNS_DATA_HAS_CHANGED'));
          break;
        }
        case 'forget-target':
          this.#targetConfigs.delete(step.iqn);
          break;
        case 'unmount':
          await this.#unmount(this.#mounted.get(step.key)!);
          break;
        case 'update': {
          const m = this.#mounted.get(step.key)!;
          if (step.standby) this.#link?.setStandby(step.volume.id, step.volume.standby);
          if (step.resize) await growVolume(m, step.volume, this.#log);
          this.#mounted.set(step.key, { ...this.#mounted.get(step.key)!, volume: step.volume });
          this.#link?.volumeChanged(step.volume);
          break;
        }
        case 'skip': {
          const { target, lun, volume } = step.lun;
          if (step.why === 'no-volume')
            this.#log.warn({ target, lun, volume }, 'LUN names a volume that does not exist');
          else if (step.why === 'no-target')
            this.#log.warn({ target, lun }, 'LUN names a target that does not exist');
          else this.#log.error({ target, lun, volume }, 'a volume can back one LUN only');
          break;
        }
        case 'mount':
          try {
            await this.#mount(step.key, step.lun, step.volume);
          } catch (err) {
            failed ??= err;
            this.#log.error(
              { err, target: step.lun.target, lun: step.lun.lun, volume: step.volume.id },
              'cannot serve LUN',
            );
          }
          break;
      }
    }
    // Live: a volume's own resync rate, else the cluster's (settings/cluster), else unlimited.
    for (const m of this.#mounted.values())
      m.replication?.setResyncRate(
        resyncRateBps(desired.volumes.get(m.volume.id) ?? m.volume, desired.settings),
      );
    return failed;
  }

  #ensureTarget(iqn: string, alias: string | undefined): void {
    if (this.#shared.targets.has(iqn)) return;
    const engine = new ScsiTarget(this.#shared.table, this.#log.child({ target: iqn }));
    engine.forwardIdPrefix = `${this.#cfg.node.name}-${process.pid}-${Date.now().toString(36)}`;
    this.#shared.targets.set(iqn, engine);
    this.#shared.onTarget?.(iqn, engine);
    this.#setEnginePorts(iqn, engine);
    const group = this.#group!;
    const relOf = (k: number) => group.ports.find((p) => p.portal === this.#portalNames[k])!.relativePortId;
    for (const [i, entries] of this.#directories.entries()) {
      const rel = relOf(i);
      entries.set(iqn, {
        name: iqn,
        ...(alias ? { alias } : {}),
        engine,
        portalGroupTag: rel,
        targetPort: targetPort(iqn, rel, group.targetPortGroupId),
        // SendTargets lists every live node's portals (each with its own TPGT), so one
        // discovery finds every path of a multipath setup.
        addresses: (local) => [
          ...this.#shared.portals.map((p, k) => sendTargetsAddress(p.host, p.port, relOf(k), local)),
          ...peerAddresses(this.#cfg.node.name, this.#link?.members ?? [], this.#link?.portGroups() ?? []),
        ],
        // A target deleted from the configuration admits nobody (its entry stays until restart).
        admits: (initiator) => {
          const t = this.#targetConfigs.get(iqn);
          return t !== undefined && (!t.acl || t.acl.includes(initiator));
        },
      });
      const entry = entries.get(iqn)!;
      Object.defineProperty(entry, 'auth', {
        enumerable: true,
        get: () => this.#targetConfigs.get(iqn)?.auth,
      });
    }
    this.#log.info({ target: iqn }, 'target ready');
  }

  /** Every port of every node's group is a port of the target (RTPG, INQUIRY MULTIP). */
  #setEnginePorts(iqn: string, engine: ScsiTarget): void {
    const groups = this.#link?.portGroups() ?? [];
    engine.setTargetPorts(targetPortsOf(iqn, groups.length > 0 ? groups : [this.#group!]));
  }

  /**
   * Cluster mode: the path to open for `vol`, in the data directory or allowedDevices, never the
   * node's own state (DESIGN.md Trust). The cluster configuration is remote input; the embedded
   * node file is the operator's own.
   */
  checkVolumePath(vol: VolumeConfig): string {
    const { dataDir } = this.#cfg.node;
    const tls = this.#cfg.tls;
    const reserved = ['replication', 'reservations', ...(tls ? [tls.ca, tls.cert, tls.key] : [])];
    const dirs = { dataDir, allowedDevices: this.#cfg.allowedDevices, reserved };
    return checkBackingPath(vol.path ?? `${vol.id}.img`, dirs, `volumes/${vol.id} path`);
  }

  async #mount(key: string, l: ClusterLunConfig, vol: VolumeConfig): Promise<void> {
    const mounted = await mountLun(
      {
        cfg: this.#cfg,
        log: this.#log,
        coordinator: this.coordinator!,
        link: this.#link,
        group: this.#group!,
        targets: this.#shared.targets,
        timeDevice: this.#shared.timeDevice,
        checkVolumePath: (v) => this.checkVolumePath(v),
      },
      key,
      l,
      vol,
    );
    this.#mounted.set(key, mounted);
  }

  async #unmount(m: Mounted): Promise<void> {
    this.#mounted.delete(m.key);
    this.#shared.targets.get(m.target)?.removeLun(m.lun);
    // In-flight commands finish on the LU they started on (bounded), then the store closes.
    const deadline = Date.now() + 10_000;
    while (m.lu.taskSet.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (this.#link) await this.#link.unwire(m.volume.id);
    else await this.coordinator?.resign(m.volume.id);
    m.lu.modeStore?.close();
    await this.#close(m);
    this.#log.info({ target: m.target, lun: m.lun, volume: m.volume.id }, 'logical unit removed');
  }

  /** Flushes and closes a LU's store (a mirror closes the device it wraps). */
  async #close(m: Mounted): Promise<void> {
    try {
      await m.device.flush();
      if (m.replication) await m.replication.close();
      else await m.device.close();
    } catch (err) {
      this.#log.error({ err, device: m.device.description }, 'closing a backing store failed');
    }
  }

  // ---- ClusterHost (the admin backend's view) ------------------------------------------------

  members(): readonly NodeAddresses[] {
    return this.#link ? this.#link.members : this.#self ? [this.#self] : [];
  }

  served(): readonly ServedVolume[] {
    return [...this.#mounted.values()].map((m) => ({
      volume: m.volume,
      size: m.replication?.blockDevice.size ?? m.device.size,
      aluaState: () => (this.#link ? this.#link.localState(m.volume.id) : 'active-optimized'),
      ...(m.replication
        ? {
            replication: m.replication,
            inSync: () => this.#link!.inSync(m.volume.id),
            recovery: () => recoveryInfo(this.#link?.recovery(m.volume.id)),
          }
        : {}),
      idle: async () => {
        // The draining primary refuses new media commands; wait for those already running.
        while (m.lu.taskSet.size > 0) await new Promise((r) => setTimeout(r, 10));
      },
    }));
  }

  handOver(
    volume: string,
    drained: () => Promise<void>,
    timeoutMs: number,
    to?: string,
  ): Promise<LeaderRecord | undefined> {
    if (!this.#link || !this.#group)
      throw new TandemError('TANDEM_ERR_CLUSTER_UNAVAILABLE', 'the node is still joining');
    return this.#link.handOver(volume, drained, timeoutMs, to);
  }

  /** HOST:PORT of relative target port `id` of this node ('' if it is not one of ours). */
  portalOf(relativePortId: number): string {
    return this.#group?.ports.find((p) => p.relativePortId === relativePortId)?.portal ?? '';
  }

  /** After the portals have drained: leave the cluster (resigning hands every volume over). */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#reconciling.catch(() => undefined);
    await this.#link?.close();
    for (const s of this.#subs) await s.close().catch(() => undefined);
    await this.coordinator
      ?.close()
      .catch((err: unknown) => this.#log.warn({ err }, 'leaving the cluster failed'));
    await this.#link?.closeServer();
    for (const m of this.#mounted.values()) await this.#close(m);
    this.#mounted.clear();
  }
}

/** The lifecycle's recovery as the admin backend reports it (admin-backend.ts VolumeRecoveryInfo). */
function recoveryInfo(r: ReplicaSetRecovery | undefined): Omit<VolumeRecoveryInfo, 'node'> | undefined {
  if (!r) return undefined;
  return {
    state: r.state,
    source: r.source,
    missing: [...r.missing],
    generation: { ...r.generation },
    ...(r.newest ? { newest: { ...r.newest } } : {}),
    reason: r.reason,
  };
}
