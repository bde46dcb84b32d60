import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { BlockDevice, Extent } from '../backstore/block-device.js';
import { crc32c } from '../util/crc32c.js';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { DirtyBitmap, regionSizeFor } from './bitmap.js';
import { replicationError } from './errors.js';
import { MetadataFile } from './metadata.js';
import { type OutgoingOp, PeerLink } from './peer-link.js';
import {
  type HelloMessage,
  type HelloReplyMessage,
  OpKind,
  type OpKindCode,
  type OpMessage,
} from './proto.js';
import { RegionLock } from './region-lock.js';
import {
  type PeerAddress,
  type ReplicatedVolumeOptions,
  type ReplicationMetrics,
  type ReplicationStatus,
  type ReplicationTiming,
  type Role,
  type VerifyResult,
  zeroReplicationMetrics,
} from './replication-interface.js';

const DEFAULT_TIMING: ReplicationTiming = {
  ackTimeoutMs: 2000,
  connectDeadlineMs: 1500,
  cleanAfterMs: 2000,
  reconnectMs: 1000,
  maxInflightBytes: 32 << 20,
};

/** How many times a failed in-sync set change is retried while this node may still serve. */
const IN_SYNC_RETRIES = 4;
/** Regions a resync copies at once. */
const RESYNC_PARALLEL = 4;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One replicated volume on one node (DESIGN.md, the safety rules). As primary its `blockDevice`
 * writes locally and mirrors to every live peer at once, and acknowledges only when the local
 * op and every in-sync peer are done (rule 1), or after the failed peer left the in-sync set
 * (rule 2). Every write first makes its regions dirty in the durable bitmap (rule 6). Peers that
 * are not in sync are resynced from the bitmaps of both sides. As replica it applies what the
 * primary sends (see addReplicationService) after checking the epoch (rule 3).
 */
export class ReplicatedVolume {
  readonly blockDevice: BlockDevice;
  readonly #o: ReplicatedVolumeOptions;
  readonly #log: Logger;
  readonly #timing: ReplicationTiming;
  readonly #device: BlockDevice;
  readonly #meta: MetadataFile;
  #bitmap: DirtyBitmap | undefined;
  readonly #locks = new RegionLock();
  #role: Role = 'closed';
  #epoch = 0;
  /** Bumped by every change of role: work started in an older generation must not ack. */
  #generation = 0;
  readonly #links = new Map<string, PeerLink>();
  readonly #added = new Set<string>();
  readonly #removed = new Set<string>();
  readonly #removals = new Map<string, Promise<void>>();
  #primarySince = 0;
  readonly #timers = new Set<NodeJS.Timeout>();
  #cleanTimer: NodeJS.Timeout | undefined;
  /** Rejecters of writes in progress: lostPrimary() fails them all at once. */
  readonly #pending = new Set<(err: Error) => void>();
  readonly #metrics: ReplicationMetrics = zeroReplicationMetrics();

  constructor(opts: ReplicatedVolumeOptions) {
    this.#o = opts;
    this.#device = opts.device;
    this.#log = opts.logger.child({ component: 'replication', volume: opts.volume });
    this.#timing = { ...DEFAULT_TIMING, ...opts.timing };
    this.#meta = new MetadataFile(path.join(opts.stateDir, `${opts.volume}.meta.json`));
    this.blockDevice = this.#makeBlockDevice();
  }

  get hasValidData(): boolean {
    return this.#meta.current.hasValidData;
  }

  get datasetId(): string {
    return this.#meta.current.datasetId;
  }

  get role(): Role {
    return this.#role;
  }

  #bm(): DirtyBitmap {
    if (!this.#bitmap) throw new TandemError('TANDEM_ERR_ASSERT', `${this.#o.volume}: used before open()`);
    return this.#bitmap;
  }

