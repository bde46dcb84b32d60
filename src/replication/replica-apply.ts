import { crc32c } from '../util/crc32c.js';
import { TandemError } from '../util/errors.js';
import { discardOn } from './device-ops.js';
import { replicationError } from './errors.js';
import { OrderedRangeLock } from './ordered-range-lock.js';
import { type HelloMessage, type HelloReplyMessage, OpKind, type OpMessage } from './proto.js';
import type { VolumeContext } from './volume-context.js';

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

  constructor(ctx: VolumeContext) {
    this.#ctx = ctx;
  }

  /** Ops taken and not yet applied. */
  get pending(): number {
    return this.#order.size;
  }

  /** Checks a primary's Hello and persists its epoch; the reply for it. */
  async acceptHello(hello: HelloMessage): Promise<HelloReplyMessage> {
    const ctx = this.#ctx;
    this.#checkReplica();
    if (hello.size !== ctx.device.size) {
      throw replicationError(
        'TANDEM_ERR_REPLICATION_PROTOCOL',
        `${ctx.o.volume}: the primary's size ${hello.size} is not ours (${ctx.device.size})`,
      );
    }
    const era = ctx.o.era ?? '';
    if (era && hello.era && hello.era !== era) {
      throw replicationError(
        'TANDEM_ERR_REPLICATION_STALE_EPOCH',
        `${ctx.o.volume}: the primary ${hello.primaryNode} belongs to another etcd cluster (era ${hello.era}, ours ${era})`,
      );
    }
    await this.acceptEpoch(hello.epoch, hello.primaryNode);
    const bm = ctx.bm();
    const meta = ctx.meta.current;
    return {
      datasetId: meta.datasetId,
      hasValidData: meta.hasValidData,
      highestEpoch: meta.highestEpoch,
      regionSize: bm.regionSize,
      dirtyBitmap: bm.snapshot(),
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
    try {
      if (hold.ready) await hold.ready;
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
    const ranged = op.kind !== OpKind.FLUSH && op.kind !== OpKind.RESYNC_BEGIN && op.kind !== OpKind.IN_SYNC;
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
    try {
      if (hold.ready) await hold.ready;
      switch (op.kind) {
        case OpKind.WRITE:
        case OpKind.RESYNC_DATA:
          await dev.write(op.offset, op.data, op.fua);
          return 0;
        case OpKind.DISCARD:
        case OpKind.RESYNC_ZERO:
          await discardOn(dev, op.offset, op.length);
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
      case OpKind.FLUSH:
        await dev.flush();
        return 0;
      case OpKind.RESYNC_BEGIN:
        if (op.full && ctx.hasValidData) {
          await ctx.meta.update(() => ({ hasValidData: false, datasetId: '' }));
          ctx.log.warn('full resync started: local data is not trustworthy until it ends');
        } else ctx.log.info({ full: op.full }, 'resync from the primary started');
        return 0;
      case OpKind.IN_SYNC:
        // Everything written here is on disk before the data is declared trustworthy.
        await dev.flush();
        await ctx.meta.update(() => ({ datasetId: op.datasetId, hasValidData: true }));
        await ctx.bm().clearAll();
        ctx.log.info({ datasetId: op.datasetId }, 'in sync with the primary');
        return 0;
      default:
        throw new TandemError('TANDEM_ERR_ASSERT', `op kind ${op.kind} has a range`);
    }
  }
}
