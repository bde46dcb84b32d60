// ClusterAlua: the ALUA state this node reports for every port group of a volume. DESIGN.md Roles
// and ALUA: a dead node's port group is Unavailable (04h 0Ch) — in the new primary's first
// snapshot, and while no primary holds the role — never Standby, A/NO or Transitioning.
import { describe, expect, it } from 'vitest';
import { ClusterAlua } from '../../../src/cluster/alua-source.js';
import type {
  AluaSnapshot,
  AluaState,
  Coordinator,
  CoordinatorEvents,
  ElectionRole,
  LeaderRecord,
  NodeAddresses,
  PortGroup,
  VolumeListener,
} from '../../../src/cluster/coordinator.js';
import { silentLogger } from '../../../src/util/logger.js';

const node = (name: string): NodeAddresses => ({
  name,
  portals: [`${name}:3260`],
  grpc: `${name}:50051`,
  admin: `${name}:50052`,
});
const groups: PortGroup[] = [
  { node: 'a', targetPortGroupId: 1, ports: [{ portal: 'a:3260', relativePortId: 1 }] },
  { node: 'b', targetPortGroupId: 2, ports: [{ portal: 'b:3260', relativePortId: 2 }] },
];
const tick = () => new Promise((r) => setImmediate(r));

/** The part of a Coordinator ClusterAlua uses, as node `b`, driven by the test. */
class FakeCoordinator {
  readonly kind = 'etcd' as const;
  readonly nodeName = 'b';
  /** What etcd holds now (members() reads it); the watch the daemon feeds may lag behind. */
  liveMembers: NodeAddresses[] = [node('a'), node('b')];
  myRole: ElectionRole = 'candidate';
  myEpoch: number | undefined;
  readonly published: Array<{ epoch: number; groups: { targetPortGroupId: number; state: AluaState }[] }> =
    [];
  #rev = 100;
  #alua: VolumeListener<AluaSnapshot> | undefined;
  #leader: ((l: LeaderRecord | undefined) => void) | undefined;
  readonly #listeners = new Map<string, Set<(e: never) => void>>();

  on<E extends keyof CoordinatorEvents>(event: E, listener: CoordinatorEvents[E]): () => void {
    const set = this.#listeners.get(event) ?? new Set();
    set.add(listener as (e: never) => void);
    this.#listeners.set(event, set);
    return () => set.delete(listener as (e: never) => void);
  }
  emit<E extends keyof CoordinatorEvents>(event: E, e: Parameters<CoordinatorEvents[E]>[0]): void {
    for (const l of this.#listeners.get(event) ?? []) (l as (x: typeof e) => void)(e);
  }
  sessionState() {
    return 'live' as const;
  }
  async portGroups() {
    return groups;
  }
  async members() {
    return this.liveMembers;
  }
  async watchAlua(listener: VolumeListener<AluaSnapshot>) {
    this.#alua = listener;
    return { close: async () => undefined };
  }
  async watchReplicaSets() {
    return { close: async () => undefined };
  }
  async watchLeader(_volume: string, listener: (l: LeaderRecord | undefined) => void) {
    this.#leader = listener;
    return { close: async () => undefined };
  }
  campaign() {}
  async resign() {}
  role() {
    return this.myRole;
  }
  epoch() {
    return this.myEpoch;
  }
  canServeWrites() {
    return this.myRole === 'leader';
  }
  async publishAlua(
    volume: string,
    epoch: number,
    g: readonly { targetPortGroupId: number; state: AluaState }[],
  ): Promise<AluaSnapshot> {
    const sorted = [...g].sort((x, y) => x.targetPortGroupId - y.targetPortGroupId);
    this.published.push({ epoch, groups: sorted });
    const snap = { volume, epoch, primary: this.nodeName, groups: sorted, revision: ++this.#rev };
    this.#alua?.(volume, snap, snap.revision);
    return snap;
  }
  deliverAlua(snap: Omit<AluaSnapshot, 'revision'>): void {
    this.#alua?.(snap.volume, { ...snap, revision: ++this.#rev }, this.#rev);
  }
  deliverLeader(l: LeaderRecord | undefined): void {
    this.#leader?.(l);
  }
}

/** Node b, an A/NO peer of primary a (epoch 10), both live. */
async function peerOfLiveprimary() {
  const c = new FakeCoordinator();
  const alua = new ClusterAlua({
    coordinator: c as unknown as Coordinator,
    portGroup: groups[1]!,
    logger: silentLogger(),
  });
  await alua.start();
  await alua.membersChanged([node('a'), node('b')]);
  await alua.addVolume('v', { standby: false }, () => undefined);
  c.deliverAlua({
    volume: 'v',
    epoch: 10,
    primary: 'a',
    groups: [
      { targetPortGroupId: 1, state: 'active-optimized' },
      { targetPortGroupId: 2, state: 'active-non-optimized' },
    ],
  });
  c.deliverLeader({ volume: 'v', node: 'a', epoch: 10 });
  expect(alua.groupState('v', 1)).toBe('active-optimized');
  expect(alua.groupState('v', 2)).toBe('active-non-optimized');
  return { c, alua };
}

describe('ClusterAlua: a dead node’s port group', () => {
  it('is published Unavailable by the new primary even before the membership watch reports the death', async () => {
    const { c, alua } = await peerOfLiveprimary();
    // a dies: its lease expires, taking its election key and its member key in one revision.
    c.liveMembers = [node('b')];
    c.deliverLeader(undefined);
    // b wins before the daemon's membership watch has delivered the change.
    c.myRole = 'leader';
    c.myEpoch = 20;
    c.emit('leadershipAcquired', { volume: 'v', epoch: 20 });
    for (let i = 0; i < 5; i++) await tick();
    expect(c.published.at(-1)).toEqual({
      epoch: 20,
      groups: [
        { targetPortGroupId: 1, state: 'unavailable' },
        { targetPortGroupId: 2, state: 'active-optimized' },
      ],
    });
    expect(alua.groupState('v', 1)).toBe('unavailable');
    await alua.close();
  });

  it('reads Unavailable, not Transitioning, while no primary holds the role', async () => {
    const { c, alua } = await peerOfLiveprimary();
    c.liveMembers = [node('b')];
    c.deliverLeader(undefined);
    await alua.membersChanged([node('b')]);
    expect(alua.groupState('v', 1)).toBe('unavailable');
    // This node's own group is in a role change meanwhile.
    expect(alua.groupState('v', 2)).toBe('transitioning');
    await alua.close();
  });

  it('a live former primary that gave the role up reads Transitioning until the new one publishes', async () => {
    const { c, alua } = await peerOfLiveprimary();
    c.deliverLeader(undefined); // a resigned (switchover): still a member
    expect(alua.groupState('v', 1)).toBe('transitioning');
    await alua.close();
  });
});
