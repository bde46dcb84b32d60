import path from 'node:path';
import { AdminServer } from './admin/admin-server.js';
import type { NodeConfig } from './admin/config-schema.js';
import { Metrics } from './admin/metrics.js';
import { DaemonAdminBackend } from './admin/node-admin-backend.js';
import type { BlockDevice } from './backstore/block-device.js';
import { FileDevice } from './backstore/file.js';
import { MemoryDevice } from './backstore/memory.js';
import { DEFAULT_TARGET_SETTINGS } from './iscsi/params.js';
import { Portal } from './iscsi/portal.js';
import type { PortalOptions, TargetDirectory, TargetEntry } from './iscsi/portal-interface.js';
import { SessionRegistry } from './iscsi/session-registry.js';
import { ClusterRuntime, lunMaskOf } from './node/node-runtime.js';
import { hostPortName, parseHostPort, sendTargetsAddress, targetPort } from './node/target-ports.js';

/** Embedded mode: one target port group (id 1) holding every portal of the node. */
const EMBEDDED_PORT_GROUP = 1;

import type { ReplicationStatus } from './replication/replication-interface.js';
import { ACCESS_STATE_CODE } from './scsi/alua.js';
import { createOpcodeTable } from './scsi/commands.js';
import { LogicalUnit } from './scsi/logical-unit.js';
import { ScsiTarget } from './scsi/target.js';
import { TandemError } from './util/errors.js';
import type { Logger } from './util/logger.js';

/**
 * The composition root: builds one node from its configuration — backstores, LUs, the SCSI
 * engine of each target, portals — and tears it down in order.
 */
export class Daemon {
  readonly config: NodeConfig;
  readonly portals: Portal[] = [];
  readonly targets = new Map<string, ScsiTarget>();
  readonly sessions: SessionRegistry;
  readonly #devices: BlockDevice[] = [];
  readonly #log: Logger;
  #stopping: Promise<void> | undefined;
  /** Cluster mode (a `cluster:` section): etcd, ALUA, forwarding. Absent: embedded mode. */
  #cluster: ClusterRuntime | undefined;
  /**
   * The node's Prometheus registry: always kept (tandemctl top reads it through the admin API);
   * served over HTTP only with `metrics:` in the configuration.
   */
  #metrics: Metrics | undefined;
  #metricsListening = false;
  #admin: AdminServer | undefined;

  /** The metrics listener, HOST:PORT. */
  get metricsAddress(): string | undefined {
    return this.#metricsListening ? this.#metrics?.address : undefined;
  }

  /** The admin API listener, HOST:PORT. */
  get adminAddress(): string | undefined {
    return this.#admin?.address;
  }

  get mode(): 'embedded' | 'cluster' {
    return this.config.cluster ? 'cluster' : 'embedded';
  }

  /** Cluster mode: the forwarding gRPC listener, HOST:PORT. */
  get grpcAddress(): string | undefined {
    return this.#cluster?.grpcAddress;
  }

  private constructor(config: NodeConfig, log: Logger) {
    this.config = config;
    this.#log = log;
    const l = config.iscsi.limits;
    this.sessions = new SessionRegistry(log, {
      perSource: l.connectionsPerSource,
      total: l.connections,
      inLogin: l.connectionsInLogin,
      sessionsPerInitiator: l.sessionsPerInitiator,
      commandsPerSession: l.commandsPerSession,
      connectionBudget: l.connectionBudget,
      nodeBudget: l.nodeBudget,
    });
  }

  static async start(config: NodeConfig, log: Logger): Promise<Daemon> {
    const d = new Daemon(config, log);
    try {
      await d.#build();
    } catch (err) {
      await d.stop();
      throw err;
    }
    return d;
  }

