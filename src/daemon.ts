import path from 'node:path';
import { AdminServer } from './admin/admin-server.js';
import type { NodeConfig } from './admin/config-schema.js';
import { Metrics } from './admin/metrics.js';
import { loadMetricsWeb } from './admin/metrics-web.js';
import { DaemonAdminBackend } from './admin/node-admin-backend.js';
import type { Coordinator, NodeAddresses } from './cluster/coordinator.js';
import { EmbeddedCoordinator } from './cluster/embedded-coordinator.js';
import { EtcdCoordinator } from './cluster/etcd-coordinator.js';
import { DEFAULT_TARGET_SETTINGS } from './iscsi/params.js';
import type { Portal } from './iscsi/portal.js';
import type { PortalOptions } from './iscsi/portal-interface.js';
import { SessionRegistry } from './iscsi/session-registry.js';
import { embeddedBootstrap } from './node/embedded-config.js';
import { NodeRuntime } from './node/node-runtime.js';
import { hostPortName, parseHostPort } from './node/target-ports.js';
import type { ReplicationStatus } from './replication/replication-interface.js';
import { ACCESS_STATE_CODE } from './scsi/alua.js';
import { createOpcodeTable } from './scsi/commands.js';
import type { ScsiTarget } from './scsi/target.js';
import { adminTls } from './security/admin-tls.js';
import { etcdClientSettings } from './security/tls.js';
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
  readonly #log: Logger;
  #stopping: Promise<void> | undefined;
  /** The one node runtime; a `cluster:` section makes it join etcd, else it runs embedded. */
  #runtime: NodeRuntime | undefined;
  #embedded: EmbeddedCoordinator | undefined;
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
    return this.#runtime?.grpcAddress || undefined;
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
      const web = loadMetricsWeb(this.config.metrics, this.config.node.dataDir);
      await m.listen(host, port, this.#log, web);
      this.#metricsListening = true;
      this.#log.info(
        { metrics: m.address, tls: web.tls !== undefined, basicAuth: web.users !== undefined },
        'metrics endpoint listening',
      );
    }
    this.#runtime = new NodeRuntime(
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
      (node) => this.#coordinator(node),
    );
    // The admin API listens first: its address is registered with the coordinator.
    await this.#startAdmin();
    await this.#runtime.start();
    // Embedded: the bootstrapped configuration is saved once the node serves it all.
    await this.#embedded?.persist();
  }

  /**
   * Cluster mode: etcd. Embedded: the in-process coordinator, its configuration persisted in the
   * data directory and bootstrapped from the node file's targets on the first start only.
   */
  #coordinator(node: NodeAddresses): Coordinator {
    const cc = this.config.cluster;
    if (cc) {
      return new EtcdCoordinator({
        node,
        logger: this.#log,
        ...etcdClientSettings(cc.etcd, this.config, this.#log),
        prefix: cc.prefix.endsWith('/') ? cc.prefix : `${cc.prefix}/`,
        leaseTtlSeconds: cc.leaseTtlSeconds,
      });
    }
    this.#embedded = new EmbeddedCoordinator({
      node,
      logger: this.#log,
      configFile: path.join(this.config.node.dataDir, 'config.json'),
      bootstrap: embeddedBootstrap(this.config),
    });
    return this.#embedded;
  }

  async #startAdmin(): Promise<void> {
    const listen = this.config.admin.listen;
    const runtime = this.#runtime!;
    if (listen === 'off') return;
    const tls = await adminTls(this.config, this.#log);
    const backend = new DaemonAdminBackend({
      node: this.config.node.name,
      portals: () => this.portals.map((p) => hostPortName(p.host, p.port)),
      admin: () => this.#admin?.address ?? '',
      grpc: () => this.grpcAddress ?? '',
      sessions: this.sessions,
      portalOf: (rel) => runtime.portalOf(rel),
      metricsText: () => this.#metrics!.registry.metrics(),
      cluster: runtime,
      mode: this.mode,
      // Another node's admin API (status fan-out, forwarded switchover/verify) sees this node's certificate.
      peerAdminTls: tls,
    });
    this.#admin = await AdminServer.listen(listen, backend, this.#log, { tls });
    this.#log.info({ admin: this.#admin.address, tls: tls !== undefined }, 'admin API listening');
  }

  *#sessionLabels(): Generator<{ target: string; portal: string }> {
    for (const p of this.portals) {
      const portal = hostPortName(p.host, p.port);
      for (const s of p.sessions()) yield { target: s.target!.name, portal };
    }
  }

  /** The status of each replicated volume this node serves. */
  *#replicationStatuses(): Generator<ReplicationStatus> {
    for (const v of this.#runtime?.served() ?? []) if (v.replication) yield v.replication.status();
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
      await this.#runtime?.stop();
      await this.#admin?.close();
      await this.#metrics?.close();
    })();
    return this.#stopping;
  }
}
