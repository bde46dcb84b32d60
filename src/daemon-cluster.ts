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
} from './admin/config-schema.js';
import type { BlockDevice } from './backstore/block-device.js';
import { FileDevice } from './backstore/file.js';
import { ClusterAlua } from './cluster/alua-source.js';
import type {
  ConfigEntry,
  ConfigEvent,
  NodeAddresses,
  PortGroup,
  Subscription,
} from './cluster/coordinator.js';
import { EtcdCoordinator } from './cluster/etcd-coordinator.js';
import { ForwardClient } from './cluster/forward-client.js';
import { ForwardServer } from './cluster/forward-server.js';
import { ClusterReservationStore } from './cluster/reservation-store.js';
import { Portal } from './iscsi/portal.js';
import type { PortalOptions, TargetDirectory, TargetEntry } from './iscsi/portal-interface.js';
import type { SessionRegistry } from './iscsi/session-registry.js';
import type { TargetPort } from './scsi/command.js';
import type { ForwardedCommand, ForwardedCompletion } from './scsi/forwarding.js';
import { LogicalUnit } from './scsi/logical-unit.js';
import type { OpcodeTable } from './scsi/opcode-table.js';
import { buildSense, reason } from './scsi/sense-reason.js';
import { ScsiStatus } from './scsi/spec/status.js';
import { ScsiTarget } from './scsi/target.js';
import { TandemError } from './util/errors.js';
import type { Logger } from './util/logger.js';

const hex4 = (n: number) => n.toString(16).padStart(4, '0');

/** The SCSI target port of relative port `rel` (TPGT = relative port id: cluster-unique). */
function clusterPort(iqn: string, rel: number, tpg: number): TargetPort {
  return { relativePortId: rel, targetPortGroupId: tpg, name: `${iqn},t,0x${hex4(rel)}`, targetName: iqn };
}

function hostPortName(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

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
}

const lunKey = (target: string, lun: number) => `${target},${lun}`;

/**
 * Cluster mode of the composition root (DESIGN.md Configuration): joins etcd, allocates this
 * node's port group and relative ports, bootstraps the configuration if etcd has none, then
 * reconciles targets and LUNs from the watched configuration and wires every LU to the
 * cluster's ALUA state, reservation store and command forwarding.
 */
