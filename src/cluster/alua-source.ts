import type { AccessState, LuAccess } from '../scsi/alua.js';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { sleep } from '../util/retry.js';
import type {
  AluaSnapshot,
  AluaState,
  Coordinator,
  LeaderRecord,
  NodeAddresses,
  PortGroup,
  ReplicaSet,
  Subscription,
} from './coordinator.js';
import type { PrimaryEndpoint } from './forward-client.js';

/**
 * The cluster's implicit ALUA (DESIGN.md Roles and ALUA), per volume, for this node:
 * - campaigns for every volume the node serves; the primary publishes the state of every port
 *   group in etcd (itself Active/Optimized; other live nodes Active/Non-optimized, or Standby
 *   for a `standby` volume; the rest Unavailable) and publishes again when membership changes;
 * - answers the engine (LuAccess) from that etcd snapshot, overriding only this node's own group
 *   with what it knows locally: Unavailable without a live session or while fenced,
 *   Transitioning while a role change is in progress (no primary, or the primary has not
 *   published its epoch yet);
 * - reports every change of what a volume's LU would answer (own state or any group's) so the
 *   composition root queues ASYMMETRIC ACCESS STATE CHANGED for its nexuses.
 */
export interface ClusterAluaOptions {
  readonly coordinator: Coordinator;
  /** This node's port group (Coordinator.allocatePortGroup). */
  readonly portGroup: PortGroup;
  readonly logger: Logger;
  /** The leader of a volume changed (undefined: none). */
  readonly onPrimaryChange?: (volume: string, leader: LeaderRecord | undefined) => void;
  /** Whether commands can be forwarded to the primary at `address` now. */
  readonly primaryReachable?: (address: string) => boolean;
  /**
   * Runs when this node wins a volume, before it publishes itself Active/Optimized (a
   * replicated volume's mirror must be ready before the first write arrives).
   */
  readonly prepare?: (volume: string, epoch: number) => Promise<void>;
}

/** Per-volume options of addVolume. */
export interface AluaVolumeOptions {
  readonly standby: boolean;
  /**
   * Replicated (safety rule 2): campaign only while in the in-sync set; a node outside it is
   * Unavailable, and the primary publishes out-of-sync nodes' groups Unavailable.
   */
  readonly replicated?: boolean;
  /**
   * The volume's preferred primary (its first replica). Another node holds back its first
   * campaign while that node is live and able to win (PREFERRED_GRACE_MS at most), so where a
   * new volume or a cold-started cluster puts the primary does not depend on which node
   * reacted first. A failover never waits for this: the candidates are campaigning already.
   */
  readonly preferred?: string;
}

/** How long a node holds back its first campaign for the volume's preferred primary. */
export const PREFERRED_GRACE_MS = 10_000;

interface VolumeEntry {
  standby: boolean;
  replicated: boolean;
  /** Set once `prepare` has run for the current term's epoch (publishing waits for it). */
  preparedEpoch: number | undefined;
  /** A planned switchover is draining this primary: new media commands are refused. */
  draining: boolean;
  leaderSub: Subscription | undefined;
  /** What the LU answers (own state + every group), to detect changes. */
  view: string;
  local: AccessState;
  onChange: () => void;
}

/** How often views are re-evaluated besides events (the fencing window is time-based). */
const TICK_MS = 200;