  async open(): Promise<void> {
    let meta = await this.#meta.load();
    const era = this.#o.era;
    if (era && meta.era !== era) {
      if (meta.era !== '') {
        // etcd was replaced (a restore into a new cluster): its revisions, hence epochs, started
        // again. No primary of the old era can hold a lease in this one, and Hellos carry the
        // era, so an old-era primary is refused (see acceptHello).
        this.#log.warn(
          { from: meta.era, to: era, highestEpoch: meta.highestEpoch },
          'etcd era changed: epoch history restarts',
        );
        meta = await this.#meta.update(() => ({ era, highestEpoch: 0 }));
      } else meta = await this.#meta.update(() => ({ era }));
    }
    const file = path.join(this.#o.stateDir, `${this.#o.volume}.bitmap`);
    const size = this.#device.size;
    const { bitmap, created } = await DirtyBitmap.open(file, size, regionSizeFor(size, this.#o.regionSize));
    this.#bitmap = bitmap;
    if (created && meta.hasValidData) {
      // The activity log is gone: any region may hold writes a peer lacks.
      this.#log.warn('dirty bitmap missing for a volume with data: every region is dirty');
      await bitmap.markAll();
    }
    this.#transitionRole(['closed'], 'replica');
    this.#log.info(
      {
        datasetId: meta.datasetId,
        hasValidData: meta.hasValidData,
        highestEpoch: meta.highestEpoch,
        regionSize: bitmap.regionSize,
        dirtyRegions: bitmap.dirtyCount,
      },
      'replicated volume opened',
    );
  }

  #transitionRole(from: readonly Role[], to: Role, fields: Record<string, unknown> = {}): boolean {
    const prev = this.#role;
    if (!from.includes(prev)) return false;
    this.#role = to;
    this.#generation++;
    this.#log.info(
      { ...fields, from: prev, to },
      `replication role: ${prev.toUpperCase()} -> ${to.toUpperCase()}`,
    );
    return true;
  }

  async initDataset(datasetId: string): Promise<void> {
    await this.#meta.update(() => ({ datasetId, hasValidData: true }));
    this.#log.info({ datasetId }, 'dataset created: this node is its first in-sync member');
  }

  // ---------------------------------------------------------------- primary: role changes

  async becamePrimary(epoch: number): Promise<void> {
    if (this.#role === 'closed') throw new TandemError('TANDEM_ERR_ASSERT', `${this.#o.volume}: not open`);
    const highest = this.#meta.current.highestEpoch;
    if (epoch < highest) {
      throw replicationError(
        'TANDEM_ERR_REPLICATION_STALE_EPOCH',
        `${this.#o.volume}: epoch ${epoch} is older than ${highest}, already seen here`,
      );
    }
    if (epoch > highest) await this.#meta.update(() => ({ highestEpoch: epoch }));
    if (!this.hasValidData) this.#log.error('primary without valid data: the lead must not elect this node');
    this.#closeLinks('new primary term');
    this.#epoch = epoch;
    this.#added.clear();
    this.#removed.clear();
    this.#primarySince = Date.now();
    this.#transitionRole(['replica', 'primary'], 'primary', { epoch });
    const gen = this.#generation;
    this.#timer(this.#timing.connectDeadlineMs, () => {
      if (gen !== this.#generation) return;
      // In-sync peers that are not mirroring by now are removed (rule 2).
      for (const node of this.#memberNodes()) {
        if (this.#links.get(node)?.state === 'in-sync') continue;
        this.#ensureRemoved(node, gen).catch((err: unknown) =>
          this.#log.warn({ peer: node, err: (err as Error).message }, 'could not remove a silent peer'),
        );
      }
    });
    this.#cleanTimer = setInterval(
      () => this.#cleanQuietRegions(),
      Math.max(10, this.#timing.cleanAfterMs / 2),
    );
    this.#cleanTimer.unref();
    this.peersChanged();
  }

  lostPrimary(): void {
    if (!this.#transitionRole(['primary'], 'replica')) return;
    // Stop before anything else: nothing started in the term may be acknowledged now.
    const err = replicationError('TANDEM_ERR_REPLICATION_FENCED', `${this.#o.volume}: no longer primary`);
    for (const reject of [...this.#pending]) reject(err);
    this.#pending.clear();
    this.#stopPrimaryWork('lost primary');
  }

  #stopPrimaryWork(why: string): void {
    this.#epoch = 0;
    if (this.#cleanTimer) clearInterval(this.#cleanTimer);
    this.#cleanTimer = undefined;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#closeLinks(why);
  }

  #closeLinks(why: string): void {
    for (const link of this.#links.values()) link.close(why);
    this.#links.clear();
  }

  #timer(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.#timers.add(t);
  }

  peersChanged(): void {
    if (this.#role !== 'primary') return;
    const live = new Map<string, PeerAddress>();
    for (const p of this.#o.peers()) if (p.node !== this.#o.node) live.set(p.node, p);
    for (const [node, link] of this.#links) {
      const p = live.get(node);
      if (!p || p.address !== link.address) {
        link.fail(p ? 'address changed' : 'no longer a live peer');
        this.#links.delete(node);
      }
    }
    for (const p of live.values()) {
      const link = this.#links.get(p.node);
      if (link && !link.down) continue;
      this.#startLink(p);
    }
  }

  #startLink(p: PeerAddress): void {
    const gen = this.#generation;
    const link = new PeerLink({
      node: p.node,
      address: p.address,
      epoch: this.#epoch,
      logger: this.#log,
      credentials: this.#o.credentials ?? grpc.credentials.createInsecure(),
      maxInflightBytes: this.#timing.maxInflightBytes,
      ackTimeoutMs: this.#timing.ackTimeoutMs,
      onDown: (l, why) => this.#linkDown(l, why, gen),
      onAck: () => this.#metrics.acks++,
    });
    this.#links.set(p.node, link);
    void this.#runLink(link, gen);
  }

  #linkDown(link: PeerLink, why: string, gen: number): void {
    if (gen !== this.#generation) return;
    this.#metrics.peerFailures++;
    this.#log.warn({ peer: link.node, state: link.state, reason: why }, 'mirror to peer failed');
    // Remove it from the in-sync set now rather than at the next write.
    this.#peerDown(link.node, gen).catch((err: unknown) =>
      this.#log.warn({ peer: link.node, err: (err as Error).message }, 'could not remove a failed peer'),
    );
    this.#timer(this.#timing.reconnectMs, () => {
      if (gen !== this.#generation || this.#links.get(link.node) !== link) return;
      this.#links.delete(link.node);
      this.peersChanged();
    });
  }

  async #runLink(link: PeerLink, gen: number): Promise<void> {
    const size = this.#device.size;
    const hello: HelloMessage = {
      volume: this.#o.volume,
      epoch: this.#epoch,
      primaryNode: this.#o.node,
      datasetId: this.datasetId,
      regionSize: this.#bm().regionSize,
      size,
      era: this.#o.era ?? '',
    };
    try {
      const reply = await link.connect(
        hello,
        Math.max(this.#timing.ackTimeoutMs, this.#timing.connectDeadlineMs),
      );
      if (gen !== this.#generation || link.down) return;
      if (reply.highestEpoch > this.#epoch) {
        link.fail(
          `the peer has seen epoch ${reply.highestEpoch}, newer than ours (${this.#epoch})`,
          'stale-epoch',
        );
        return;
      }
      const peerDirty = regionsFromPeerBitmap(reply, this.#bm(), size);
      const consistent =
        reply.hasValidData &&
        this.datasetId !== '' &&
        reply.datasetId === this.datasetId &&
        peerDirty.length === 0;
      if (this.#isMember(link.node)) {
        if (consistent) {
          link.transition('in-sync');
          return;
        }
        // In the set but not identical (it was primary with writes we may not have): out first.
        await this.#ensureRemoved(link.node, gen);
      }
      await this.#resync(link, reply, peerDirty, gen);
    } catch (err) {
      link.fail((err as Error).message);
    }
  }

  // ---------------------------------------------------------------- primary: in-sync set

  /** Effective in-sync members other than this node: etcd's view corrected by our own changes. */
  #memberNodes(): string[] {
    const out = new Set<string>();
    for (const n of this.#o.inSync.members()) if (!this.#removed.has(n)) out.add(n);
    for (const n of this.#added) out.add(n);
    out.delete(this.#o.node);
    return [...out];
  }

  #isMember(node: string): boolean {
    if (node === this.#o.node) return false;
    if (this.#removed.has(node)) return false;
    return this.#added.has(node) || this.#o.inSync.members().has(node);
  }

  /** A peer failed or is missing: out of the in-sync set before anything it lacks is acked. */
  async #peerDown(node: string, gen: number): Promise<void> {
    const adding = this.#links.get(node)?.adding;
    if (adding) await adding.catch(() => undefined);
    if (this.#isMember(node)) await this.#ensureRemoved(node, gen);
  }

  #ensureRemoved(node: string, gen: number): Promise<void> {
    let p = this.#removals.get(node);
    if (!p) {
      p = this.#changeInSync('remove', node, gen).finally(() => this.#removals.delete(node));
      this.#removals.set(node, p);
    }
    return p;
  }

  /** One in-sync set change at this term's epoch, retried while this node may still serve. */
  async #changeInSync(what: 'add' | 'remove', node: string, gen: number): Promise<void> {
    const epoch = this.#epoch;
    for (let attempt = 0; ; attempt++) {
      if (gen !== this.#generation || !this.#o.canServeWrites()) {
        throw replicationError(
          'TANDEM_ERR_REPLICATION_FENCED',
          `${this.#o.volume}: cannot ${what} ${node} in the in-sync set: no longer primary`,
        );
      }
      try {
        await this.#o.inSync[what](node, epoch);
        if (gen !== this.#generation) continue; // reported above as fenced
        if (what === 'remove') {
          this.#removed.add(node);
          this.#added.delete(node);
        } else {
          this.#added.add(node);
          this.#removed.delete(node);
        }
        this.#log.info(
          { peer: node, epoch },
          what === 'remove' ? 'peer removed from the in-sync set' : 'peer added to the in-sync set',
        );
        return;
      } catch (err) {
        if (attempt >= IN_SYNC_RETRIES) {
          throw replicationError(
            'TANDEM_ERR_REPLICATION_FENCED',
            `${this.#o.volume}: cannot ${what} ${node} in the in-sync set: ${(err as Error).message}`,
            { cause: err },
          );
        }
        this.#log.warn(
          { peer: node, attempt, err: (err as Error).message },
          `in-sync set ${what} failed: retrying`,
        );
        await sleep(50 * 2 ** attempt);
      }
    }
  }

  // ---------------------------------------------------------------- primary: the data path

  #makeBlockDevice(): BlockDevice {
    const dev = this.#device;
    const bd: BlockDevice = {
      get size() {
        return dev.size;
      },
      get description() {
        return `replicated:${dev.description}`;
      },
      read: (offset, length) => dev.read(offset, length),
      write: (offset, data, fua) => this.#mirrored(outgoing(OpKind.WRITE, offset, data.length, data, fua)),
      flush: () => this.#mirrored(outgoing(OpKind.FLUSH, 0, 0)),
      discard: (offset, length) => this.#mirrored(outgoing(OpKind.DISCARD, offset, length)),
      close: () => this.close(),
    };
    if (dev.discardGranularity !== undefined)
      Object.assign(bd, { discardGranularity: dev.discardGranularity });
    if (dev.allocation)
      bd.allocation = (offset: number, length: number): Promise<Extent> => dev.allocation!(offset, length);
    if (dev.prefetch) bd.prefetch = (offset: number, length: number) => dev.prefetch!(offset, length);
    return bd;
  }

  #fenced(why: string): Error {
    this.#metrics.fencedWrites++;
    return replicationError('TANDEM_ERR_REPLICATION_FENCED', `${this.#o.volume}: ${why}`);
  }

  #checkServe(gen: number): void {
    if (this.#role !== 'primary' || gen !== this.#generation) throw this.#fenced('not primary');
    if (!this.#o.canServeWrites()) throw this.#fenced('the leadership lease is not fresh (self-fenced)');
  }

  /** A write, discard or flush on the primary; rejected at once by lostPrimary(). */
  #mirrored(op: OutgoingOp): Promise<void> {
    const gen = this.#generation;
    try {
      this.#checkServe(gen);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const fail = (err: Error) => {
        if (done) return;
        done = true;
        this.#pending.delete(fail);
        reject(err);
      };
      this.#pending.add(fail);
      this.#execute(op, gen).then(
        () => {
          if (done) return;
          done = true;
          this.#pending.delete(fail);
          resolve();
        },
        (err: Error) => fail(err),
      );
    });
  }

  async #execute(op: OutgoingOp, gen: number): Promise<void> {
    const bm = this.#bm();
    const ranged = op.kind !== OpKind.FLUSH;
    const { first, last } = bm.regionsOf(op.offset, op.length);
    // The awaits are skipped when there is nothing to wait for (the common case under a steady
    // write load): each one costs a turn of the microtask queue per write.
    if (ranged && !this.#locks.tryShared(first, last)) await this.#locks.shared(first, last);
    try {
      // Rule 6: the regions are dirty on stable storage before either copy changes.
      if (ranged && !bm.markedDurably(first, last)) await this.#mark(bm, first, last);
      this.#checkServe(gen);
      const local =
        op.kind === OpKind.WRITE
          ? this.#device.write(op.offset, op.data, op.fua)
          : op.kind === OpKind.DISCARD
            ? discardOn(this.#device, op.offset, op.length)
            : this.#device.flush();
      const sent: { node: string; ack: Promise<unknown> }[] = [];
      for (const link of this.#links.values()) {
        if (!link.live) continue;
        sent.push({ node: link.node, ack: link.send(op) });
        this.#metrics.mirroredOps++;
        this.#metrics.mirroredBytes += op.data.length;
      }
      let late: Promise<unknown> | undefined;
      const members = this.#memberNodes();
      if (members.length > 0) {
        const waits: Promise<void>[] = [];
        for (const node of members) {
          if (!sent.some((s) => s.node === node)) waits.push(this.#mirrorLate(node, op, gen));
        }
        if (waits.length > 0) {
          late = Promise.all(waits);
          late.catch(() => undefined); // awaited below; a local failure must not leave it unhandled
        }
      }
      const onPeerWait = this.#o.onPeerWait;
      let localDone = 0;
      if (onPeerWait && sent.length > 0) {
        local.then(
          () => {
            localDone = performance.now();
          },
          () => undefined,
        );
      }
      if (sent.length === 0) await local;
      else {
        const results = await Promise.allSettled([local, ...sent.map((s) => s.ack)]);
        if (onPeerWait && localDone > 0) onPeerWait(Math.max(0, performance.now() - localDone) / 1000);
        if (results[0]!.status === 'rejected') throw results[0].reason;
        for (let i = 0; i < sent.length; i++) {
          if (results[i + 1]!.status === 'fulfilled') continue;
          const node = sent[i]!.node;
          if (this.#isMember(node)) this.#metrics.degradedWrites++;
          await this.#peerDown(node, gen);
        }
      }
      if (late) await late;
      this.#checkServe(gen);
    } finally {
      if (ranged) this.#locks.releaseShared(first, last);
    }
  }

  /**
   * Marks [first, last] dirty. When that costs a bitmap write anyway, the next MARK_AHEAD regions
   * are marked in the same write (and count as just written, so the cleaner leaves them for a
   * while): a sequential stream then pays one fdatasync per MARK_AHEAD + 1 regions instead of one
   * per region. The price: after a crash of this primary those few regions are resynced too.
   */
  #mark(bm: DirtyBitmap, first: number, last: number): Promise<void> {
    let clean = false;
    for (let r = first; r <= last && !clean; r++) clean = !bm.isDirty(r);
    // While a replica is out of sync the bits say exactly what it lacks: no marking ahead.
    if (!clean || !this.#allInSync()) return bm.mark(first, last);
    const end = Math.min(bm.regions - 1, last + MARK_AHEAD);
    const now = Date.now();
    for (let r = last + 1; r <= end; r++) {
      if (!bm.isDirty(r) && !this.#locks.lastWrite.has(r)) this.#locks.lastWrite.set(r, now);
    }
    return bm.mark(first, end);
  }

  /**
   * An in-sync peer with no live mirror when the op started: wait for its stream (only within the
   * connect deadline after becoming primary) and mirror then, or remove it from the set.
   */
  async #mirrorLate(node: string, op: OutgoingOp, gen: number): Promise<void> {
    for (;;) {
      if (gen !== this.#generation) throw this.#fenced('not primary');
      if (!this.#isMember(node)) return;
      const link = this.#links.get(node);
      if (link?.state === 'in-sync') {
        try {
          await link.send(op);
        } catch {
          this.#metrics.degradedWrites++;
          await this.#peerDown(node, gen);
        }
        return;
      }
      const left = this.#primarySince + this.#timing.connectDeadlineMs - Date.now();
      if (link && !link.down && left > 0) {
        await Promise.race([link.stateChange(), sleep(left)]);
        continue;
      }
      this.#metrics.degradedWrites++;
      await this.#ensureRemoved(node, gen);
      return;
    }
  }

  // ---------------------------------------------------------------- primary: resync

  async #resync(link: PeerLink, reply: HelloReplyMessage, peerDirty: number[], gen: number): Promise<void> {
    const bm = this.#bm();
    const size = this.#device.size;
    const full = !reply.hasValidData || this.datasetId === '' || reply.datasetId !== this.datasetId;
    // From here on new writes reach the peer live; everything written before is dirty in our
    // bitmap by now (marked before the write chose its mirrors), so the snapshot below has it.
    link.transition('resyncing', { full });
    let regions: number[];
    if (full) {
      regions = Array.from({ length: bm.regions }, (_, i) => i);
    } else {
      const set = new Set<number>(bm.dirtyRegions());
      for (const r of peerDirty) set.add(r);
      regions = [...set].sort((a, b) => a - b);
    }
    const lengthOf = (r: number) => Math.min(bm.regionSize, size - r * bm.regionSize);
    const total = regions.reduce((sum, r) => sum + lengthOf(r), 0);
    link.resyncTotalBytes = total;
    link.resyncDoneBytes = 0;
    link.resyncSentBytes = 0;
    const started = Date.now();
    this.#log.info(
      { peer: link.node, full, regions: regions.length, bytes: total, peerDirtyRegions: peerDirty.length },
      'resync started',
    );
    await link.send(outgoing(OpKind.RESYNC_BEGIN, 0, 0, EMPTY, false, full));
    let next = 0;
    let nextReport = 0.1;
    const worker = async () => {
      while (next < regions.length) {
        const r = regions[next++]!;
        if (gen !== this.#generation || link.down) throw new Error(`resync of ${link.node} interrupted`);
        const offset = r * bm.regionSize;
        const length = lengthOf(r);
        await this.#locks.exclusive(r);
        try {
          let op: OutgoingOp;
          if (await unmapped(this.#device, offset, length)) {
            op = outgoing(OpKind.RESYNC_ZERO, offset, length);
          } else {
            const data = await this.#device.read(offset, length);
            op = outgoing(OpKind.RESYNC_DATA, offset, length, data);
            link.resyncSentBytes += length;
          }
          await link.send(op);
        } finally {
          this.#locks.releaseExclusive(r);
        }
        link.resyncDoneBytes += length;
        this.#metrics.resyncRegions++;
        this.#metrics.resyncBytes += length;
        if (total > 0 && link.resyncDoneBytes / total >= nextReport && link.resyncDoneBytes < total) {
          nextReport = Math.floor((link.resyncDoneBytes / total) * 10 + 1) / 10;
          this.#log.info(
            {
              peer: link.node,
              doneBytes: link.resyncDoneBytes,
              totalBytes: total,
              percent: Math.floor((link.resyncDoneBytes / total) * 100),
            },
            'resync progress',
          );
        }
      }
    };
    await Promise.all(Array.from({ length: RESYNC_PARALLEL }, worker));
    if (link.down || gen !== this.#generation) throw new Error(`resync of ${link.node} interrupted`);
    // Writes still reach the peer while the set changes; a failure now waits for this outcome.
    link.adding = this.#changeInSync('add', link.node, gen);
    try {
      await link.adding;
    } finally {
      link.adding = undefined;
    }
    if (link.down) return;
    link.transition('in-sync');
    await link.send(outgoing(OpKind.IN_SYNC, 0, 0, EMPTY, false, false, this.datasetId));
    this.#log.info(
      { peer: link.node, bytes: total, sentBytes: link.resyncSentBytes, durationMs: Date.now() - started },
      'resync done: peer in sync',
    );
  }

  /** Every configured replica is in the in-sync set with a live mirror. */
  #allInSync(): boolean {
    for (const node of this.#o.replicas()) {
      if (node === this.#o.node) continue;
      if (!this.#isMember(node) || this.#links.get(node)?.state !== 'in-sync') return false;
    }
    return true;
  }

  /** Rule 6: once every replica is in sync, regions quiet for cleanAfterMs are clean again. */
  #cleanQuietRegions(): void {
    if (this.#role !== 'primary' || !this.#o.canServeWrites()) return;
    const bm = this.#bm();
    if (bm.dirtyCount === 0 || !this.#allInSync()) return;
    const now = Date.now();
    const quiet: number[] = [];
    for (const r of bm.dirtyRegions()) {
      if (this.#locks.busy(r)) continue;
      const last = this.#locks.lastWrite.get(r);
      if (last !== undefined && now - last < this.#timing.cleanAfterMs) continue;
      quiet.push(r);
      this.#locks.lastWrite.delete(r);
    }
    if (quiet.length === 0) return;
    bm.clear(quiet).catch((err: unknown) =>
      this.#log.warn({ err: (err as Error).message }, 'could not persist cleared dirty regions'),
    );
  }

  // ---------------------------------------------------------------- primary: verify

  async verify(onProgress?: (done: number, total: number) => void): Promise<VerifyResult> {
    const gen = this.#generation;
    if (this.#role !== 'primary') throw this.#fenced('verify runs on the primary');
    const bm = this.#bm();
    const size = this.#device.size;
    const links = [...this.#links.values()].filter((l) => l.state === 'in-sync');
    const differing: { node: string; offset: number; length: number }[] = [];
    let next = 0;
    let done = 0;
    // A few regions at a time (like resync): the checksums of both copies overlap the reads.
    const worker = async (): Promise<void> => {
      for (;;) {
        const r = next++;
        if (r >= bm.regions) return;
        if (gen !== this.#generation) throw this.#fenced('lost primary during verify');
        const offset = r * bm.regionSize;
        const length = Math.min(bm.regionSize, size - offset);
        await this.#locks.exclusive(r);
        try {
          const sums = links.map((l) => l.send(outgoing(OpKind.CHECKSUM, offset, length)));
          const mine = crc32c(await this.#device.read(offset, length));
          const theirs = await Promise.allSettled(sums);
          theirs.forEach((res, i) => {
            if (res.status === 'rejected' || res.value.checksum !== mine) {
              differing.push({ node: links[i]!.node, offset, length });
            }
          });
        } finally {
          this.#locks.releaseExclusive(r);
        }
        onProgress?.(++done, bm.regions);
      }
    };
    await Promise.all(Array.from({ length: VERIFY_PARALLEL }, worker));
    differing.sort((a, b) => a.offset - b.offset || (a.node < b.node ? -1 : 1));
    const result = {
      regions: bm.regions,
      regionSize: bm.regionSize,
      differing,
      nodes: links.map((l) => l.node),
    };
    this.#log.info(
      { regions: result.regions, differing: differing.length, nodes: result.nodes },
      'verify done',
    );
    return result;
  }

  // ---------------------------------------------------------------- replica side

  /** Checks a primary's Hello and persists its epoch; the reply for it. */
  async acceptHello(hello: HelloMessage): Promise<HelloReplyMessage> {
    this.#checkReplica();
    if (hello.size !== this.#device.size) {
      throw replicationError(
        'TANDEM_ERR_REPLICATION_PROTOCOL',
        `${this.#o.volume}: the primary's size ${hello.size} is not ours (${this.#device.size})`,
      );
    }
    const era = this.#o.era ?? '';
    if (era && hello.era && hello.era !== era) {
      throw replicationError(
        'TANDEM_ERR_REPLICATION_STALE_EPOCH',
        `${this.#o.volume}: the primary ${hello.primaryNode} belongs to another etcd cluster (era ${hello.era}, ours ${era})`,
      );
    }
    await this.acceptEpoch(hello.epoch, hello.primaryNode);
    const bm = this.#bm();
    const meta = this.#meta.current;
    return {
      datasetId: meta.datasetId,
      hasValidData: meta.hasValidData,
      highestEpoch: meta.highestEpoch,
      regionSize: bm.regionSize,
      dirtyBitmap: bm.snapshot(),
    };
  }

  #checkReplica(): void {
    if (this.#role === 'closed') {
      throw replicationError('TANDEM_ERR_REPLICATION_PROTOCOL', `${this.#o.volume}: not open on this node`);
    }
    if (this.#role === 'primary' || this.#o.canServeWrites()) {
      throw replicationError(
        'TANDEM_ERR_REPLICATION_PROTOCOL',
        `${this.#o.volume}: this node is the primary`,
      );
    }
  }

  /** Rule 3: rejects an older epoch; persists a newer one before anything of it is applied. */
  async acceptEpoch(epoch: number, from: string): Promise<void> {
    const highest = this.#meta.current.highestEpoch;
    if (epoch < highest) {
      throw replicationError(
        'TANDEM_ERR_REPLICATION_STALE_EPOCH',
        `${this.#o.volume}: epoch ${epoch} from ${from} is older than ${highest}`,
      );
    }
    if (epoch > highest) {
      await this.#meta.update((m) => ({ highestEpoch: Math.max(m.highestEpoch, epoch) }));
      this.#log.info({ epoch, primary: from }, 'new primary epoch persisted');
    }
  }

  /** Whether `epoch` may still send ops here (synchronous check before each batch). */
  epochCurrent(epoch: number): boolean {
    return epoch >= this.#meta.current.highestEpoch;
  }

  /**
   * Applies a run of WRITE ops that are adjacent on the device (each starts where the previous
   * ends) and share FUA, issued at once: the primary never has overlapping writes in flight, so
   * the run is exactly what the ops would write one by one.
   */
  async applyWriteRun(ops: readonly OpMessage[]): Promise<void> {
    this.#checkReplica();
    const dev = this.#device;
    let bytes = 0;
    for (const op of ops) {
      if (
        op.kind !== OpKind.WRITE ||
        op.data.length === 0 ||
        op.offset < 0 ||
        op.offset + op.data.length > dev.size
      ) {
        throw replicationError(
          'TANDEM_ERR_REPLICATION_PROTOCOL',
          `${this.#o.volume}: op ${op.seq} is not a write inside the volume`,
        );
      }
      bytes += op.data.length;
    }
    for (let i = 1; i < ops.length; i++) {
      if (ops[i]!.offset !== ops[i - 1]!.offset + ops[i - 1]!.data.length || ops[i]!.fua !== ops[0]!.fua) {
        throw new TandemError('TANDEM_ERR_ASSERT', 'applyWriteRun: ops are not one adjacent run');
      }
    }
    this.#metrics.appliedOps += ops.length;
    this.#metrics.appliedBytes += bytes;
    // Issued together: a FileDevice joins adjacent writes of one turn into one pwritev, so the
    // run costs one system call without copying it into one buffer first. The run is complete:
    // it goes out now, and its acks with this turn's I/O, not a loop iteration later.
    const written = Promise.all(ops.map((op) => dev.write(op.offset, op.data, op.fua)));
    dev.submitWrites?.();
    await written;
  }

  /** Applies one op from the primary; resolves with the checksum for CHECKSUM, else 0. */
  async applyOp(op: OpMessage): Promise<number> {
    this.#checkReplica();
    const dev = this.#device;
    const ranged = op.kind !== OpKind.FLUSH && op.kind !== OpKind.RESYNC_BEGIN && op.kind !== OpKind.IN_SYNC;
    const length = op.kind === OpKind.WRITE || op.kind === OpKind.RESYNC_DATA ? op.data.length : op.length;
    if (ranged && (op.offset < 0 || length <= 0 || op.offset + length > dev.size)) {
      throw replicationError(
        'TANDEM_ERR_REPLICATION_PROTOCOL',
        `${this.#o.volume}: op ${op.seq} range ${op.offset}+${length} is outside the volume (${dev.size})`,
      );
    }
    this.#metrics.appliedOps++;
    this.#metrics.appliedBytes += op.data.length;
    switch (op.kind) {
      case OpKind.WRITE:
      case OpKind.RESYNC_DATA:
        await dev.write(op.offset, op.data, op.fua);
        return 0;
      case OpKind.DISCARD:
      case OpKind.RESYNC_ZERO:
        await discardOn(dev, op.offset, op.length);
        return 0;
      case OpKind.FLUSH:
        await dev.flush();
        return 0;
      case OpKind.RESYNC_BEGIN:
        if (op.full && this.hasValidData) {
          await this.#meta.update(() => ({ hasValidData: false, datasetId: '' }));
          this.#log.warn('full resync started: local data is not trustworthy until it ends');
        } else this.#log.info({ full: op.full }, 'resync from the primary started');
        return 0;
      case OpKind.IN_SYNC:
        // Everything written here is on disk before the data is declared trustworthy.
        await dev.flush();
        await this.#meta.update(() => ({ datasetId: op.datasetId, hasValidData: true }));
        await this.#bm().clearAll();
        this.#log.info({ datasetId: op.datasetId }, 'in sync with the primary');
        return 0;
      case OpKind.CHECKSUM:
        return crc32c(await dev.read(op.offset, op.length));
      default:
        throw replicationError('TANDEM_ERR_REPLICATION_PROTOCOL', `unknown op kind ${op.kind}`);
    }
  }

  // ---------------------------------------------------------------- status, close

  status(): ReplicationStatus {
    const bm = this.#bitmap;
    const now = Date.now();
    const meta = this.#meta.current;
    return {
      volume: this.#o.volume,
      node: this.#o.node,
      role: this.#role,
      epoch: this.#epoch,
      highestEpoch: meta.highestEpoch,
      datasetId: meta.datasetId,
      hasValidData: meta.hasValidData,
      regionSize: bm?.regionSize ?? 0,
      dirtyRegions: bm?.dirtyCount ?? 0,
      dirtyBytes: bm ? dirtyBytes(bm, this.#device.size) : 0,
      peers: [...this.#links.values()].map((l) => ({
        node: l.node,
        address: l.address,
        state: l.state,
        resyncDoneBytes: l.resyncDoneBytes,
        resyncTotalBytes: l.resyncTotalBytes,
        resyncSentBytes: l.resyncSentBytes,
        inflightOps: l.inflightOps,
        lastAckMs: l.lastAckAt === undefined ? undefined : now - l.lastAckAt,
        lastError: l.lastError,
      })),
      metrics: { ...this.#metrics },
    };
  }

  async close(): Promise<void> {
    if (this.#role === 'closed') return;
    if (this.#role === 'primary') this.lostPrimary();
    this.#transitionRole(['replica'], 'closed');
    this.#stopPrimaryWork('closing');
    await this.#bitmap?.close();
    this.#bitmap = undefined;
    await this.#device.close();
  }
}

const EMPTY = Buffer.alloc(0);

/** An op for the peers, in the one shape every op has (`full` and `datasetId` only for resync). */
function outgoing(
  kind: OpKindCode,
  offset: number,
  length: number,
  data: Buffer = EMPTY,
  fua = false,
  full = false,
  datasetId = '',
): OutgoingOp {
  return { kind, offset, length, data, fua, full, datasetId };
}
/** Regions marked dirty beyond a write's own when its mark needs a bitmap write anyway. */
const MARK_AHEAD = 31;
/** Regions verified at once. */
const VERIFY_PARALLEL = 4;

function dirtyBytes(bm: DirtyBitmap, size: number): number {
  let n = bm.dirtyCount * bm.regionSize;
  // The last region may be short.
  const lastIdx = bm.regions - 1;
  if (lastIdx >= 0 && bm.isDirty(lastIdx)) n -= bm.regions * bm.regionSize - size;
  return n;
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

/** Zeroes a range: discard where the device can (it reads back zeroes), else a write of zeroes. */
async function discardOn(dev: BlockDevice, offset: number, length: number): Promise<void> {
  if (dev.discard) return dev.discard(offset, length);
  const zero = Buffer.alloc(Math.min(length, 1 << 20));
  for (let done = 0; done < length; done += zero.length) {
    const n = Math.min(zero.length, length - done);
    await dev.write(offset + done, n === zero.length ? zero : zero.subarray(0, n), false);
  }
}

/** Whether the whole range is unmapped (reads back zeroes) on a thin device. */
async function unmapped(dev: BlockDevice, offset: number, length: number): Promise<boolean> {
  if (!dev.allocation) return false;
  const e = await dev.allocation(offset, length);
  return !e.mapped && e.length >= length;
}
