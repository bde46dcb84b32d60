import path from 'node:path';
import type { ClusterConfig, VolumeConfig } from '../admin/config-schema.js';
import type { BlockDevice } from '../backstore/block-device.js';
import { ClusterAlua, PREFERRED_GRACE_MS } from '../cluster/alua-source.js';
import type {
  Coordinator,
  LeaderRecord,
  NodeAddresses,
  PortGroup,
  Subscription,
} from '../cluster/coordinator.js';
import { ForwardClient } from '../cluster/forward-client.js';
import { ForwardServer } from '../cluster/forward-server.js';
import { ClusterReservationStore } from '../cluster/reservation-store.js';
import { addReplicationService, ReplicatedVolume } from '../replication/index.js';
import { ReplicaSetLifecycle, type ReplicaSetRecovery } from '../replication/replica-set-lifecycle.js';
import type { LuAccess } from '../scsi/alua.js';
import type { ForwardedCommand, ForwardedCompletion } from '../scsi/forwarding.js';
import type { LogicalUnitOptions } from '../scsi/logical-unit.js';
import { buildSense, reason } from '../scsi/sense-reason.js';
import { ScsiStatus } from '../scsi/spec/status.js';
import type { ScsiTarget } from '../scsi/target.js';
import type { PeerSecurity } from '../security/tls.js';
import type { Logger } from '../util/logger.js';
import { ClusterMirrorAuthorizer } from './mirror-authorizer.js';

/** What the link needs of the node runtime. */
export interface LinkHost {
  readonly node: string;
  readonly dataDir: string;
  readonly targets: ReadonlyMap<string, ScsiTarget>;
  /** Every node's port groups changed: the engines' target port lists follow. */
  portsChanged(): void;
  stopping(): boolean;
  /** Mutual TLS (or insecure: true) for every node-to-node channel, loaded before listening. */
  readonly peers: PeerSecurity;
}

/** A volume wired to the cluster: what its LU is built with, and what to close after it. */
export interface LinkedVolume {
  readonly options: LogicalUnitOptions;
  readonly replication?: ReplicatedVolume;
  readonly store: ClusterReservationStore;
}

/**
 * Cluster mode's peer services, on top of the node runtime (DESIGN.md Roles and ALUA, safety
 * rules 2, 3, 7): the forwarding and replication gRPC server, the forward client, the ALUA
 * source, the replica-set lifecycle, and the membership and reservation watches.
 */
export class ClusterLink {
  readonly #host: LinkHost;
  readonly #log: Logger;
  readonly #server: ForwardServer;
  /** Replicated volumes served here, by volume id (the replication service looks them up). */
  readonly #replicated = new Map<string, ReplicatedVolume>();
  readonly #stores = new Map<string, ClusterReservationStore>();
  /** Each wired volume's configuration as last reconciled: replicas and minInSync change live. */
  readonly #volumes = new Map<string, VolumeConfig>();
  readonly #subs: Subscription[] = [];
  #coordinator: Coordinator | undefined;
  #forwardClient: ForwardClient | undefined;
  #alua: ClusterAlua | undefined;
  #lifecycle: ReplicaSetLifecycle | undefined;
  #era = '';
  #members: NodeAddresses[] = [];

  private constructor(host: LinkHost, server: ForwardServer, log: Logger) {
    this.#host = host;
    this.#server = server;
    this.#log = log;
  }

  /** Listens first: the real address (port 0) is what the cluster records. */
  static async listen(host: LinkHost, cc: ClusterConfig, log: Logger): Promise<ClusterLink> {
    const holder: { link?: ClusterLink } = {};
    const server = await ForwardServer.listen(
      cc.grpc,
      {
        executeForwarded: (fc, onAbort) => executeForwarded(host, fc, onAbort),
        resetFromPeer: async (volume, ua) => {
          let found = false;
          for (const engine of host.targets.values())
            found = (await engine.resetFromPeer(volume, ua)) || found;
          return found;
        },
      },
      log,
      (s) =>
        addReplicationService(
          s,
          (volume) => holder.link?.replicated(volume),
          log,
          // Streams only from etcd's primary at its epoch (DESIGN.md Trust); none before joining.
          new ClusterMirrorAuthorizer(() => holder.link?.mirrorView()),
        ),
      {
        ...(host.peers.secure ? { credentials: host.peers.serverCredentials() } : {}),
        isMember: (node) => holder.link?.members.some((m) => m.name === node) ?? false,
      },
    );
    holder.link = new ClusterLink(host, server, log);
    return holder.link;
  }

  /** What the Mirror authorizer checks a stream against; undefined before joining. */
  mirrorView(): { era: string; leader: (volume: string) => ReturnType<Coordinator['leader']> } | undefined {
    const c = this.#coordinator;
    return c && this.#era ? { era: this.#era, leader: (v) => c.leader(v) } : undefined;
  }

  /** A replicated volume served here (the replication service looks them up). */
  replicated(volume: string): ReplicatedVolume | undefined {
    return this.#replicated.get(volume);
  }

  get address(): string {
    return this.#server.address;
  }

  get members(): readonly NodeAddresses[] {
    return this.#members;
  }