export class ClusterAlua {
  readonly #c: Coordinator;
  readonly #me: string;
  readonly #myGroup: number;
  readonly #log: Logger;
  readonly #opts: ClusterAluaOptions;
  readonly #snapshots = new Map<string, AluaSnapshot>();
  readonly #leaders = new Map<string, LeaderRecord | undefined>();
  readonly #volumes = new Map<string, VolumeEntry>();
  readonly #replicaSets = new Map<string, ReplicaSet>();
  #members: NodeAddresses[] = [];
  #groups: PortGroup[] = [];
  readonly #subs: Subscription[] = [];
  readonly #unsubscribe: (() => void)[] = [];
  #tick: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: ClusterAluaOptions) {
    this.#opts = opts;
    this.#c = opts.coordinator;
    this.#me = opts.coordinator.nodeName;
    this.#myGroup = opts.portGroup.targetPortGroupId;
    this.#log = opts.logger.child({ component: 'alua' });
  }

  async start(): Promise<void> {
    this.#groups = await this.#c.portGroups();
    this.#unsubscribe.push(
      this.#c.on('leadershipAcquired', ({ volume, epoch }) => {
        this.#evaluate(volume);
        void this.#prepare(volume, epoch);
      }),
      this.#c.on('leadershipLost', ({ volume, epoch, reason }) => {
        // canServeWrites is already false: media commands stop at the gate. Then tell initiators.
        this.#log.warn({ volume, epoch, reason }, 'lost the primary role');
        this.#evaluate(volume);
      }),
      this.#c.on('session', () => this.#evaluateAll()),
    );
    this.#subs.push(
      await this.#c.watchAlua((volume, snap) => {
        if (snap) this.#snapshots.set(volume, snap);
        else this.#snapshots.delete(volume);
        this.#evaluate(volume);
      }),
    );
    this.#subs.push(
      await this.#c.watchReplicaSets((volume, set) => {
        if (set) this.#replicaSets.set(volume, set);
        else this.#replicaSets.delete(volume);
        if (!this.#volumes.get(volume)?.replicated) return;
        if (this.#c.canServeWrites(volume)) void this.#publish(volume);
        this.#evaluate(volume);
      }),
    );
    this.#tick = setInterval(() => this.#evaluateAll(), TICK_MS);
    this.#tick.unref();
  }

  /** Membership changed (the composition root watches it): refresh groups, republish where primary. */
  async membersChanged(members: NodeAddresses[]): Promise<void> {
    this.#members = members;
    // A joining node registers first and allocates its port group right after: wait for it.
    for (let attempt = 0; attempt < 50 && !this.#closed; attempt++) {
      try {
        this.#groups = await this.#c.portGroups();
      } catch (err) {
        this.#log.warn({ err }, 'reading port groups failed');
      }
      if (this.#members !== members) return; // a newer change is being handled
      const known = new Set(this.#groups.map((g) => g.node));
      if (members.every((m) => known.has(m.name))) break;
      await sleep(100);
    }
    for (const volume of this.#volumes.keys()) {
      if (this.#c.canServeWrites(volume)) void this.#publish(volume);
      this.#evaluate(volume);
    }
  }

  portGroups(): readonly PortGroup[] {
    return this.#groups;
  }

  /** The replica set of a replicated volume as last seen (undefined: none yet). */
  replicaSet(volume: string): ReplicaSet | undefined {
    return this.#replicaSets.get(volume);
  }

  #inSync(volume: string, node: string): boolean {
    return this.#replicaSets.get(volume)?.inSync.includes(node) ?? false;
  }

  async #prepare(volume: string, epoch: number): Promise<void> {
    const e = this.#volumes.get(volume);
    if (!e) return;
    try {
      await this.#opts.prepare?.(volume, epoch);
    } catch (err) {
      // Not ready to serve: give the role back so an in-sync peer can take it.
      this.#log.error({ err, volume, epoch }, 'could not prepare to serve as primary: resigning');
      await this.#c.resign(volume).catch(() => undefined);
      setTimeout(() => {
        if (!this.#closed && this.#volumes.has(volume))
          this.#c.campaign(volume, { requireInSync: e.replicated });
      }, 1000).unref();
      return;
    }
    if (this.#c.epoch(volume) !== epoch) return;
    e.preparedEpoch = epoch;
    this.#log.info({ volume, epoch }, 'primary for volume: publishing ALUA state');
    await this.#publish(volume);
  }

  /** Starts serving a volume: watch its leader and campaign. */
  async addVolume(volume: string, options: AluaVolumeOptions, onChange: () => void): Promise<LuAccess> {
    const { standby } = options;
    if (!this.#volumes.has(volume)) {
      const entry: VolumeEntry = {
        standby,
        replicated: options.replicated === true,
        preparedEpoch: undefined,
        draining: false,
        leaderSub: undefined,
        view: '',
        local: 'transitioning',
        onChange,
      };
      this.#volumes.set(volume, entry);
      entry.leaderSub = await this.#c.watchLeader(volume, (leader) => {
        const before = this.#leaders.get(volume);
        this.#leaders.set(volume, leader);
        if (before?.node !== leader?.node || before?.epoch !== leader?.epoch) {
          this.#log.info(
            { volume, primary: leader?.node ?? null, epoch: leader?.epoch ?? null },
            'primary changed',
          );
          this.#opts.onPrimaryChange?.(volume, leader);
        }
        this.#evaluate(volume);
      });
      if (options.preferred !== undefined && options.preferred !== this.#me) {
        void this.#campaignAfterPreferred(volume, entry, options.preferred);
      } else {
        this.#c.campaign(volume, { requireInSync: entry.replicated });
      }
      this.#evaluate(volume);
    }
    return this.access(volume);
  }

  /**
   * Campaigns once the preferred node leads, cannot (not live; replicated: not in the in-sync
   * set), or has had PREFERRED_GRACE_MS. Only the order of the first election changes.
   */
  async #campaignAfterPreferred(volume: string, entry: VolumeEntry, preferred: string): Promise<void> {
    const deadline = Date.now() + PREFERRED_GRACE_MS;
    for (;;) {
      if (this.#closed || this.#volumes.get(volume) !== entry) return;
      const live = this.#members.some((m) => m.name === preferred);
      const set = this.#replicaSets.get(volume);
      const able = live && (!entry.replicated || set === undefined || set.inSync.includes(preferred));
      if (this.#leaders.get(volume) !== undefined || !able || Date.now() >= deadline) break;
      await sleep(100);
    }
    this.#log.debug({ volume, preferred }, 'campaigning after the preferred primary');
    this.#c.campaign(volume, { requireInSync: entry.replicated });
  }

  /**
   * Planned switchover (DESIGN.md Failover): this primary reports Transitioning (new media
   * commands get NOT READY, 04h/0Ah, and are retried), waits for `drained` (in-flight writes
   * done), gives up the election key, waits for another node to take it, then campaigns again
   * as an ordinary candidate. Resolves with the new primary. `to`: only that node may take it
   * (the election's hand-over record), not whichever candidate is first.
   */
  async handOver(
    volume: string,
    drained: () => Promise<void>,
    timeoutMs: number,
    to?: string,
  ): Promise<LeaderRecord | undefined> {
    const e = this.#volumes.get(volume);
    if (!e || !this.#c.canServeWrites(volume)) {
      throw new TandemError('TANDEM_ERR_CLUSTER_NOT_LEADER', `${volume}: this node is not its primary`);
    }
    e.draining = true;
    this.#evaluate(volume);
    let next: LeaderRecord | undefined;
    try {
      await drained();
      this.#log.info({ volume, to: to ?? null }, 'switchover: drained; handing the primary role over');
      await this.#c.resign(volume, to !== undefined ? { to } : undefined);
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && !this.#closed) {
        next = this.#leaders.get(volume);
        if (next && next.node !== this.#me) break;
        await sleep(50);
      }
    } finally {
      e.draining = false;
      if (!this.#closed && this.#volumes.has(volume))
        this.#c.campaign(volume, { requireInSync: e.replicated });
      this.#evaluate(volume);
    }
    if (!next || next.node === this.#me) return undefined;
    return next;
  }

  async removeVolume(volume: string): Promise<void> {
    const e = this.#volumes.get(volume);
    if (!e) return;
    this.#volumes.delete(volume);
    await e.leaderSub?.close();
    await this.#c.resign(volume);
    this.#leaders.delete(volume);
  }

  setStandby(volume: string, standby: boolean): void {
    const e = this.#volumes.get(volume);
    if (!e || e.standby === standby) return;
    e.standby = standby;
    if (this.#c.canServeWrites(volume)) void this.#publish(volume);
  }

  access(volume: string): LuAccess {
    return {
      state: () => this.localState(volume),
      mayExecute: () => this.#c.canServeWrites(volume) && this.localState(volume) === 'active-optimized',
      groupState: (id) => this.groupState(volume, id),
    };
  }

  /** Where forwarded commands for `volume` go now. */
  primaryOf(volume: string): PrimaryEndpoint | undefined {
    const leader = this.#leaders.get(volume);
    if (!leader || leader.node === this.#me) return undefined;
    const m = this.#members.find((x) => x.name === leader.node);
    return m?.grpc ? { node: m.name, address: m.grpc } : undefined;
  }

  /** This node's own group's state for `volume`. */
  localState(volume: string): AccessState {
    if (this.#c.sessionState() !== 'live') return 'unavailable';
    const role = this.#c.role(volume);
    const snap = this.#snapshots.get(volume);
    if (role === 'leader') {
      if (!this.#c.canServeWrites(volume)) return 'unavailable';
      if (this.#volumes.get(volume)?.draining) return 'transitioning';
      const epoch = this.#c.epoch(volume);
      return snap && snap.primary === this.#me && snap.epoch === epoch ? 'active-optimized' : 'transitioning';
    }
    if (role === 'fenced') return 'unavailable';
    // A replica outside the in-sync set holds stale data: it serves nothing until resynced.
    if (this.#volumes.get(volume)?.replicated && !this.#inSync(volume, this.#me)) return 'unavailable';
    const leader = this.#leaders.get(volume);
    if (!leader || leader.node === this.#me || !snap || snap.epoch !== leader.epoch) return 'transitioning';
    const mine = snap.groups.find((g) => g.targetPortGroupId === this.#myGroup)?.state;
    // Published before this node joined: a role change until the primary republishes.
    if (mine === undefined || mine === 'active-optimized') return 'transitioning';
    // Forwarding is how this group does I/O: with the primary unreachable (it died and its
    // lease has not expired yet) the port cannot do I/O, and TEST UNIT READY must say so.
    if (mine === 'active-non-optimized') {
      const primary = this.primaryOf(volume);
      if (!primary || this.#opts.primaryReachable?.(primary.address) === false) return 'transitioning';
    }
    return mine;
  }

  /** Any group's state for `volume` (REPORT TARGET PORT GROUPS), from the etcd snapshot. */
  groupState(volume: string, groupId: number): AccessState | undefined {
    if (groupId === this.#myGroup) return this.localState(volume);
    const snap = this.#snapshots.get(volume);
    if (!snap) return 'transitioning';
    const leader = this.#leaders.get(volume);
    const state = snap.groups.find((g) => g.targetPortGroupId === groupId)?.state;
    if (state === 'active-optimized' && (!leader || leader.epoch !== snap.epoch)) {
      // The snapshot's primary no longer holds the role. DESIGN.md Roles and ALUA: a dead node's
      // group is Unavailable; a live one (it resigned, or lost etcd) is in a role change.
      const owner = this.#groups.find((g) => g.targetPortGroupId === groupId)?.node;
      const dead =
        owner !== undefined && this.#members.length > 0 && !this.#members.some((m) => m.name === owner);
      return dead ? 'unavailable' : 'transitioning';
    }
    return state ?? 'unavailable';
  }

  async #publish(volume: string): Promise<void> {
    const epoch = this.#c.epoch(volume);
    const e = this.#volumes.get(volume);
    if (epoch === undefined || !e || !this.#c.canServeWrites(volume)) return;
    if (e.preparedEpoch !== epoch) return; // #prepare publishes once ready
    const live = new Set((await this.#liveMembers()).map((m) => m.name));
    live.add(this.#me);
    if (this.#c.epoch(volume) !== epoch || !this.#c.canServeWrites(volume)) return;
    const groups: { targetPortGroupId: number; state: AluaState }[] = this.#groups.map((g) => ({
      targetPortGroupId: g.targetPortGroupId,
      state:
        g.node === this.#me
          ? 'active-optimized'
          : live.has(g.node) && (!e.replicated || this.#inSync(volume, g.node))
            ? e.standby
              ? 'standby'
              : 'active-non-optimized'
            : 'unavailable',
    }));
    if (!groups.some((g) => g.targetPortGroupId === this.#myGroup)) {
      groups.push({ targetPortGroupId: this.#myGroup, state: 'active-optimized' });
    }
    const current = this.#snapshots.get(volume);
    if (
      current &&
      current.epoch === epoch &&
      JSON.stringify(current.groups) ===
        JSON.stringify([...groups].sort((a, b) => a.targetPortGroupId - b.targetPortGroupId))
    ) {
      return;
    }
    try {
      const snap = await this.#c.publishAlua(volume, epoch, groups);
      const seen = this.#snapshots.get(volume);
      if (!seen || seen.revision < snap.revision) this.#snapshots.set(volume, snap);
      this.#log.info({ volume, epoch, groups: snap.groups }, 'ALUA state published');
      this.#evaluate(volume);
    } catch (err) {
      this.#log.warn({ err, volume, epoch }, 'publishing the ALUA state failed');
    }
  }

  /**
   * Who is live now, read from the cluster: a new primary wins when the old one's lease expires,
   * which deletes its member key in the same revision, but the membership watch may deliver that
   * after the election watch. A dead node published A/NO or Standby would be a lie (DESIGN.md).
   */
  async #liveMembers(): Promise<readonly NodeAddresses[]> {
    try {
      return await this.#c.members();
    } catch (err) {
      this.#log.warn({ err }, 'reading the members failed; publishing from the last membership seen');
      return this.#members;
    }
  }

  #evaluateAll(): void {
    for (const v of this.#volumes.keys()) this.#evaluate(v);
  }

  /** Notices a change of what the LU answers and reports it (unit attention) once. */
  #evaluate(volume: string): void {
    if (this.#closed) return;
    const e = this.#volumes.get(volume);
    if (!e) return;
    const local = this.localState(volume);
    const groups = this.#groups.map(
      (g) => `${g.targetPortGroupId}:${this.groupState(volume, g.targetPortGroupId)}`,
    );
    const view = `${local}|${groups.join(',')}`;
    if (view === e.view) return;
    const first = e.view === '';
    e.view = view;
    if (local !== e.local) {
      this.#log.info({ volume, from: e.local, to: local }, `ALUA ${e.local} -> ${local}`);
      e.local = local;
    }
    if (!first) e.onChange();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#tick) clearInterval(this.#tick);
    for (const u of this.#unsubscribe) u();
    await Promise.all([...this.#volumes.values()].map((e) => e.leaderSub?.close()));
    await Promise.all(this.#subs.map((s) => s.close()));
  }
}
