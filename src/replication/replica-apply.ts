import { crc32c } from '../util/crc32c.js';
import { TandemError } from '../util/errors.js';
import { discardOn } from './device-ops.js';
import { replicationError } from './errors.js';
import { OrderedRangeLock } from './ordered-range-lock.js';
import { type HelloMessage, type HelloReplyMessage, OpKind, type OpMessage } from './proto.js';
import { ReplicaMarks } from './replica-marks.js';
import { commitSize, prepareSize } from './resize.js';
import type { VolumeContext } from './volume-context.js';

/** A checkpoint of a resync is written once this many regions were received, or after CHECKPOINT_MS. */
const CHECKPOINT_REGIONS = 16;
const CHECKPOINT_MS = 500;

/**
 * The replica's resync checkpoint (issue 15): regions the primary has sent in full are made
 * clean in the bitmap, in batches, each only after a device flush that covers them — never
 * before the data is on stable storage here (issue 14, finding 1). What the primary wrote
 * there since is dirty in its own bitmap, so a resumed resync sends it again.
 */
class ResyncCheckpointer {
  readonly #ctx: VolumeContext;
  readonly #marks: ReplicaMarks;
  /** Bumped by every RESYNC_BEGIN and IN_SYNC: completions of an older resync are ignored. */
  generation = 0;
  #covered = new Map<number, number>();
  #done: number[] = [];
  #running = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(ctx: VolumeContext, marks: ReplicaMarks) {
    this.#ctx = ctx;
    this.#marks = marks;
  }

  begin(): void {
    this.generation++;
    this.#covered = new Map();
    this.#done = [];
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  received(gen: number, offset: number, length: number): void {
    if (gen !== this.generation) return;
    const bm = this.#ctx.bm();
    const { first, last } = bm.regionsOf(offset, length);
    for (let r = first; r <= last; r++) {
      const lo = Math.max(offset, r * bm.regionSize);
      const hi = Math.min(offset + length, (r + 1) * bm.regionSize, bm.size);
      const got = (this.#covered.get(r) ?? 0) + Math.max(0, hi - lo);
      const want = Math.min(bm.regionSize, bm.size - r * bm.regionSize);
      if (got >= want) {
        this.#covered.delete(r);
        this.#done.push(r);
      } else this.#covered.set(r, got);
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#done.length >= CHECKPOINT_REGIONS) void this.#write();
    else if (this.#done.length > 0 && !this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.#write();
      }, CHECKPOINT_MS);
      this.#timer.unref();
    }
  }

  async #write(): Promise<void> {
    if (this.#running || this.#done.length === 0) return;
    this.#running = true;
    const gen = this.generation;
    const batch = this.#done;
    this.#done = [];
    try {
      await this.#ctx.device.flush();
      // Not the regions an op since the Hello keeps dirty (replica-marks.ts).
      if (gen === this.generation) await this.#ctx.bm().clear(this.#marks.clearable(batch));
    } catch (err) {
      this.#ctx.log.warn({ err: (err as Error).message }, 'resync checkpoint not written');
    } finally {
      this.#running = false;
    }
    this.#schedule();
  }
}

/**
 * The replica's side of the Mirror stream (see addReplicationService): checks a primary's Hello
 * and epochs (rule 3) and applies its ops. Ops on overlapping byte ranges reach the device in
 * the order they were handed in, i.e. the stream's order (the server calls applyOp and
 * applyWriteRun in arrival order, and each takes its range before its first await), whatever
 * order the device completes them in: the replica does not rely on the primary's range lock to
 * stay identical to it. Ops on disjoint ranges are applied concurrently, without an extra await.
 */
export class ReplicaApply {
  readonly #ctx: VolumeContext;
  readonly #order = new OrderedRangeLock();
  /** The primary of the last accepted Hello (a full resync's checkpoint names it). */
  #primary = '';
  /** Regions received by the resync in progress, made clean in batches after a flush. */
  readonly #checkpoint: ResyncCheckpointer;
  /** This copy's own marks of what it applies (replica-marks.ts). */
  readonly #marks: ReplicaMarks;