  async #build(): Promise<void> {
    const m = new Metrics({
      sessions: () => this.#sessionLabels(),
      aluaStates: () => this.#aluaStates(),
      replication: () => this.#replicationStatuses(),
      refusals: () => Object.entries(this.sessions.refusals()),
    });
    this.#metrics = m;
    if (this.config.metrics) {
      const { host, port } = parseHostPort(this.config.metrics.listen);
      await m.listen(host, port, this.#log);
      this.#metricsListening = true;
      this.#log.info({ metrics: m.address }, 'metrics endpoint listening');
    }
    if (this.config.cluster) {
      this.#cluster = new ClusterRuntime(
        this.config,
        {
          portals: this.portals,
          targets: this.targets,
          sessions: this.sessions,
          table: createOpcodeTable(),
          portalOptions: this.#portalOptions(),
          onTarget: (iqn, engine) => {
            engine.observer = this.#metrics?.observerFor(iqn);
          },
          adminAddress: () => this.#admin?.address ?? '',
          timeDevice: (device, target, lun) => m.timeDevice(device, target, lun),
        },
        this.#log,
      );
      // The admin API listens first: its address is registered with the cluster.
      await this.#startAdmin();
      await this.#cluster.start();
      return;
    }
    const cfg = this.config;
    const table = createOpcodeTable();
    for (const t of cfg.targets) {
      const engine = new ScsiTarget(table, this.#log.child({ target: t.iqn }));
      engine.observer = this.#metrics?.observerFor(t.iqn);
      engine.lunMask = lunMaskOf(t.aclLuns);
      // Each portal is its own portal group, hence its own SCSI target port (DESIGN.md
      // Identity): TPGT and relative target port id are the portal's position, from 1.
      engine.setTargetPorts(cfg.portals.map((_, i) => targetPort(t.iqn, i + 1, EMBEDDED_PORT_GROUP)));
      for (const l of t.luns) {
        const device = await this.#openDevice(t.iqn, l);
        this.#devices.push(device);
        const volumeId = l.volumeId ?? `${cfg.node.name}:${t.iqn}:${l.lun}`;
        // The LU's device calls are timed (backstore stage); the daemon still closes `device`.
        const lu = new LogicalUnit(m.timeDevice(device, t.iqn, l.lun), {
          volumeId,
          blockSize: l.blockSize,
          readOnly: l.readOnly,
          // Persistent reservations with APTPL survive a restart in this file (SPC-4 5.13.6).
          aptplFile: path.join(cfg.node.dataDir, 'reservations', `${encodeURIComponent(volumeId)}.json`),
        });
        engine.addLun(l.lun, lu);
        this.#log.info(
          {
            target: t.iqn,
            lun: l.lun,
            backstore: device.description,
            bytes: device.size,
            blockSize: l.blockSize,
          },
          'logical unit ready',
        );
      }
      this.targets.set(t.iqn, engine);
    }
    const opts = this.#portalOptions();
    const endpoints = cfg.portals.map(parseHostPort);
    const addressesOf = (local: string): string[] =>
      endpoints.map((e, i) => sendTargetsAddress(e.host, this.portals[i]?.port ?? e.port, i + 1, local));
    for (let i = 0; i < endpoints.length; i++) {
      const tpgt = i + 1;
      const entries = new Map<string, TargetEntry>();
      for (const t of cfg.targets) {
        const port = targetPort(t.iqn, tpgt, EMBEDDED_PORT_GROUP);
        entries.set(t.iqn, {
          name: t.iqn,
          ...(t.alias ? { alias: t.alias } : {}),
          engine: this.targets.get(t.iqn)!,
          portalGroupTag: tpgt,
          targetPort: port,
          addresses: addressesOf,
          admits: (initiator) => !t.acl || t.acl.includes(initiator),
          ...(t.auth ? { auth: t.auth } : {}),
        });
      }
      const directory: TargetDirectory = {
        lookup: (name) => entries.get(name),
        all: () => [...entries.values()],
      };
      const { host, port } = endpoints[i]!;
      const portal = await Portal.listen(host, port, opts, directory, this.sessions, this.#log);
      this.portals.push(portal);
    }
    await this.#startAdmin();
  }

