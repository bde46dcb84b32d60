import fs from 'node:fs';
import path from 'node:path';
import {
  type ClusterConfig,
  type ClusterLunConfig,
  type ClusterTargetConfig,
  clusterLunSchema,
  clusterTargetSchema,
  type NodeConfig,
  type VolumeConfig,
  volumeSchema,
} from '../admin/config-schema.js';
import type { ClusterHost, ServedVolume } from '../admin/node-admin-backend.js';
import { checkBackingPath } from '../backstore/backing-path.js';
import type { BlockDevice } from '../backstore/block-device.js';
import { FileDevice } from '../backstore/file.js';
import { ClusterAlua, PREFERRED_GRACE_MS } from '../cluster/alua-source.js';
import type {
  ConfigEntry,
  ConfigEvent,
  LeaderRecord,
  NodeAddresses,
  PortGroup,
  Subscription,
} from '../cluster/coordinator.js';
import { EtcdCoordinator } from '../cluster/etcd-coordinator.js';
import { ForwardClient } from '../cluster/forward-client.js';
import { ForwardServer } from '../cluster/forward-server.js';
import { ClusterReservationStore } from '../cluster/reservation-store.js';
import { Portal } from '../iscsi/portal.js';
import type { PortalOptions, TargetDirectory, TargetEntry } from '../iscsi/portal-interface.js';
import type { SessionRegistry } from '../iscsi/session-registry.js';
import { addReplicationService, ReplicatedVolume } from '../replication/index.js';
import { ReplicaSetLifecycle } from '../replication/replica-set-lifecycle.js';
import type { TargetPort } from '../scsi/command.js';
import type { ForwardedCommand, ForwardedCompletion } from '../scsi/forwarding.js';
import { LogicalUnit } from '../scsi/logical-unit.js';
import type { OpcodeTable } from '../scsi/opcode-table.js';
import { buildSense, reason } from '../scsi/sense-reason.js';
import { ScsiStatus } from '../scsi/spec/status.js';
import { ScsiTarget } from '../scsi/target.js';
import { clusterPeerSecurity, etcdClientSettings, type PeerSecurity } from '../security/tls.js';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { ClusterMirrorAuthorizer } from './mirror-authorizer.js';
import { lunKey, planReconcile } from './plan-reconcile.js';
import { hostPortName, parseHostPort, sendTargetsAddress, targetPort } from './target-ports.js';