  constructor(ctx: VolumeContext) {
    this.#ctx = ctx;
    this.#marks = new ReplicaMarks(ctx);
    this.#checkpoint = new ResyncCheckpointer(ctx, this.#marks);
  }

  /** Ops taken and not yet applied. */
  get pending(): number {
    return this.#order.size;
  }

  /** Checks a primary's Hello and persists its epoch; the reply for it. */
  async acceptHello(hello: HelloMessage): Promise<HelloReplyMessage> {
    const ctx = this.#ctx;
    this.#checkReplica();
    const era = ctx.o.era ?? '';
    if (era && hello.era && hello.era !== era) {
      throw replicationError(
        'TANDEM_ERR_REPLICATION_STALE_EPOCH',
        `${ctx.o.volume}: the primary ${hello.primaryNode} belongs to another etcd cluster (era ${hello.era}, ours ${era})`,
      );
    }
    await this.acceptEpoch(hello.epoch, hello.primaryNode);
    // After the epoch check (a stale primary changes nothing): the primary's sizes are the
    // volume's. A larger one is a resize this copy missed: grow to it before any op of the
    // stream. A smaller one is a primary that has not finished a resize we prepared for: it
    // will (the store never shrinks, and no op past its size comes).
    try {
      if (hello.size > ctx.bm().size) await prepareSize(ctx, hello.size);
      if (hello.committedSize > ctx.size) await commitSize(ctx, hello.committedSize);
    } catch (err) {
      throw replicationError(
        'TANDEM_ERR_REPLICATION_PROTOCOL',
        `${ctx.o.volume}: cannot take the primary's size ${hello.size}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    this.#primary = hello.primaryNode;
    // The reply reports every mark so far; from here on the stream's ops are kept dirty.
    this.#marks.newStream();
    const bm = ctx.bm();
    const meta = ctx.meta.current;
    const cp = meta.resyncFrom;
    return {
      datasetId: meta.datasetId,
      hasValidData: meta.hasValidData,
      highestEpoch: meta.highestEpoch,
      regionSize: bm.regionSize,
      dirtyBitmap: bm.snapshot(),
      checkpoint: cp ? { primaryNode: cp.node, epoch: cp.epoch, datasetId: cp.datasetId } : null,
      intact: meta.hasValidData && ctx.intact,
    };
  }

  #checkReplica(): void {
    const ctx = this.#ctx;
    const role = ctx.role.state;
    if (role === 'closed') {
      throw replicationError('TANDEM_ERR_REPLICATION_PROTOCOL', `${ctx.o.volume}: not open on this node`);
    }
    if (role === 'primary' || ctx.o.canServeWrites()) {
      throw replicationError('TANDEM_ERR_REPLICATION_PROTOCOL', `${ctx.o.volume}: this node is the primary`, {
        refusal: 'is-primary',
      });
    }
  }

  /** Rule 3: rejects an older epoch; persists a newer one before anything of it is applied. */
  async acceptEpoch(epoch: number, from: string): Promise<void> {
    const ctx = this.#ctx;
    const highest = ctx.meta.current.highestEpoch;
    if (epoch < highest) {
      throw replicationError(
        'TANDEM_ERR_REPLICATION_STALE_EPOCH',
        `${ctx.o.volume}: epoch ${epoch} from ${from} is older than ${highest}`,
      );
    }
    if (epoch > highest) {
      await ctx.meta.update((m) => ({ highestEpoch: Math.max(m.highestEpoch, epoch) }));
      ctx.log.info({ epoch, primary: from }, 'new primary epoch persisted');
    }
  }

  /** Whether `epoch` may still send ops here (synchronous check before each batch). */
  epochCurrent(epoch: number): boolean {
    return epoch >= this.#ctx.meta.current.highestEpoch;
  }

  /**
   * Applies a run of WRITE ops that are adjacent on the device (each starts where the previous
   * ends) and share FUA, issued at once: they do not overlap one another, so the run is exactly
   * what the ops would write one by one; it is ordered as one op against the others.
   */
  async applyWriteRun(ops: readonly OpMessage[]): Promise<void> {
    const ctx = this.#ctx;
    this.#checkReplica();
    const dev = ctx.device;
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
          `${ctx.o.volume}: op ${op.seq} is not a write inside the volume`,
        );
      }
      bytes += op.data.length;
    }
    for (let i = 1; i < ops.length; i++) {
      if (ops[i]!.offset !== ops[i - 1]!.offset + ops[i - 1]!.data.length || ops[i]!.fua !== ops[0]!.fua) {
        throw new TandemError('TANDEM_ERR_ASSERT', 'applyWriteRun: ops are not one adjacent run');
      }
    }
    ctx.metrics.appliedOps += ops.length;
    ctx.metrics.appliedBytes += bytes;
    const last = ops[ops.length - 1]!;
    const hold = this.#order.take(ops[0]!.offset, last.offset + last.data.length);
    // Marked in stream order, durably before the device changes (replica-marks.ts).
    const marked = this.#marks.beforeWrite(ops[0]!.offset, last.offset + last.data.length - ops[0]!.offset);
    try {
      if (hold.ready) await hold.ready;
      if (marked) await marked;
      // Issued together: a FileDevice joins adjacent writes of one turn into one pwritev, so the
      // run costs one system call without copying it into one buffer first. The run is complete:
      // it goes out now, and its acks with this turn's I/O, not a loop iteration later.
      const written = Promise.all(ops.map((op) => dev.write(op.offset, op.data, op.fua)));
      dev.submitWrites?.();
      await written;
    } finally {
      this.#order.release(hold);
    }
  }

  /** Applies one op from the primary; resolves with the checksum for CHECKSUM, else 0. */
  async applyOp(op: OpMessage): Promise<number> {
    const ctx = this.#ctx;
    this.#checkReplica();
    const dev = ctx.device;
    // FLUSH, RESYNC_BEGIN and IN_SYNC take no range: the primary sends each only after the ops
    // it must follow were acknowledged by this replica (SYNCHRONIZE CACHE covers writes already
    // completed; resync waits for each ack), so those are on this device already.
    const ranged =
      op.kind !== OpKind.FLUSH &&
      op.kind !== OpKind.RESYNC_BEGIN &&
      op.kind !== OpKind.IN_SYNC &&
      op.kind !== OpKind.RESIZE_PREPARE &&
      op.kind !== OpKind.RESIZE_COMMIT;
    const length = op.kind === OpKind.WRITE || op.kind === OpKind.RESYNC_DATA ? op.data.length : op.length;
    if (ranged && (op.offset < 0 || length <= 0 || op.offset + length > dev.size)) {
      throw replicationError(
        'TANDEM_ERR_REPLICATION_PROTOCOL',
        `${ctx.o.volume}: op ${op.seq} range ${op.offset}+${length} is outside the volume (${dev.size})`,
      );
    }
    ctx.metrics.appliedOps++;
    ctx.metrics.appliedBytes += op.data.length;
    if (!ranged) return this.#applyUnranged(op);
    const hold = this.#order.take(op.offset, op.offset + length);
    const resyncGen = this.#checkpoint.generation;
    // Marked in stream order, durably before the device changes (replica-marks.ts).
    const marked =
      op.kind === OpKind.WRITE || op.kind === OpKind.DISCARD
        ? this.#marks.beforeWrite(op.offset, length)
        : op.kind === OpKind.RESYNC_DATA || op.kind === OpKind.RESYNC_ZERO
          ? this.#marks.beforeResync(op.offset, length, op.keepDirty)
          : undefined;
    try {
      if (hold.ready) await hold.ready;
      if (marked) await marked;
      switch (op.kind) {
        case OpKind.WRITE:
          await dev.write(op.offset, op.data, op.fua);
          return 0;
        case OpKind.RESYNC_DATA:
          await dev.write(op.offset, op.data, op.fua);
          this.#checkpoint.received(resyncGen, op.offset, length);
          return 0;
        case OpKind.DISCARD:
          await discardOn(dev, op.offset, op.length);
          return 0;
        case OpKind.RESYNC_ZERO:
          await discardOn(dev, op.offset, op.length);
          this.#checkpoint.received(resyncGen, op.offset, length);
          return 0;
        case OpKind.CHECKSUM:
          return crc32c(await dev.read(op.offset, op.length));
        default:
          throw replicationError('TANDEM_ERR_REPLICATION_PROTOCOL', `unknown op kind ${op.kind}`);
      }
    } finally {
      this.#order.release(hold);
    }
  }

  async #applyUnranged(op: OpMessage): Promise<number> {
    const ctx = this.#ctx;
    const dev = ctx.device;
    switch (op.kind) {
      case OpKind.FLUSH: {
        const tick = this.#marks.flushArrived();
        await dev.flush();
        // The primary's region cleaner: these are clean on every copy once all have flushed.
        // A clear that does not reach the disk leaves the bit set there: it only overstates.
        if (op.cleanRegions.length > 0) {
          this.#marks
            .cleanNamed(op.cleanRegions, tick)
            .catch((err: unknown) =>
              ctx.log.warn({ err: (err as Error).message }, 'could not clear regions the primary cleaned'),
            );
        }
        return 0;
      }
      case OpKind.RESYNC_BEGIN:
        this.#checkpoint.begin();
        this.#marks.resyncBegan();
        if (op.full && op.resume && ctx.meta.current.resyncFrom?.datasetId === op.datasetId) {
          ctx.log.info(
            { dirtyRegions: ctx.bm().dirtyCount, from: this.#primary },
            'full resync resumed from the checkpoint',
          );
        } else if (op.full) {
          // The checkpoint: every region is missing until received and flushed (the bits first,
          // so a crash in between leaves a bitmap that overstates, never one that understates).
          await ctx.bm().markAll();
          const resyncFrom = {
            node: this.#primary,
            epoch: ctx.meta.current.highestEpoch,
            datasetId: op.datasetId,
          };
          await ctx.meta.update(() => ({ hasValidData: false, datasetId: '', resyncFrom }));
          ctx.intact = false;
          ctx.log.warn(
            { from: this.#primary, dataset: op.datasetId },
            'full resync started: local data is not trustworthy until it ends',
          );
        } else ctx.log.info({ full: op.full }, 'resync from the primary started');
        return 0;
      case OpKind.IN_SYNC:
        this.#checkpoint.begin();
        // Everything written here is on disk before the data is declared trustworthy.
        await dev.flush();
        await ctx.meta.update(() => ({ datasetId: op.datasetId, hasValidData: true, resyncFrom: undefined }));
        // Not the regions an op of this stream keeps dirty: they may hold writes another copy
        // lacks until the primary's cleaner names them (replica-marks.ts).
        await ctx.bm().clear(this.#marks.clearable(ctx.bm().dirtyRegions()));
        this.#marks.inSync();
        // Identical to the primary's copy, flushed: it holds every write acknowledged so far.
        ctx.intact = true;
        ctx.log.info({ datasetId: op.datasetId }, 'in sync with the primary');
        return 0;
      case OpKind.RESIZE_PREPARE:
        await prepareSize(ctx, op.length);
        return 0;
      case OpKind.RESIZE_COMMIT:
        // A commit is only sent after our prepare was acknowledged; prepare anyway if not.
        await prepareSize(ctx, op.length);
        await commitSize(ctx, op.length);
        return 0;
      default:
        throw new TandemError('TANDEM_ERR_ASSERT', `op kind ${op.kind} has a range`);
    }
  }
}
