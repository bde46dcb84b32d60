import * as grpc from '@grpc/grpc-js';
import { withRetry } from '../util/retry.js';
import type { DirtyBitmap } from './bitmap.js';
import { replicationError } from './errors.js';
import { PeerLink } from './peer-link.js';
import type { HelloMessage, HelloReplyMessage } from './proto.js';
import type { PeerAddress, PeerStatus } from './replication-interface.js';
import { resync } from './resync.js';
import type { VolumeContext } from './volume-context.js';

/**
 * A failed in-sync set change is retried 4 times (5 calls), 50, 100, 200 and 400 ms apart, while
 * this node may still serve: a write waiting on it is held under 1 s before it fails as fenced.
 */
const IN_SYNC_RETRY = {
  policy: {
    initialDelayMs: 50,
    maxDelayMs: 400,
    multiplier: 2,
    jitter: 0,
    deadlineMs: Number.POSITIVE_INFINITY,
  },
  maxAttempts: 5,
} as const;

/**
 * The primary's view of its peers (rule 2): one PeerLink per live peer, through connecting,
 * resync and in-sync, and the in-sync set in etcd corrected by this term's own changes. A peer
 * that fails, or stays silent past the connect deadline, leaves the set before anything it
 * lacks is acknowledged.
 */
export class Membership {
  readonly #ctx: VolumeContext;
  readonly links = new Map<string, PeerLink>();
  readonly #added = new Set<string>();
  readonly #removed = new Set<string>();
  readonly #removals = new Map<string, Promise<void>>();
  /** Peers not yet resynced from this node's own activity log of before this term (finding 5). */
  readonly #logPending = new Set<string>();
  /**
   * Peers seen leaving the replica set this term (volume replicas remove): while out of it the
   * bitmap stopped tracking what they lack (regions are cleaned once every *replica* is in sync),
   * so if they are added back they get a full resync, never one from the bitmap.
   */
  readonly #departed = new Set<string>();
  /** The replica set as peersChanged() last saw it (departures are the difference). */
  #replicas = new Set<string>();
  /** When this node last became primary (the connect deadline counts from it). */
  primarySince = 0;

  constructor(ctx: VolumeContext) {
    this.#ctx = ctx;
  }

