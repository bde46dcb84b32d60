import type { BlockDevice, Extent } from '../backstore/block-device.js';
import { TandemError } from '../util/errors.js';
import type { DirtyBitmap } from './bitmap.js';
import { forgetData, initDataset, noteRemoval, recordReplicas } from './copy-lineage.js';
import { discardOn } from './device-ops.js';
import { replicationError } from './errors.js';
import { Membership } from './membership.js';
import type { DataGeneration } from './metadata.js';
import { type OutgoingOp, outgoing } from './peer-link.js';
import { recordTerm } from './primary-term.js';
import { type HelloMessage, type HelloReplyMessage, OpKind, type OpMessage } from './proto.js';
import { RegionCleaner } from './region-cleaner.js';
import { ReplicaApply } from './replica-apply.js';
import type {
  ReplicatedVolumeOptions,
  ReplicationStatus,
  Role,
  VerifyResult,
} from './replication-interface.js';
import { Resizer } from './resize.js';
import { verify } from './verify.js';
import { VolumeContext } from './volume-context.js';
import { logOpened, openState } from './volume-open.js';
import { volumeStatus } from './volume-status.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One replicated volume on one node (DESIGN.md, the safety rules). As primary its `blockDevice`
 * writes locally and mirrors to every live peer at once, and acknowledges only when the local
 * op and every in-sync peer are done (rule 1), or after the failed peer left the in-sync set
 * (rule 2). Every write first makes its regions dirty in the durable bitmap (rule 6). Peers that
 * are not in sync are resynced from the bitmaps of both sides (Membership, resync). As replica
 * it applies what the primary sends (ReplicaApply) after checking the epoch (rule 3).
 *
 * This file holds the role machine (closed → replica ⇄ primary → closed) and the primary's
 * mirrored data path. Opening (volume-open.ts), what a new term records (primary-term.ts), the
 * lineage metadata (copy-lineage.ts), the bitmap cleaner (region-cleaner.ts) and the status
 * (volume-status.ts) live beside it.
 */
export class ReplicatedVolume {
  readonly blockDevice: BlockDevice;
  readonly #ctx: VolumeContext;
  readonly #members: Membership;
  readonly #replica: ReplicaApply;
  /** Clears quiet regions of the bitmap while primary (region-cleaner.ts). */
  readonly #cleaner: RegionCleaner;
  /** Rejecters of writes in progress: lostPrimary() fails them all at once. */
  readonly #pending = new Set<(err: Error) => void>();
  /** Carries out the configured size as primary (resize.ts). */
  readonly #resizer: Resizer;