  /** Joined: ALUA, forwarding, membership, reservations. */
  async join(coordinator: Coordinator, group: PortGroup): Promise<void> {
    const me = this.#host.node;
    this.#coordinator = coordinator;
    this.#era = await coordinator.era();
    this.#lifecycle = new ReplicaSetLifecycle({
      node: me,
      logger: this.#log,
      store: {
        readReplicaSet: (v) => coordinator.readReplicaSet(v),
        createReplicaSet: (v, d) => coordinator.createReplicaSet(v, d),
        setInSync: (v, e, n, i) => coordinator.setInSync(v, e, n, i),
        leaveInSync: (v) => coordinator.leaveInSync(v),
        leaveInSyncWhile: (v, other) => coordinator.leaveInSyncWhile(v, other),
        liveNodes: async () => (await coordinator.members()).map((m) => m.name),
        publishDataClaim: (v, c) => coordinator.publishDataClaim(v, c),
        readDataClaims: (v) => coordinator.readDataClaims(v),
      },
      watchedInSync: (v) => this.#alua?.replicaSet(v)?.inSync,
    });
    this.#forwardClient = new ForwardClient({
      originNode: me,
      primaryOf: (volume) => this.#alua?.primaryOf(volume),
      // Shared volumes: every live node serves every volume.
      peersOf: () =>
        this.#members.filter((m) => m.name !== me && m.grpc).map((m) => ({ node: m.name, address: m.grpc })),
      logger: this.#log,
      credentials: (node) => this.#host.peers.channelCredentials(node),
    });
    this.#alua = new ClusterAlua({
      coordinator,
      portGroup: group,
      logger: this.#log,
      onPrimaryChange: (volume, leader) => this.#forwardClient?.primaryChanged(volume, leader?.node),
      primaryReachable: (address) => this.#forwardClient?.reachable(address) ?? false,
      prepare: async (volume, epoch) => {
        const rv = this.#replicated.get(volume);
        if (rv) await this.#lifecycle!.becamePrimary(volume, epoch, rv);
      },
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
          this.#host.portsChanged();
          for (const rv of this.#replicated.values()) rv.peersChanged();
        });
      }),
    );
    this.#subs.push(
      await coordinator.watchReservations((volume, value, rev) =>
        this.#stores.get(volume)?.deliver(value, rev),
      ),
    );
  }

  /** Every node's port group (RTPG lists them all). */
  portGroups(): readonly PortGroup[] {
    return this.#alua?.portGroups() ?? [];
  }

  localState(volume: string): string {
    return this.#alua?.localState(volume) ?? 'unavailable';
  }

  setStandby(volume: string, standby: boolean): void {
    this.#alua?.setStandby(volume, standby);
  }

  inSync(volume: string): ReadonlySet<string> {
    return this.#lifecycle!.inSyncSet(volume).members();
  }

  /** How `volume` recovers after etcd lost its replica set (status), if it does. */
  recovery(volume: string): ReplicaSetRecovery | undefined {
    return this.#lifecycle?.recovery(volume);
  }

  handOver(
    volume: string,
    drained: () => Promise<void>,
    timeoutMs: number,
    to?: string,
  ): Promise<LeaderRecord | undefined> {
    return this.#alua!.handOver(volume, drained, timeoutMs, to);
  }

  /**
   * A wired volume's configuration changed without a new store (its replicas or minInSync): the
   * mirror reads it from now on; a primary links to an added replica (full resync, then it joins
   * the in-sync set) and drops a removed one (it leaves the set).
   */
  volumeChanged(vol: VolumeConfig): void {
    if (!this.#volumes.has(vol.id)) return;
    this.#volumes.set(vol.id, vol);
    const rv = this.#replicated.get(vol.id);
    if (!rv) return;
    rv.peersChanged();
    void this.#leaveIfRemoved(vol, rv).catch((err: unknown) =>
      this.#log.warn({ err, volume: vol.id }, 'could not let go of a removed replica'),
    );
  }

  /**
   * This node is not in the volume's configured replicas (any more): out of the in-sync set first
   * (it must never promote on data it stops receiving: rule 2), then its copy is forgotten.
   */
  async #leaveIfRemoved(vol: VolumeConfig, rv: ReplicatedVolume): Promise<void> {
    const me = this.#host.node;
    if (!vol.replicas || vol.replicas.includes(me) || !rv.hasValidData || rv.role === 'primary') return;
    const set = await this.#coordinator!.readReplicaSet(vol.id);
    if (set.inSync.includes(me)) await this.#coordinator!.leaveInSync(vol.id);
    await rv.forgetData();
  }

  /** `vol`'s preferred first primary: its first replica, else the first node by name. */
  #preferred(vol: VolumeConfig): string | undefined {
    if (vol.replicas && vol.replicas.length > 0) return vol.replicas[0];
    return [this.#host.node, ...this.portGroups().map((g) => g.node)].sort()[0];
  }

  /** The other nodes holding a replica of `vol`: its `replicas`, else every node ever joined. */
  #replicaNodes(vol: VolumeConfig): string[] {
    const all = vol.replicas ?? this.portGroups().map((g) => g.node);
    return [...new Set(all)].filter((n) => n !== this.#host.node).sort();
  }

  /**
   * Wires a volume's LU to the cluster: its mirror (replicated), reservation store, ALUA state
   * and forwarding. `onAccessChange` queues the unit attention of an ALUA change.
   */
  async wire(
    vol: VolumeConfig,
    device: BlockDevice,
    onPeerWait: (seconds: number) => void,
    onAccessChange: () => void,
  ): Promise<LinkedVolume> {
    const c = this.#coordinator!;
    let replication: ReplicatedVolume | undefined;
    this.#volumes.set(vol.id, vol);
    try {
      if (vol.kind === 'replicated') {
        replication = await this.#openReplicated(vol, device, onPeerWait);
        this.#replicated.set(vol.id, replication);
      }
      const store = await ClusterReservationStore.open({
        coordinator: c,
        volume: vol.id,
        servingNodes: () => this.#members.map((m) => m.name),
        logger: this.#log,
      });
      this.#stores.set(vol.id, store);
      const access: LuAccess = await this.#alua!.addVolume(
        vol.id,
        { standby: vol.standby, replicated: vol.kind === 'replicated', preferred: this.#preferred(vol) },
        onAccessChange,
      );
      return {
        options: { reservationStore: store, access, forwarder: this.#forwardClient! },
        store,
        ...(replication ? { replication } : {}),
      };
    } catch (err) {
      this.#volumes.delete(vol.id);
      this.#stores.get(vol.id)?.close();
      this.#stores.delete(vol.id);
      if (replication) {
        this.#replicated.delete(vol.id);
        await replication.close().catch(() => undefined);
      }
      throw err;
    }
  }

  /** The LU is gone: ALUA and the reservation store let go (the runtime closes the devices). */
  async unwire(volume: string): Promise<void> {
    await this.#alua?.removeVolume(volume);
    this.#stores.get(volume)?.close();
    this.#stores.delete(volume);
    this.#replicated.delete(volume);
    this.#volumes.delete(volume);
  }

  async #openReplicated(
    vol: VolumeConfig,
    device: BlockDevice,
    onPeerWait: (seconds: number) => void,
  ): Promise<ReplicatedVolume> {
    const c = this.#coordinator!;
    const current = () => this.#volumes.get(vol.id) ?? vol;
    const rv = new ReplicatedVolume({
      volume: vol.id,
      node: this.#host.node,
      logger: this.#log.child({ volume: vol.id }),
      device,
      stateDir: path.join(this.#host.dataDir, 'replication'),
      inSync: this.#lifecycle!.inSyncSet(vol.id),
      peers: () => {
        const replicas = new Set(this.#replicaNodes(current()));
        return this.#members
          .filter((m) => replicas.has(m.name) && m.grpc)
          .map((m) => ({ node: m.name, address: m.grpc }));
      },
      replicas: () => this.#replicaNodes(current()),
      canServeWrites: () => c.canServeWrites(vol.id),
      minInSync: () => current().minInSync ?? 1,
      era: this.#era,
      onPeerWait,
      peerCredentials: (node) => this.#host.peers.channelCredentials(node),
    });
    await rv.open();
    await this.#leaveIfRemoved(vol, rv);
    const preferred = this.#preferred(vol);
    // A new volume starts on its preferred node (its first replica) when that node is up: give
    // it the grace period to create the dataset, so the placement is predictable. The wait
    // watches the replica sets the ALUA source already follows; etcd is read once after.
    await this.#lifecycle!.bootstrap(
      vol.id,
      rv,
      preferred,
      async () => {
        const deadline = Date.now() + PREFERRED_GRACE_MS;
        while (
          this.#alua?.replicaSet(vol.id)?.dataset === undefined &&
          Date.now() < deadline &&
          !this.#host.stopping() &&
          this.#members.some((m) => m.name === preferred)
        ) {
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      {
        replicas: () => [this.#host.node, ...this.#replicaNodes(vol)],
        stopped: () => this.#host.stopping() || rv.role === 'closed',
      },
    );
    return rv;
  }

  /** Stops forwarding and ALUA, closes the watches (before the coordinator leaves). */
  async close(): Promise<void> {
    this.#forwardClient?.close();
    await this.#alua?.close().catch(() => undefined);
    for (const s of this.#subs) await s.close().catch(() => undefined);
    for (const s of this.#stores.values()) s.close();
    this.#stores.clear();
  }

  /** After the coordinator has left: the peer server goes last (peers may still be resyncing from it). */
  async closeServer(): Promise<void> {
    await this.#server.close();
  }
}

function executeForwarded(
  host: LinkHost,
  fc: ForwardedCommand,
  onAbort: (hook: () => void) => void,
): Promise<ForwardedCompletion> {
  const engine = host.targets.get(fc.nexus.targetName);
  if (!engine) {
    return Promise.resolve({
      status: ScsiStatus.CHECK_CONDITION,
      sense: buildSense(reason('LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION')),
      transferLength: 0,
    });
  }
  return engine.executeForwarded(fc, onAbort);
}