/** `/tandem/local` → `/tandem/local/` (KeyLayout wants the trailing slash). */
function keyPrefix(prefix: string): string {
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

interface Mounted {
  readonly key: string;
  readonly target: string;
  readonly lun: number;
  readonly volume: VolumeConfig;
  readonly lu: LogicalUnit;
  readonly device: BlockDevice;
  readonly store: ClusterReservationStore;
  /** Replicated volumes: the mirror (its blockDevice is what the LU writes to). */
  readonly replication?: ReplicatedVolume;
}

interface Desired {
  targets: Map<string, ClusterTargetConfig>;
  volumes: Map<string, VolumeConfig>;
  luns: Map<string, ClusterLunConfig>;
}

export interface ClusterShared {
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

/** LUN masking from a target's `aclLuns` (initiator → LUNs), with the sets built once. */
export function lunMaskOf(
  aclLuns: Readonly<Record<string, readonly number[]>> | undefined,
): ((initiator: string) => ReadonlySet<number> | undefined) | undefined {
  if (!aclLuns) return undefined;
  const sets = new Map(Object.entries(aclLuns).map(([i, l]) => [i, new Set(l)]));
  return (initiator) => sets.get(initiator);
}

/**
 * Cluster mode of the composition root (DESIGN.md Configuration): joins etcd, allocates this
 * node's port group and relative ports, bootstraps the configuration if etcd has none, then
 * reconciles targets and LUNs from the watched configuration and wires every LU to the
 * cluster's ALUA state, reservation store and command forwarding.
 */
export class ClusterRuntime implements ClusterHost {
  readonly #cfg: NodeConfig;
  readonly #cc: ClusterConfig;
  readonly #log: Logger;
  readonly #shared: ClusterShared;
  /** Per portal: the targets it serves (filled by the reconcile; empty until ready). */
  readonly #directories: Map<string, TargetEntry>[] = [];
  readonly #mounted = new Map<string, Mounted>();
  /** Replicated volumes served here, by volume id (the replication service looks them up). */
  readonly #replicated = new Map<string, ReplicatedVolume>();
  readonly #subs: Subscription[] = [];
  readonly #config = new Map<string, ConfigEntry>();
  /** Targets as the configuration has them now: logins read ACL and CHAP from here, live. */
  readonly #targetConfigs = new Map<string, ClusterTargetConfig>();
  /** Each target's LUN masking as last applied. */
  readonly #masks = new Map<string, ClusterTargetConfig['aclLuns']>();
  coordinator: EtcdCoordinator | undefined;
  forwardServer: ForwardServer | undefined;
  #forwardClient: ForwardClient | undefined;
  #alua: ClusterAlua | undefined;
  #lifecycle: ReplicaSetLifecycle | undefined;
  #group: PortGroup | undefined;
  #era = '';
  #portalNames: string[] = [];
  #members: NodeAddresses[] = [];
  #reconciling: Promise<void> = Promise.resolve();
  #reconcileWanted = false;
  #firstSnapshot: (() => void) | undefined;
  #stopping = false;
  #peers: PeerSecurity | undefined;

  constructor(cfg: NodeConfig, shared: ClusterShared, log: Logger) {
    this.#cfg = cfg;
    this.#cc = cfg.cluster!;
    this.#shared = shared;
    this.#log = log.child({ mode: 'cluster' });
  }

  get grpcAddress(): string {
    return this.forwardServer?.address ?? '';
  }

  async start(): Promise<void> {
    const cfg = this.#cfg;

    // 0. TLS material (or insecure: true) before anything listens: a bad file stops the start.
    const peers = clusterPeerSecurity(cfg, this.#log);
    this.#peers = peers;
    const etcd = etcdClientSettings(this.#cc.etcd, cfg, this.#log);
    // 1. Listeners first: their real addresses (port 0) are what the cluster records.
    this.forwardServer = await ForwardServer.listen(
      this.#cc.grpc,
      {
        executeForwarded: (fc, onAbort) => this.#executeForwarded(fc, onAbort),
        resetFromPeer: async (volume, ua) => {
          let found = false;
          for (const engine of this.#shared.targets.values())
            found = (await engine.resetFromPeer(volume, ua)) || found;
          return found;
        },
      },
      this.#log,
      (server) =>
        addReplicationService(
          server,
          (volume) => this.#replicated.get(volume),
          this.#log,
          // Streams only from etcd's primary at its epoch (DESIGN.md Trust); none before joining.
          new ClusterMirrorAuthorizer(() =>
            this.#era ? { era: this.#era, leader: (v) => this.coordinator!.leader(v) } : undefined,
          ),
        ),
      {
        ...(peers.secure ? { credentials: peers.serverCredentials() } : {}),
        isMember: (node) => this.#members.some((m) => m.name === node),
      },
    );
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

    // 2. Join: session lease, membership, ids.
    const coordinator = new EtcdCoordinator({
      node: {
        name: cfg.node.name,
        portals: this.#portalNames,
        grpc: this.grpcAddress,
        admin: this.#shared.adminAddress?.() ?? '',
      },
      logger: this.#log,
      ...etcd,
      prefix: keyPrefix(this.#cc.prefix),
      leaseTtlSeconds: this.#cc.leaseTtlSeconds,
    });
    this.coordinator = coordinator;
    this.#lifecycle = new ReplicaSetLifecycle({
      node: cfg.node.name,
      logger: this.#log,
      store: {
        readReplicaSet: (v) => coordinator.readReplicaSet(v),
        createReplicaSet: (v, d) => coordinator.createReplicaSet(v, d),
        setInSync: (v, e, n, i) => coordinator.setInSync(v, e, n, i),
        leaveInSync: (v) => coordinator.leaveInSync(v),
        liveNodes: async () => (await coordinator.members()).map((m) => m.name),
      },
      watchedInSync: (v) => this.#alua?.replicaSet(v)?.inSync,
    });
    await coordinator.start();
    this.#group = await coordinator.allocatePortGroup();
    this.#era = await coordinator.era();
    this.#log.info(
      { targetPortGroupId: this.#group.targetPortGroupId, ports: this.#group.ports },
      'joined the cluster',
    );

    // 3. Bootstrap the desired configuration if etcd has none.
    await this.#bootstrap();

    // 4. ALUA, forwarding, membership, reservations.
    this.#forwardClient = new ForwardClient({
      originNode: cfg.node.name,
      primaryOf: (volume) => this.#alua?.primaryOf(volume),
      // Shared volumes: every live node serves every volume.
      peersOf: () =>
        this.#members
          .filter((m) => m.name !== cfg.node.name && m.grpc)
          .map((m) => ({ node: m.name, address: m.grpc })),
      logger: this.#log,
      credentials: (node) => peers.channelCredentials(node),
    });
    this.#alua = new ClusterAlua({
      coordinator,
      portGroup: this.#group,
      logger: this.#log,
      onPrimaryChange: (volume, leader) => this.#forwardClient?.primaryChanged(volume, leader?.node),
      primaryReachable: (address) => this.#forwardClient?.reachable(address) ?? false,
      prepare: (volume, epoch) => this.#preparePrimary(volume, epoch),
    });
    coordinator.on('leadershipLost', ({ volume }) => {
      this.#lifecycle?.lostPrimary(volume);
      this.#replicated.get(volume)?.lostPrimary();
    });
    await this.#alua.start();
    this.#subs.push(
      await coordinator.watchMembers((members) => {
        this.#members = members;
        // After the port groups are re-read: a joining node's group names it as a replica.
        void this.#alua?.membersChanged(members).then(() => {
          this.#refreshPorts();
          for (const rv of this.#replicated.values()) rv.peersChanged();
        });
      }),
    );
    this.#subs.push(
      await coordinator.watchReservations((volume, value, rev) => {
        for (const m of this.#mounted.values()) if (m.volume.id === volume) m.store.deliver(value, rev);
      }),
    );

    // 5. Configuration: reconcile the first snapshot before reporting ready.
    const first = new Promise<void>((resolve) => {
      this.#firstSnapshot = resolve;
    });
    this.#subs.push(await coordinator.watchConfig((ev) => this.#onConfig(ev)));
    await first;
    await this.#settle();
  }

  async #bootstrap(): Promise<void> {
    const b = this.#cfg.bootstrap;
    const c = this.coordinator!;
    if (!b) return;
    const current = await c.readConfig();
    if (current.entries.length > 0) {
      this.#log.info({ entries: current.entries.length }, 'configuration exists in etcd: bootstrap ignored');
      return;
    }
    for (const t of b.targets) await c.putConfig('targets', t.iqn, { ...t });
    for (const v of b.volumes) await c.putConfig('volumes', v.id, JSON.parse(JSON.stringify(v)));
    for (const l of b.luns) await c.putConfig('luns', lunKey(l.target, l.lun), { ...l });
    this.#log.info(
      { targets: b.targets.length, volumes: b.volumes.length, luns: b.luns.length },
      'configuration bootstrapped into etcd',
    );
  }

  /** Waits (bounded) until every LU has its ALUA state: a primary has published one. */
  async #settle(): Promise<void> {
    const deadline = Date.now() + (2 * this.#cc.leaseTtlSeconds + 5) * 1000;
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
      try {
        await this.#reconcile();
      } catch (err) {
        this.#log.error({ err }, 'reconcile failed');
      }
      const f = this.#firstSnapshot;
      this.#firstSnapshot = undefined;
      f?.();
    });
  }

  #desired(): Desired {
    const d: Desired = { targets: new Map(), volumes: new Map(), luns: new Map() };
    for (const e of this.#config.values()) {
      const parse = <T>(schema: {
        safeParse(v: unknown): { success: true; data: T } | { success: false; error: { message: string } };
      }) => {
        const r = schema.safeParse(e.value);
        if (!r.success) {
          this.#log.error(
            { kind: e.kind, name: e.name, error: r.error.message },
            'ignoring an invalid configuration entry',
          );
          return undefined;
        }
        return r.data;
      };
      if (e.kind === 'targets') {
        const t = parse<ClusterTargetConfig>(clusterTargetSchema);
        if (t) d.targets.set(t.iqn, t);
      } else if (e.kind === 'volumes') {
        const v = parse<VolumeConfig>(volumeSchema);
        if (v) d.volumes.set(v.id, v);
      } else if (e.kind === 'luns') {
        const l = parse<ClusterLunConfig>(clusterLunSchema);
        if (l) d.luns.set(lunKey(l.target, l.lun), l);
      }
    }
    return d;
  }

  async #reconcile(): Promise<void> {
    const steps = planReconcile(this.#desired(), {
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
          if (step.standby) this.#alua!.setStandby(step.volume.id, step.volume.standby);
          if (step.resize) await this.#resize(m, step.volume);
          this.#mounted.set(step.key, { ...this.#mounted.get(step.key)!, volume: step.volume });
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
            this.#log.error(
              { err, target: step.lun.target, lun: step.lun.lun, volume: step.volume.id },
              'cannot serve LUN',
            );
          }
          break;
      }
    }
  }

  #ensureTarget(iqn: string, alias: string | undefined): void {
    if (this.#shared.targets.has(iqn)) return;
    const engine = new ScsiTarget(this.#shared.table, this.#log.child({ target: iqn }));
    engine.forwardIdPrefix = `${this.#cfg.node.name}-${process.pid}-${Date.now().toString(36)}`;
    this.#shared.targets.set(iqn, engine);
    this.#shared.onTarget?.(iqn, engine);
    this.#setEnginePorts(iqn, engine);
    const group = this.#group!;
    for (const [i, entries] of this.#directories.entries()) {
      const rel = group.ports.find((p) => p.portal === this.#portalNames[i])!.relativePortId;
      entries.set(iqn, {
        name: iqn,
        ...(alias ? { alias } : {}),
        engine,
        portalGroupTag: rel,
        targetPort: targetPort(iqn, rel, group.targetPortGroupId),
        // SendTargets lists every live node's portals (each with its own TPGT), so one
        // discovery finds every path of a multipath setup.
        addresses: (local) => {
          const own = this.#shared.portals.map((p, k) => {
            const r = group.ports.find((x) => x.portal === this.#portalNames[k])!.relativePortId;
            return sendTargetsAddress(p.host, p.port, r, local);
          });
          const others: string[] = [];
          const groups = this.#alua?.portGroups() ?? [];
          for (const m of this.#members) {
            if (m.name === this.#cfg.node.name) continue;
            const g = groups.find((x) => x.node === m.name);
            for (const portal of m.portals) {
              const r = g?.ports.find((x) => x.portal === portal)?.relativePortId;
              if (r !== undefined && !/^(0\.0\.0\.0|\[::\]):/.test(portal)) others.push(`${portal},${r}`);
            }
          }
          return [...own, ...others];
        },
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
    const groups = this.#alua?.portGroups() ?? [];
    const ports: TargetPort[] = [];
    for (const g of groups.length > 0 ? groups : [this.#group!]) {
      for (const p of g.ports) ports.push(targetPort(iqn, p.relativePortId, g.targetPortGroupId));
    }
    engine.setTargetPorts(ports);
  }

  #refreshPorts(): void {
    for (const [iqn, engine] of this.#shared.targets) this.#setEnginePorts(iqn, engine);
  }

  /**
   * A volume's configured size changed: grow its store in place (every node does, for its own
   * store or the shared one; growing is idempotent) and tell every nexus on this node (SBC-3
   * 4.10: CAPACITY DATA HAS CHANGED). Shrinking is refused: blocks in use would vanish.
   */
  async #resize(m: Mounted, vol: VolumeConfig): Promise<void> {
    const want = vol.size;
    const have = m.device.size;
    if (want === undefined || want === have) return;
    if (m.replication) {
      this.#log.error(
        { volume: vol.id, from: have, to: want },
        'resizing a replicated volume is not supported yet: size unchanged',
      );
      return;
    }
    if (want < have || !m.device.grow) {
      this.#log.error(
        { volume: vol.id, from: have, to: want },
        'the volume cannot shrink or grow here: size unchanged',
      );
      return;
    }
    try {
      await m.device.grow(want);
    } catch (err) {
      this.#log.error({ err, volume: vol.id, to: want }, 'growing the volume failed');
      return;
    }
    m.lu.unitAttentions.establishAll(m.lu.knownNexuses(), reason('CAPACITY_DATA_HAS_CHANGED'));
    this.#log.info({ volume: vol.id, from: have, to: want }, 'volume grown: CAPACITY DATA HAS CHANGED');
  }

  /** The path to open for `vol`: in the data directory or allowedDevices (DESIGN.md Trust). */
  checkVolumePath(vol: VolumeConfig): string {
    const { dataDir } = this.#cfg.node;
    const tls = this.#cfg.tls;
    const reserved = ['replication', 'reservations', ...(tls ? [tls.ca, tls.cert, tls.key] : [])];
    const dirs = { dataDir, allowedDevices: this.#cfg.allowedDevices, reserved };
    return checkBackingPath(vol.path ?? `${vol.id}.img`, dirs, `volumes/${vol.id} path`);
  }

  async #openDevice(vol: VolumeConfig): Promise<BlockDevice> {
    // A shared volume's path names the one store every node opens (absolute, normally).
    const file = this.checkVolumePath(vol);
    const open = () =>
      FileDevice.open(file, {
        ...(vol.size ? { createSize: vol.size } : {}),
        readOnly: vol.readOnly,
        warn: (m) => this.#log.warn({ file }, m),
      });
    try {
      return await open();
    } catch (err) {
      // Two nodes creating the same shared file at once: one wins, the other opens it.
      if (fs.existsSync(file)) return open();
      throw err;
    }
  }

  /** `vol`'s preferred first primary: its first replica, else the first node by name. */
  #preferred(vol: VolumeConfig): string | undefined {
    if (vol.replicas && vol.replicas.length > 0) return vol.replicas[0];
    const all = [this.#cfg.node.name, ...(this.#alua?.portGroups() ?? []).map((g) => g.node)];
    return all.sort()[0];
  }

  /** The other nodes holding a replica of `vol`: its `replicas`, else every node ever joined. */
  #replicaNodes(vol: VolumeConfig): string[] {
    const me = this.#cfg.node.name;
    const all = vol.replicas ?? (this.#alua?.portGroups() ?? []).map((g) => g.node);
    return [...new Set(all)].filter((n) => n !== me).sort();
  }

  /** Won the election of a volume: a replicated volume's mirror gets ready first. */
  async #preparePrimary(volume: string, epoch: number): Promise<void> {
    const rv = this.#replicated.get(volume);
    if (rv) await this.#lifecycle!.becamePrimary(volume, epoch, rv);
  }

  async #openReplicated(
    vol: VolumeConfig,
    device: BlockDevice,
    onPeerWait: (seconds: number) => void,
  ): Promise<ReplicatedVolume> {
    const c = this.coordinator!;
    const me = this.#cfg.node.name;
    const rv = new ReplicatedVolume({
      volume: vol.id,
      node: me,
      logger: this.#log.child({ volume: vol.id }),
      device,
      stateDir: path.join(this.#cfg.node.dataDir, 'replication'),
      inSync: this.#lifecycle!.inSyncSet(vol.id),
      peers: () => {
        const replicas = new Set(this.#replicaNodes(vol));
        return this.#members
          .filter((m) => replicas.has(m.name) && m.grpc)
          .map((m) => ({ node: m.name, address: m.grpc }));
      },
      replicas: () => this.#replicaNodes(vol),
      canServeWrites: () => c.canServeWrites(vol.id),
      era: this.#era,
      onPeerWait,
      peerCredentials: (node) => this.#peers!.channelCredentials(node),
    });
    await rv.open();
    const preferred = this.#preferred(vol);
    // A new volume starts on its preferred node (its first replica) when that node is up: give
    // it the grace period to create the dataset, so the placement is predictable. The wait
    // watches the replica sets the ALUA source already follows; etcd is read once after.
    await this.#lifecycle!.bootstrap(vol.id, rv, preferred, async () => {
      const deadline = Date.now() + PREFERRED_GRACE_MS;
      while (
        this.#alua?.replicaSet(vol.id)?.dataset === undefined &&
        Date.now() < deadline &&
        !this.#stopping &&
        this.#members.some((m) => m.name === preferred)
      ) {
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    return rv;
  }

  async #mount(key: string, l: ClusterLunConfig, vol: VolumeConfig): Promise<void> {
    const c = this.coordinator!;
    const engine = this.#shared.targets.get(l.target)!;
    const raw = await this.#openDevice(vol);
    // Timed: the LU's own I/O on the primary, and on a replica the mirrored writes it applies.
    const device = this.#shared.timeDevice?.(raw, l.target, l.lun) ?? raw;
    let replication: ReplicatedVolume | undefined;
    try {
      if (vol.kind === 'replicated') {
        replication = await this.#openReplicated(vol, device, (s) =>
          this.#shared.targets.get(l.target)?.observer?.stage(l.lun, 'replication', s),
        );
        this.#replicated.set(vol.id, replication);
      }
      const seed = await c.volumeSeed(vol.id);
      const store = await ClusterReservationStore.open({
        coordinator: c,
        volume: vol.id,
        servingNodes: () => this.#members.map((m) => m.name),
        logger: this.#log,
      });
      const holder: { lu?: LogicalUnit } = {};
      const access = await this.#alua!.addVolume(
        vol.id,
        { standby: vol.standby, replicated: vol.kind === 'replicated', preferred: this.#preferred(vol) },
        () => {
          const lu = holder.lu;
          // SPC-4 5.15.2.3: every I_T nexus of the LU learns of the change (here: those on this node).
          if (lu)
            lu.unitAttentions.establishAll(lu.knownNexuses(), reason('ASYMMETRIC_ACCESS_STATE_CHANGED'));
        },
      );
      const lu = new LogicalUnit(
        replication?.blockDevice ?? device,
        { volumeId: vol.id, blockSize: vol.blockSize, readOnly: vol.readOnly, identitySeed: seed },
        { reservationStore: store, access, forwarder: this.#forwardClient! },
      );
      holder.lu = lu;
      engine.addLun(l.lun, lu);
      this.#mounted.set(key, {
        key,
        target: l.target,
        lun: l.lun,
        volume: vol,
        lu,
        device,
        store,
        ...(replication ? { replication } : {}),
      });
      this.#log.info(
        {
          target: l.target,
          lun: l.lun,
          volume: vol.id,
          kind: vol.kind,
          backstore: device.description,
          bytes: device.size,
        },
        'logical unit ready',
      );
    } catch (err) {
      if (replication) {
        this.#replicated.delete(vol.id);
        await replication.close().catch(() => undefined);
      } else await device.close().catch(() => undefined);
      throw err;
    }
  }

  async #unmount(m: Mounted): Promise<void> {
    this.#mounted.delete(m.key);
    this.#shared.targets.get(m.target)?.removeLun(m.lun);
    // In-flight commands finish on the LU they started on (bounded), then the store closes.
    const deadline = Date.now() + 10_000;
    while (m.lu.taskSet.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await this.#alua?.removeVolume(m.volume.id);
    m.store.close();
    try {
      await m.device.flush();
      if (m.replication) {
        // It closes the device it wraps.
        this.#replicated.delete(m.volume.id);
        await m.replication.close();
      } else await m.device.close();
    } catch (err) {
      this.#log.error({ err, device: m.device.description }, 'closing a backing store failed');
    }
    this.#log.info({ target: m.target, lun: m.lun, volume: m.volume.id }, 'logical unit removed');
  }

  #executeForwarded(fc: ForwardedCommand, onAbort: (hook: () => void) => void): Promise<ForwardedCompletion> {
    const engine = this.#shared.targets.get(fc.nexus.targetName);
    if (!engine) {
      return Promise.resolve({
        status: ScsiStatus.CHECK_CONDITION,
        sense: buildSense(reason('LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION')),
        transferLength: 0,
      });
    }
    return engine.executeForwarded(fc, onAbort);
  }

  // ---- ClusterHost (the admin backend's view) ------------------------------------------------

  members(): readonly NodeAddresses[] {
    return this.#members;
  }

  served(): readonly ServedVolume[] {
    return [...this.#mounted.values()].map((m) => {
      const inSync = this.#lifecycle!.inSyncSet(m.volume.id);
      return {
        volume: m.volume,
        size: m.device.size,
        aluaState: () => this.#alua?.localState(m.volume.id) ?? 'unavailable',
        ...(m.replication ? { replication: m.replication, inSync: () => inSync.members() } : {}),
        idle: async () => {
          // The draining primary refuses new media commands; wait for those already running.
          while (m.lu.taskSet.size > 0) await new Promise((r) => setTimeout(r, 10));
        },
      };
    });
  }

  handOver(
    volume: string,
    drained: () => Promise<void>,
    timeoutMs: number,
  ): Promise<LeaderRecord | undefined> {
    if (!this.#alua) throw new TandemError('TANDEM_ERR_CLUSTER_UNAVAILABLE', 'the node is still joining');
    return this.#alua.handOver(volume, drained, timeoutMs);
  }

  /** HOST:PORT of relative target port `id` of this node ('' if it is not one of ours). */
  portalOf(relativePortId: number): string {
    return this.#group?.ports.find((p) => p.relativePortId === relativePortId)?.portal ?? '';
  }

  /** After the portals have drained: leave the cluster (resigning hands every volume over). */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#reconciling.catch(() => undefined);
    this.#forwardClient?.close();
    await this.#alua?.close().catch(() => undefined);
    for (const s of this.#subs) await s.close().catch(() => undefined);
    await this.coordinator
      ?.close()
      .catch((err: unknown) => this.#log.warn({ err }, 'leaving the cluster failed'));
    await this.forwardServer?.close();
    for (const m of this.#mounted.values()) {
      m.store.close();
      try {
        await m.device.flush();
        if (m.replication) await m.replication.close();
        else await m.device.close();
      } catch (err) {
        this.#log.error({ err, device: m.device.description }, 'closing a backing store failed');
      }
    }
    this.#mounted.clear();
  }
}