  async #startAdmin(): Promise<void> {
    const listen = this.config.admin.listen;
    if (listen === 'off') return;
    const hp = (p: Portal) => hostPortName(p.host, p.port);
    const cluster = this.#cluster;
    const backend = new DaemonAdminBackend({
      node: this.config.node.name,
      portals: () => this.portals.map(hp),
      admin: () => this.#admin?.address ?? '',
      grpc: () => this.grpcAddress ?? '',
      sessions: this.sessions,
      portalOf: (rel) => cluster?.portalOf(rel) ?? (this.portals[rel - 1] ? hp(this.portals[rel - 1]!) : ''),
      metricsText: () => this.#metrics!.registry.metrics(),
      ...(cluster ? { cluster } : {}),
      embeddedVolumes: () =>
        [...this.targets].flatMap(([iqn, engine]) =>
          [...engine.logicalUnits()].map(([lun, lu]) => ({
            id: `${iqn}/${lun}`,
            role: 'primary',
            aluaState: 'active-optimized',
            epoch: 0,
            size: lu.device.size,
          })),
        ),
    });
    this.#admin = await AdminServer.listen(listen, backend, this.#log);
    this.#log.info({ admin: this.#admin.address }, 'admin API listening');
  }

  *#sessionLabels(): Generator<{ target: string; portal: string }> {
    for (const p of this.portals) {
      const portal = hostPortName(p.host, p.port);
      for (const s of p.sessions()) yield { target: s.target!.name, portal };
    }
  }

  /** Cluster mode: the status of each replicated volume this node serves. */
  *#replicationStatuses(): Generator<ReplicationStatus> {
    for (const v of this.#cluster?.served() ?? []) if (v.replication) yield v.replication.status();
  }

  /** Cluster mode: this node's ALUA state of each volume it serves, in its port group. */
  *#aluaStates(): Generator<{ volume: string; group: number; state: number }> {
    for (const engine of this.targets.values()) {
      const group = engine.targetPorts()[0]?.targetPortGroupId;
      if (group === undefined) continue;
      for (const lu of engine.logicalUnits().values()) {
        if (lu.access)
          yield { volume: lu.config.volumeId, group, state: ACCESS_STATE_CODE[lu.access.state()] };
      }
    }
  }

  #portalOptions(): PortalOptions {
    const cfg = this.config;
    return {
      settings: { ...DEFAULT_TARGET_SETTINGS, maxRecvDataSegmentLength: cfg.iscsi.maxRecvDataSegmentLength },
      nopInIntervalMs: cfg.iscsi.nopInIntervalSeconds * 1000,
      nopInTimeoutMs: cfg.iscsi.nopInTimeoutSeconds * 1000,
      commandWindow: cfg.iscsi.commandWindow,
      loginTimeoutMs: 15_000,
      ...(cfg.discoveryAuth?.chap
        ? {
            discoveryAuth: {
              chap: cfg.discoveryAuth.chap,
              ...(cfg.discoveryAuth.mutualChap ? { mutualChap: cfg.discoveryAuth.mutualChap } : {}),
            },
          }
        : {}),
    };
  }

  async #openDevice(iqn: string, l: NodeConfig['targets'][number]['luns'][number]): Promise<BlockDevice> {
    if (l.backstore === 'memory') return new MemoryDevice(l.size!);
    const file = path.resolve(this.config.node.dataDir, l.path!);
    const dev = await FileDevice.open(file, {
      ...(l.size ? { createSize: l.size } : {}),
      readOnly: l.readOnly,
      warn: (m) => this.#log.warn({ file }, m),
    });
    if (dev.size < l.blockSize) {
      await dev.close();
      throw new TandemError(
        'TANDEM_ERR_BACKSTORE_OPEN',
        `${iqn} LUN ${l.lun}: ${file} is smaller than one block`,
      );
    }
    return dev;
  }

  /**
   * Graceful stop: no new connections, let in-flight commands finish (bounded), close the
   * connections, flush and close the backstores.
   */
  stop(drainMs = 10_000): Promise<void> {
    this.#stopping ??= (async () => {
      for (const p of this.portals) p.stopAccepting();
      const deadline = Date.now() + drainMs;
      while (Date.now() < deadline && this.sessions.sessions().some((s) => s.inFlight > 0)) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await Promise.all(this.portals.map((p) => p.closeConnections('target shutting down')));
      if (this.#cluster) await this.#cluster.stop();
      await this.#admin?.close();
      await this.#metrics?.close();
      for (const d of this.#devices) {
        try {
          await d.flush();
          await d.close();
        } catch (err) {
          this.#log.error({ err, device: d.description }, 'closing a backing store failed');
        }
      }
    })();
    return this.#stopping;
  }
}
