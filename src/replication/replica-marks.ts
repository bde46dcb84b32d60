import type { VolumeContext } from './volume-context.js';

/**
 * A replica's marks in its own dirty bitmap (DRBD 9 marks on every node, not only the primary).
 * A write a replica applied may be missing on another copy until the primary has acknowledged
 * it, and unacknowledged when the primary dies: the next primary must then resync the region to
 * every peer, so the copy holding the write names it. So a replica marks the regions of every
 * op it applies, durably, before applying it (the primary's rule 6, with the same bitmap code
 * and cost), and clears them only when the primary says they are clean everywhere: a FLUSH of
 * its region cleaner names them (`cleanRegions`), and the replica clears those after its own
 * flush, unless an op reached them after the FLUSH arrived.
 *
 * Regions marked since the stream's Hello are *kept*: neither the resync checkpoint nor IN_SYNC
 * clears them (they may hold writes another copy lacks; the primary has them dirty too, as it
 * marks before it sends, and names them when it cleans). Marks older than the Hello were
 * reported in its reply, so the primary resyncs them, and they may be cleared with the resync.
 */
export class ReplicaMarks {
  readonly #ctx: VolumeContext;
  readonly #kept = new Set<number>();
  /** Per kept region, the tick of the last op that marked it (see flushArrived). */
  readonly #markedAt = new Map<number, number>();
  #tick = 0;
  /**
   * Between RESYNC_BEGIN and IN_SYNC (and while the copy holds no valid data) the bitmap is the
   * resync's checkpoint: it names exactly what this copy lacks, so nothing is marked ahead.
   */
  #resyncing = false;

  constructor(ctx: VolumeContext) {
    this.#ctx = ctx;
  }

  /** A new stream's Hello was accepted: its reply reports every mark made until now. */
  newStream(): void {
    this.#kept.clear();
    this.#markedAt.clear();
    this.#resyncing = !this.#ctx.meta.current.hasValidData;
  }

  /** RESYNC_BEGIN: the bitmap is a checkpoint until IN_SYNC. */
  resyncBegan(): void {
    this.#resyncing = true;
  }

  /** IN_SYNC: the copy is the primary's; marks may go ahead again. */
  inSync(): void {
    this.#resyncing = false;
  }

  /**
   * Called in stream order, before the op's first await: marks the regions of a WRITE or
   * DISCARD; resolves once they are durable (undefined: they already are, no await). A mark that
   * costs a bitmap write anyway covers the next MARK_AHEAD regions too, as on the primary, so a
   * sequential stream pays one fdatasync per MARK_AHEAD + 1 regions here as well — but not while
   * resyncing: regions marked ahead then would undo the checkpoint of regions already received,
   * and a resumed resync would copy them again (as the primary does not mark ahead while a
   * replica is out of sync).
   */
  beforeWrite(offset: number, length: number): Promise<void> | undefined {
    const bm = this.#ctx.bm();
    const { first, last } = bm.regionsOf(offset, length);
    this.#keep(first, last);
    if (bm.markedDurably(first, last)) return undefined;
    return bm.mark(first, this.#resyncing ? last : bm.markAheadEnd(first, last));
  }

  /**
   * Before a RESYNC_DATA or RESYNC_ZERO is applied: its regions are dirty until it is flushed.
   * `keep`: the primary has them dirty (they may hold writes another copy lacks), so they stay
   * dirty until a FLUSH names them.
   */
  beforeResync(offset: number, length: number, keep: boolean): Promise<void> | undefined {
    const bm = this.#ctx.bm();
    const { first, last } = bm.regionsOf(offset, length);
    if (keep) this.#keep(first, last);
    return bm.markedDurably(first, last) ? undefined : bm.mark(first, last);
  }

  #keep(first: number, last: number): void {
    const tick = ++this.#tick;
    for (let r = first; r <= last; r++) {
      this.#kept.add(r);
      this.#markedAt.set(r, tick);
    }
  }

  /** Which of `regions` a checkpoint or IN_SYNC may clear after a flush: none that are kept. */
  clearable(regions: Iterable<number>): number[] {
    const out: number[] = [];
    for (const r of regions) if (!this.#kept.has(r)) out.push(r);
    return out;
  }

  /** A cleaning FLUSH arrived (in stream order): what it may clear is judged against this tick. */
  flushArrived(): number {
    return this.#tick;
  }

  /**
   * After the flush of a FLUSH that arrived at `tick`: clears the regions it names, except those
   * an op marked after it arrived (the primary does not clear those either: they were written
   * again since it picked them). Resolves once the clears are durable.
   */
  cleanNamed(regions: readonly number[], tick: number): Promise<void> {
    const bm = this.#ctx.bm();
    const clean: number[] = [];
    for (const r of regions) {
      if (r < 0 || r >= bm.regions) continue;
      if ((this.#markedAt.get(r) ?? 0) > tick) continue;
      this.#kept.delete(r);
      this.#markedAt.delete(r);
      clean.push(r);
    }
    return bm.clear(clean);
  }
}