  /**
   * A new primary term: no link or set change of an older term carries over. `ownLog`: this
   * node's bitmap names regions from before the term (it crashed or lost the role as primary
   * with writes in flight), which every peer must get by resync even if it looks consistent
   * (issue 14, finding 5: those writes were never acknowledged, so a peer may lack them).
   */
  newTerm(ownLog = false): void {
    this.closeLinks('new primary term');
    this.#added.clear();
    this.#removed.clear();
    this.#logPending.clear();
    this.#departed.clear();
    this.#replicas = new Set(this.#ctx.o.replicas());
    if (ownLog) for (const n of this.#ctx.o.replicas()) if (n !== this.#ctx.o.node) this.#logPending.add(n);
    this.primarySince = Date.now();
  }

  closeLinks(why: string): void {
    for (const link of this.links.values()) link.close(why);
    this.links.clear();
  }

  /** Effective in-sync members other than this node: etcd's view corrected by our own changes. */
  memberNodes(): string[] {
    const out = new Set<string>();
    for (const n of this.#ctx.o.inSync.members()) if (!this.#removed.has(n)) out.add(n);
    for (const n of this.#added) out.add(n);
    out.delete(this.#ctx.o.node);
    return [...out];
  }

  isMember(node: string): boolean {
    if (node === this.#ctx.o.node) return false;
    if (this.#removed.has(node)) return false;
    return this.#added.has(node) || this.#ctx.o.inSync.members().has(node);
  }

  /** Every configured replica is in the in-sync set with a live mirror. */
  allInSync(): boolean {
    for (const node of this.#ctx.o.replicas()) {
      if (node === this.#ctx.o.node) continue;
      if (!this.isMember(node) || this.links.get(node)?.state !== 'in-sync') return false;
    }
    return true;
  }

  /** In-sync peers that are not mirroring by the connect deadline are removed (rule 2). */
  removeSilent(gen: number): void {
    for (const node of this.memberNodes()) {
      if (this.links.get(node)?.state === 'in-sync') continue;
      this.ensureRemoved(node, gen).catch((err: unknown) =>
        this.#ctx.log.warn({ peer: node, err: (err as Error).message }, 'could not remove a silent peer'),
      );
    }
  }

  /** A peer failed or is missing: out of the in-sync set before anything it lacks is acked. */
  async peerDown(node: string, gen: number): Promise<void> {
    const adding = this.links.get(node)?.adding;
    if (adding) await adding.catch(() => undefined);
    if (this.isMember(node)) await this.ensureRemoved(node, gen);
  }

  ensureRemoved(node: string, gen: number): Promise<void> {
    let p = this.#removals.get(node);
    if (!p) {
      p = this.#changeInSync('remove', node, gen).finally(() => this.#removals.delete(node));
      this.#removals.set(node, p);
    }
    return p;
  }

  /** One in-sync set change at this term's epoch, retried while this node may still serve. */
  async #changeInSync(what: 'add' | 'remove', node: string, gen: number): Promise<void> {
    const ctx = this.#ctx;
    const epoch = ctx.epoch;
    const fenced = (why: string) =>
      replicationError(
        'TANDEM_ERR_REPLICATION_FENCED',
        `${ctx.o.volume}: cannot ${what} ${node} in the in-sync set: ${why}`,
      );
    let noLongerPrimary: Error | undefined;
    const attempt = async (): Promise<void> => {
      if (gen !== ctx.generation || !ctx.o.canServeWrites()) {
        noLongerPrimary = fenced('no longer primary');
        throw noLongerPrimary;
      }
      await ctx.o.inSync[what](node, epoch);
      if (gen !== ctx.generation) {
        noLongerPrimary = fenced('no longer primary');
        throw noLongerPrimary;
      }
    };
    try {
      await withRetry(`in-sync set ${what}`, attempt, {
        ...IN_SYNC_RETRY,
        retryable: (err) => err !== noLongerPrimary,
        onRetry: (err, n, _delayMs) =>
          ctx.log.warn(
            { peer: node, attempt: n, err: (err as Error).message },
            `in-sync set ${what} failed: retrying`,
          ),
      });
    } catch (err) {
      if (err === noLongerPrimary) throw err;
      throw replicationError(
        'TANDEM_ERR_REPLICATION_FENCED',
        `${ctx.o.volume}: cannot ${what} ${node} in the in-sync set: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (what === 'remove') {
      this.#removed.add(node);
      this.#added.delete(node);
      // A link never shows in-sync for a non-member: it reconnects and is resynced.
      const link = this.links.get(node);
      if (link?.state === 'in-sync') link.fail('removed from the in-sync set');
    } else {
      this.#added.add(node);
      this.#removed.delete(node);
    }
    ctx.log.info(
      { peer: node, epoch },
      what === 'remove' ? 'peer removed from the in-sync set' : 'peer added to the in-sync set',
    );
  }

  // ---------------------------------------------------------------- links

  /** Replaces links to peers that left or moved, and starts one to every live peer without. */
  peersChanged(): void {
    const ctx = this.#ctx;
    if (!ctx.role.is('primary')) return;
    const live = new Map<string, PeerAddress>();
    for (const p of ctx.o.peers()) if (p.node !== ctx.o.node) live.set(p.node, p);
    const replicas = new Set(ctx.o.replicas());
    for (const node of this.#replicas) {
      if (replicas.has(node)) continue;
      this.#departed.add(node);
      // Not a replica any more: our bitmap stops covering it, so a later return is a full copy.
      ctx.meta
        .update((m) => ({ tracked: (m.tracked ?? []).filter((n) => n !== node) }))
        .catch((err: unknown) => ctx.log.warn({ err }, 'could not record a departed replica'));
    }
    this.#replicas = replicas;
    for (const [node, link] of this.links) {
      const p = live.get(node);
      if (!p || p.address !== link.address) {
        link.fail(p ? 'address changed' : 'no longer a live peer');
        this.links.delete(node);
      }
    }
    for (const p of live.values()) {
      const link = this.links.get(p.node);
      if (link && !link.down) continue;
      this.#startLink(p);
    }
  }

  #startLink(p: PeerAddress): void {
    const ctx = this.#ctx;
    const gen = ctx.generation;
    const link = new PeerLink({
      node: p.node,
      address: p.address,
      epoch: ctx.epoch,
      logger: ctx.log,
      credentials: ctx.o.peerCredentials?.(p.node) ?? ctx.o.credentials ?? grpc.credentials.createInsecure(),
      maxInflightBytes: ctx.timing.maxInflightBytes,
      ackTimeoutMs: ctx.timing.ackTimeoutMs,
      onDown: (l, why) => this.#linkDown(l, why, gen),
      onAck: () => ctx.metrics.acks++,
    });
    this.links.set(p.node, link);
    void this.#runLink(link, gen);
  }

  #linkDown(link: PeerLink, why: string, gen: number): void {
    const ctx = this.#ctx;
    if (gen !== ctx.generation) return;
    ctx.metrics.peerFailures++;
    ctx.log.warn({ peer: link.node, state: link.state, reason: why }, 'mirror to peer failed');
    // Remove it from the in-sync set now rather than at the next write.
    this.peerDown(link.node, gen).catch((err: unknown) =>
      ctx.log.warn({ peer: link.node, err: (err as Error).message }, 'could not remove a failed peer'),
    );
    ctx.timer(ctx.timing.reconnectMs, () => {
      if (gen !== ctx.generation || this.links.get(link.node) !== link) return;
      this.links.delete(link.node);
      this.peersChanged();
    });
  }

  async #runLink(link: PeerLink, gen: number): Promise<void> {
    const ctx = this.#ctx;
    // The size replication covers (a prepared resize included) and the size the LU reports.
    const size = ctx.bm().size;
    const hello: HelloMessage = {
      volume: ctx.o.volume,
      epoch: ctx.epoch,
      primaryNode: ctx.o.node,
      datasetId: ctx.datasetId,
      regionSize: ctx.bm().regionSize,
      size,
      era: ctx.o.era ?? '',
      committedSize: ctx.size,
    };
    try {
      let reply = await link.connect(hello, Math.max(ctx.timing.ackTimeoutMs, ctx.timing.connectDeadlineMs));
      if (gen !== ctx.generation || link.down) return;
      if (reply.highestEpoch > ctx.epoch) {
        link.fail(
          `the peer has seen epoch ${reply.highestEpoch}, newer than ours (${ctx.epoch})`,
          'stale-epoch',
        );
        return;
      }
      // Membership is judged after a removal in flight lands (issue 14, finding 8): else a peer
      // reconnecting faster than etcd answers shows in-sync while it leaves the set.
      const removal = this.#removals.get(link.node);
      if (removal) await removal.catch(() => undefined);
      if (gen !== ctx.generation || link.down) return;
      const peerDirty = regionsFromPeerBitmap(reply, ctx.bm(), size);
      if (this.#departed.has(link.node)) reply = { ...reply, hasValidData: false };
      const sameData = reply.hasValidData && ctx.datasetId !== '' && reply.datasetId === ctx.datasetId;
      if (this.isMember(link.node)) {
        if (sameData && peerDirty.length === 0 && !this.#logPending.has(link.node)) {
          link.transition('in-sync');
          return;
        }
        // Out of the set first unless it surely holds every acknowledged write (rule 2): our
        // dataset, and no dirty region of its own or an intact copy. Its bitmap names regions
        // where it may differ from us either way: writes it applied that we lack (a dead
        // primary's unacknowledged write that reached it only), or writes it lost (a power cut
        // takes what it never flushed, acknowledged or not; its restart ended `intact`). A copy
        // that may lack an acknowledged write must neither win an election nor count as in sync
        // until the resync of ours ∪ its regions ends. One that cannot (intact, or clean, lacking
        // at most our own unacknowledged writes: our log) stays in while it is resynced.
        if (!sameData || (peerDirty.length > 0 && !reply.intact)) await this.ensureRemoved(link.node, gen);
      }
      await resync(ctx, link, reply, peerDirty, gen, (node) => this.#changeInSync('add', node, gen));
      if (gen === ctx.generation && link.state === 'in-sync') {
        this.#logPending.delete(link.node);
        this.#departed.delete(link.node);
      }
    } catch (err) {
      link.fail((err as Error).message);
    }
  }

  statuses(now: number): PeerStatus[] {
    return [...this.links.values()].map((l) => {
      const resyncing = l.state === 'resyncing';
      const rate = resyncing ? l.resyncProgress.rate(now) : 0;
      const left = l.resyncTotalBytes - l.resyncDoneBytes;
      return {
        node: l.node,
        address: l.address,
        state: l.state,
        resyncDoneBytes: l.resyncDoneBytes,
        resyncTotalBytes: l.resyncTotalBytes,
        resyncSentBytes: l.resyncSentBytes,
        resyncRateBps: Math.round(rate),
        resyncEtaSeconds: resyncing && rate > 0 ? Math.ceil(left / rate) : undefined,
        resyncResumed: l.resyncResumed,
        inflightOps: l.inflightOps,
        lastAckMs: l.lastAckAt === undefined ? undefined : now - l.lastAckAt,
        lastError: l.lastError,
      };
    });
  }
}

/** The peer's dirty regions in our region size (any overlap counts). */
function regionsFromPeerBitmap(reply: HelloReplyMessage, bm: DirtyBitmap, size: number): number[] {
  const out = new Set<number>();
  const rs = reply.regionSize;
  if (rs <= 0) return [];
  const bits = reply.dirtyBitmap;
  const peerRegions = Math.min(bits.length * 8, Math.ceil(size / rs));
  for (let i = 0; i < peerRegions; i++) {
    if ((bits[i >> 3]! & (1 << (i & 7))) === 0) continue;
    const { first, last } = bm.regionsOf(i * rs, Math.min(rs, size - i * rs));
    for (let r = first; r <= last; r++) out.add(r);
  }
  return [...out];
}