  constructor(opts: ReplicatedVolumeOptions) {
    this.#ctx = new VolumeContext(opts);
    this.#members = new Membership(this.#ctx);
    this.#replica = new ReplicaApply(this.#ctx);
    this.#resizer = new Resizer(this.#ctx, {
      members: this.#members,
      checkServe: (gen) => this.#checkServe(gen),
      mirrorToMember: (node, op, gen) => this.#mirrorLate(node, op, gen),
    });
    this.#cleaner = new RegionCleaner(this.#ctx, this.#members, (cleanRegions) =>
      this.#mirrored({ ...outgoing(OpKind.FLUSH, 0, 0), cleanRegions }),
    );
    this.blockDevice = this.#makeBlockDevice();
  }

  get hasValidData(): boolean {
    return this.#ctx.hasValidData;
  }

  get datasetId(): string {
    return this.#ctx.datasetId;
  }

  /** This copy holds every write it acknowledged (VolumeContext.intact). */
  get intact(): boolean {
    return this.#ctx.intact;
  }

  /** How new this copy's data is (issue 14, finding 4; metadata.ts DataGeneration). */
  get dataGeneration(): DataGeneration {
    return this.#ctx.meta.current.dataGen;
  }

  /** Every other node this copy has known as a replica (metadata replicaNodes). */
  get knownReplicas(): readonly string[] {
    return this.#ctx.meta.current.replicaNodes;
  }

  /**
   * As primary at `epoch`, this node removed a peer from the in-sync set: from now on its data
   * is newer than that peer's (copy-lineage.ts).
   */
  noteRemoval(epoch: number): Promise<void> {
    return noteRemoval(this.#ctx, epoch);
  }

  get role(): Role {
    return this.#ctx.role.state;
  }

  async open(): Promise<void> {
    await openState(this.#ctx);
    this.#transitionRole(['closed'], 'replica');
    recordReplicas(this.#ctx);
    logOpened(this.#ctx);
  }

  /**
   * The role machine's one mutator. Every accepted call, primary → primary (a new term) too,
   * starts a new generation: work of the old one can no longer acknowledge.
   */
  #transitionRole(from: readonly Role[], to: Role, fields: Record<string, unknown> = {}): boolean {
    if (!this.#ctx.role.transition(from, to, fields)) return false;
    this.#ctx.generation++;
    return true;
  }

  /** This node's copy left the volume's replica set: not trustworthy any more (copy-lineage.ts). */
  forgetData(): Promise<void> {
    return forgetData(this.#ctx);
  }

  initDataset(datasetId: string): Promise<void> {
    return initDataset(this.#ctx, datasetId);
  }

  // ---------------------------------------------------------------- primary: role changes

  /**
   * Won the election at `epoch`. `inSyncAtElection`: the in-sync set read after the win (absent:
   * the set as `inSync` shows it now), the peers a new run of terms tracks.
   */
  async becamePrimary(epoch: number, inSyncAtElection?: readonly string[]): Promise<void> {
    const ctx = this.#ctx;
    if (ctx.role.is('closed')) throw new TandemError('TANDEM_ERR_ASSERT', `${ctx.o.volume}: not open`);
    await recordTerm(ctx, epoch, inSyncAtElection);
    const wasPrimary = ctx.role.is('primary');
    // Our dirty regions from before this term may hold writes no peer has (finding 5).
    this.#members.newTerm(ctx.bm().dirtyCount > 0);
    ctx.epoch = epoch;
    this.#transitionRole(['replica', 'primary'], 'primary', { epoch });
    // StateMachine logs only real changes; a new term of a primary is one too.
    if (wasPrimary)
      ctx.log.info({ epoch, from: 'primary', to: 'primary' }, 'replication role: PRIMARY -> PRIMARY');
    const gen = ctx.generation;
    ctx.timer(ctx.timing.connectDeadlineMs, () => {
      if (gen === ctx.generation) this.#members.removeSilent(gen);
    });
    this.#cleaner.start();
    this.peersChanged();
    // A resize asked for, or one prepared here by an earlier primary: finished in this term.
    this.#resizer.kick();
  }

  lostPrimary(): void {
    if (!this.#transitionRole(['primary'], 'replica')) return;
    // Stop before anything else: nothing started in the term may be acknowledged now.
    const err = replicationError('TANDEM_ERR_REPLICATION_FENCED', `${this.#ctx.o.volume}: no longer primary`);
    for (const reject of [...this.#pending]) reject(err);
    this.#pending.clear();
    this.#stopPrimaryWork('lost primary');
  }

  #stopPrimaryWork(why: string): void {
    this.#ctx.epoch = 0;
    this.#cleaner.stop();
    this.#ctx.clearTimers();
    this.#members.closeLinks(why);
  }

  peersChanged(): void {
    recordReplicas(this.#ctx);
    this.#members.peersChanged();
  }

  // ---------------------------------------------------------------- primary: the data path

  #makeBlockDevice(): BlockDevice {
    const ctx = this.#ctx;
    const dev = ctx.device;
    const bd: BlockDevice = {
      get size() {
        return ctx.size;
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

  #checkServe(gen: number): void {
    const ctx = this.#ctx;
    if (ctx.role.state !== 'primary' || gen !== ctx.generation) throw ctx.fenced('not primary');
    if (!ctx.o.canServeWrites()) throw ctx.fenced('the leadership lease is not fresh (self-fenced)');
  }

  /** A write, discard or flush on the primary; rejected at once by lostPrimary(). */
  #mirrored(op: OutgoingOp): Promise<void> {
    const gen = this.#ctx.generation;
    try {
      this.#checkServe(gen);
    } catch (err) {
      return Promise.reject(err);
    }
    const throttle = this.#ctx.throttle;
    // Resync yields to application I/O in flight (ResyncThrottle).
    throttle.appStarted();
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const fail = (err: Error) => {
        if (done) return;
        done = true;
        throttle.appDone();
        this.#pending.delete(fail);
        reject(err);
      };
      this.#pending.add(fail);
      this.#execute(op, gen).then(
        () => {
          if (done) return;
          done = true;
          throttle.appDone();
          this.#pending.delete(fail);
          resolve();
        },
        (err: Error) => fail(err),
      );
    });
  }

  /**
   * minInSync: a write or discard needs that many copies in sync (this one and the in-sync
   * members, which rule 1 makes wait for it). A flush changes no data: never refused.
   */
  #checkCopies(op: OutgoingOp): void {
    const min = this.#ctx.o.minInSync?.() ?? 1;
    if (min <= 1 || op.kind === OpKind.FLUSH) return;
    const have = 1 + this.#members.memberNodes().length;
    if (have < min) {
      throw replicationError(
        'TANDEM_ERR_REPLICATION_TOO_FEW_COPIES',
        `${this.#ctx.o.volume}: ${have} of the ${min} copies minInSync asks for are in sync: write refused`,
      );
    }
  }

  async #execute(op: OutgoingOp, gen: number): Promise<void> {
    const ctx = this.#ctx;
    const members = this.#members;
    const bm = ctx.bm();
    const ranged = op.kind !== OpKind.FLUSH;
    this.#checkCopies(op);
    const { first, last } = bm.regionsOf(op.offset, op.length);
    // The awaits are skipped when there is nothing to wait for (the common case under a steady
    // write load): each one costs a turn of the microtask queue per write.
    if (ranged && !ctx.locks.tryShared(first, last)) await ctx.locks.shared(first, last);
    try {
      // Rule 6: the regions are dirty on stable storage before either copy changes.
      if (ranged && !bm.markedDurably(first, last)) await this.#mark(bm, first, last);
      this.#checkServe(gen);
      const local =
        op.kind === OpKind.WRITE
          ? ctx.device.write(op.offset, op.data, op.fua)
          : op.kind === OpKind.DISCARD
            ? discardOn(ctx.device, op.offset, op.length)
            : ctx.device.flush();
      const sent: { node: string; ack: Promise<unknown> }[] = [];
      for (const link of members.links.values()) {
        if (!link.live) continue;
        sent.push({ node: link.node, ack: link.send(op) });
        ctx.metrics.mirroredOps++;
        ctx.metrics.mirroredBytes += op.data.length;
      }
      let late: Promise<unknown> | undefined;
      const memberNodes = members.memberNodes();
      if (memberNodes.length > 0) {
        const waits: Promise<void>[] = [];
        for (const node of memberNodes) {
          if (!sent.some((s) => s.node === node)) waits.push(this.#mirrorLate(node, op, gen));
        }
        if (waits.length > 0) {
          late = Promise.all(waits);
          late.catch(() => undefined); // awaited below; a local failure must not leave it unhandled
        }
      }
      const onPeerWait = ctx.o.onPeerWait;
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
          if (members.isMember(node)) ctx.metrics.degradedWrites++;
          await members.peerDown(node, gen);
        }
      }
      if (late) await late;
      this.#checkServe(gen);
      // A member that failed meanwhile left the set: the copies that hold this write are counted again.
      this.#checkCopies(op);
    } finally {
      if (ranged) ctx.locks.releaseShared(first, last);
    }
  }

  /**
   * Marks [first, last] dirty. When that costs a bitmap write anyway, the next MARK_AHEAD regions
   * are marked in the same write (and count as just written, so the cleaner leaves them for a
   * while): a sequential stream then pays one fdatasync per MARK_AHEAD + 1 regions instead of one
   * per region. The price: after a crash of this primary those few regions are resynced too.
   */
  #mark(bm: DirtyBitmap, first: number, last: number): Promise<void> {
    // While a replica is out of sync the bits say exactly what it lacks: no marking ahead.
    const end = this.#members.allInSync() ? bm.markAheadEnd(first, last) : last;
    if (end === last) return bm.mark(first, last);
    const now = Date.now();
    const lastWrite = this.#ctx.locks.lastWrite;
    for (let r = last + 1; r <= end; r++) {
      if (!bm.isDirty(r) && !lastWrite.has(r)) lastWrite.set(r, now);
    }
    return bm.mark(first, end);
  }

  /**
   * An in-sync peer with no live mirror when the op started: wait for its stream (only within the
   * connect deadline after becoming primary) and mirror then, or remove it from the set.
   */
  async #mirrorLate(node: string, op: OutgoingOp, gen: number): Promise<void> {
    const ctx = this.#ctx;
    const members = this.#members;
    for (;;) {
      if (gen !== ctx.generation) throw ctx.fenced('not primary');
      if (!members.isMember(node)) return;
      const link = members.links.get(node);
      // A member resyncing from our log (finding 5) mirrors live writes like an in-sync one.
      if (link?.live) {
        try {
          await link.send(op);
        } catch {
          ctx.metrics.degradedWrites++;
          await members.peerDown(node, gen);
        }
        return;
      }
      const left = members.primarySince + ctx.timing.connectDeadlineMs - Date.now();
      if (link && !link.down && left > 0) {
        await Promise.race([link.stateChange(), sleep(left)]);
        continue;
      }
      ctx.metrics.degradedWrites++;
      await members.ensureRemoved(node, gen);
      return;
    }
  }

  // ---------------------------------------------------------------- resize, resync rate

  /**
   * The configured size of the volume (every node is told; only growth counts). The primary
   * grows every copy to it (resize.ts); a replica remembers it for when it becomes primary.
   */
  requestSize(size: number): void {
    this.#resizer.request(size);
  }

  /** `listener(size)` runs on this node whenever the size its LU reports has grown. */
  onCapacityChanged(listener: (size: number) => void): () => void {
    this.#ctx.capacityListeners.add(listener);
    return () => this.#ctx.capacityListeners.delete(listener);
  }

  /** The resync rate limit, live (bytes/s; 0: unlimited). */
  setResyncRate(bytesPerSecond: number): void {
    if (bytesPerSecond !== this.#ctx.throttle.rateBps)
      this.#ctx.log.info({ limitBps: bytesPerSecond }, 'resync rate limit set');
    this.#ctx.throttle.setRate(bytesPerSecond);
  }

  // ---------------------------------------------------------------- primary: verify

  async verify(onProgress?: (done: number, total: number) => void): Promise<VerifyResult> {
    const ctx = this.#ctx;
    const gen = ctx.generation;
    if (ctx.role.state !== 'primary') throw ctx.fenced('verify runs on the primary');
    const links = [...this.#members.links.values()].filter((l) => l.state === 'in-sync');
    return verify(ctx, links, gen, onProgress);
  }

  // ---------------------------------------------------------------- replica side (ReplicaApply)

  /** Checks a primary's Hello and persists its epoch; the reply for it. */
  acceptHello(hello: HelloMessage): Promise<HelloReplyMessage> {
    return this.#replica.acceptHello(hello);
  }

  /** Rule 3: rejects an older epoch; persists a newer one before anything of it is applied. */
  acceptEpoch(epoch: number, from: string): Promise<void> {
    return this.#replica.acceptEpoch(epoch, from);
  }

  /** Whether `epoch` may still send ops here (synchronous check before each batch). */
  epochCurrent(epoch: number): boolean {
    return this.#replica.epochCurrent(epoch);
  }

  /** Applies a run of adjacent WRITE ops with the same FUA as one device write (see ReplicaApply). */
  applyWriteRun(ops: readonly OpMessage[]): Promise<void> {
    return this.#replica.applyWriteRun(ops);
  }

  /** Applies one op from the primary; resolves with the checksum for CHECKSUM, else 0. */
  applyOp(op: OpMessage): Promise<number> {
    return this.#replica.applyOp(op);
  }

  // ---------------------------------------------------------------- status, close

  status(): ReplicationStatus {
    return volumeStatus(this.#ctx, this.#members, this.#resizer.target);
  }

  async close(): Promise<void> {
    const ctx = this.#ctx;
    if (ctx.role.is('closed')) return;
    if (ctx.role.is('primary')) this.lostPrimary();
    this.#transitionRole(['replica'], 'closed');
    this.#stopPrimaryWork('closing');
    // Background metadata writes (recordReplicas) end before the state directory is let go.
    await ctx.meta.settled();
    await ctx.bitmap?.close();
    ctx.bitmap = undefined;
    await ctx.device.close();
  }
}