export class ClusterRuntime {
  readonly #cfg: NodeConfig;
  readonly #cc: ClusterConfig;
  readonly #log: Logger;
  readonly #shared: ClusterShared;
  /** Per portal: the targets it serves (filled by the reconcile; empty until ready). */
  readonly #directories: Map<string, TargetEntry>[] = [];
  readonly #mounted = new Map<string, Mounted>();
  readonly #subs: Subscription[] = [];
  readonly #config = new Map<string, ConfigEntry>();
  coordinator: EtcdCoordinator | undefined;
  forwardServer: ForwardServer | undefined;
  #forwardClient: ForwardClient | undefined;
  #alua: ClusterAlua | undefined;
  #group: PortGroup | undefined;
  #portalNames: string[] = [];
  #members: NodeAddresses[] = [];
  #reconciling: Promise<void> = Promise.resolve();
  #reconcileWanted = false;
  #firstSnapshot: (() => void) | undefined;
  #stopping = false;

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
    for (const v of cfg.bootstrap?.volumes ?? []) unsupportedKind(v);

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
    );
    for (const [i, hp] of cfg.portals.entries()) {
      const j = hp.lastIndexOf(':');
      const host = hp.slice(0, j).replace(/^\[|\]$/g, '');
      const port = Number(hp.slice(j + 1));
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
      node: { name: cfg.node.name, portals: this.#portalNames, grpc: this.grpcAddress, admin: '' },
      logger: this.#log,
      endpoints: this.#cc.etcd,
      prefix: keyPrefix(this.#cc.prefix),
      leaseTtlSeconds: this.#cc.leaseTtlSeconds,
    });
    this.coordinator = coordinator;
    await coordinator.start();
    this.#group = await coordinator.allocatePortGroup();
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
    });
    this.#alua = new ClusterAlua({
      coordinator,
      portGroup: this.#group,
      logger: this.#log,
      onPrimaryChange: (volume, leader) => this.#forwardClient?.primaryChanged(volume, leader?.node),
      primaryReachable: (address) => this.#forwardClient?.reachable(address) ?? false,
    });
    await this.#alua.start();
    this.#subs.push(
      await coordinator.watchMembers((members) => {
        this.#members = members;
        void this.#alua?.membersChanged(members).then(() => this.#refreshPorts());
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
    const d = this.#desired();
    for (const [iqn, t] of d.targets) this.#ensureTarget(iqn, t.alias);
    // Removals first (a LUN moved to another volume is removed, then added).
    for (const [key, m] of [...this.#mounted]) {
      const want = d.luns.get(key);
      const vol = want ? d.volumes.get(want.volume) : undefined;
      const same =
        want &&
        vol &&
        d.targets.has(want.target) &&
        want.volume === m.volume.id &&
        vol.kind === m.volume.kind &&
        vol.path === m.volume.path &&
        vol.blockSize === m.volume.blockSize &&
        vol.readOnly === m.volume.readOnly;
      if (!same) await this.#unmount(m);
      else if (vol.standby !== m.volume.standby) {
        this.#alua!.setStandby(vol.id, vol.standby);
        this.#mounted.set(key, { ...m, volume: vol });
      }
    }
    for (const [key, l] of d.luns) {
      if (this.#mounted.has(key)) continue;
      const vol = d.volumes.get(l.volume);
      if (!vol) {
        this.#log.warn(
          { target: l.target, lun: l.lun, volume: l.volume },
          'LUN names a volume that does not exist',
        );
        continue;
      }
      if (!d.targets.has(l.target)) {
        this.#log.warn({ target: l.target, lun: l.lun }, 'LUN names a target that does not exist');
        continue;
      }
      if ([...this.#mounted.values()].some((m) => m.volume.id === vol.id)) {
        this.#log.error({ target: l.target, lun: l.lun, volume: vol.id }, 'a volume can back one LUN only');
        continue;
      }
      try {
        unsupportedKind(vol);
        await this.#mount(key, l, vol);
      } catch (err) {
        this.#log.error({ err, target: l.target, lun: l.lun, volume: vol.id }, 'cannot serve LUN');
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
        targetPort: clusterPort(iqn, rel, group.targetPortGroupId),
        addresses: (local) =>
          this.#shared.portals.map((p, k) => {
            const host = p.host === '0.0.0.0' || p.host === '::' ? local : p.host;
            const r = group.ports.find((x) => x.portal === this.#portalNames[k])!.relativePortId;
            return `${hostPortName(host, p.port)},${r}`;
          }),
        admits: () => true,
      });
    }
    this.#log.info({ target: iqn }, 'target ready');
  }

  /** Every port of every node's group is a port of the target (RTPG, INQUIRY MULTIP). */
  #setEnginePorts(iqn: string, engine: ScsiTarget): void {
    const groups = this.#alua?.portGroups() ?? [];
    const ports: TargetPort[] = [];
    for (const g of groups.length > 0 ? groups : [this.#group!]) {
      for (const p of g.ports) ports.push(clusterPort(iqn, p.relativePortId, g.targetPortGroupId));
    }
    engine.setTargetPorts(ports);
  }

  #refreshPorts(): void {
    for (const [iqn, engine] of this.#shared.targets) this.#setEnginePorts(iqn, engine);
  }

  async #openDevice(vol: VolumeConfig): Promise<BlockDevice> {
    // A shared volume's path names the one store every node opens (absolute, normally).
    const file = path.resolve(this.#cfg.node.dataDir, vol.path ?? `${vol.id}.img`);
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

  async #mount(key: string, l: ClusterLunConfig, vol: VolumeConfig): Promise<void> {
    const c = this.coordinator!;
    const engine = this.#shared.targets.get(l.target)!;
    const device = await this.#openDevice(vol);
    try {
      const seed = await c.volumeSeed(vol.id);
      const store = await ClusterReservationStore.open({
        coordinator: c,
        volume: vol.id,
        servingNodes: () => this.#members.map((m) => m.name),
        logger: this.#log,
      });
      const holder: { lu?: LogicalUnit } = {};
      const access = await this.#alua!.addVolume(vol.id, vol.standby, () => {
        const lu = holder.lu;
        // SPC-4 5.15.2.3: every I_T nexus of the LU learns of the change (here: those on this node).
        if (lu) lu.unitAttentions.establishAll(lu.knownNexuses(), reason('ASYMMETRIC_ACCESS_STATE_CHANGED'));
      });
      const lu = new LogicalUnit(
        device,
        { volumeId: vol.id, blockSize: vol.blockSize, readOnly: vol.readOnly, identitySeed: seed },
        { reservationStore: store, access, forwarder: this.#forwardClient! },
      );
      holder.lu = lu;
      engine.addLun(l.lun, lu);
      this.#mounted.set(key, { key, target: l.target, lun: l.lun, volume: vol, lu, device, store });
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
      await device.close().catch(() => undefined);
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
      await m.device.close();
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
        await m.device.close();
      } catch (err) {
        this.#log.error({ err, device: m.device.description }, 'closing a backing store failed');
      }
    }
    this.#mounted.clear();
  }
}

function unsupportedKind(v: VolumeConfig): void {
  if (v.kind === 'replicated') {
    throw new TandemError(
      'TANDEM_ERR_CONFIG_UNSUPPORTED',
      `volume ${v.id}: kind replicated is not yet supported (issue #5); use kind: shared`,
    );
  }
}
