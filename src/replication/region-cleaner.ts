import type { Membership } from './membership.js';
import type { VolumeContext } from './volume-context.js';

/**
 * Rule 6: once every replica is in sync, regions quiet for cleanAfterMs are clean again — but
 * only once what was written there is durable on every side (issue 14, finding 1: a non-FUA
 * write completes from the page cache, and a bit cleared before a power cut of either node
 * would hide the region from the resync that follows). So a FLUSH goes to the local device
 * and every peer first (`flush`, the mirrored one), and a region written again since it was
 * picked stays dirty. The FLUSH names the regions: each replica marks what it applies in its own
 * bitmap (replica-marks.ts) and clears them after its flush, unless written again since. Runs
 * on the primary, from start() to stop().
 */
export class RegionCleaner {
  readonly #ctx: VolumeContext;
  readonly #members: Membership;
  /** The mirrored FLUSH, naming the regions to clear: each replica clears them after it flushed. */
  readonly #flush: (regions: number[]) => Promise<void>;
  #timer: NodeJS.Timeout | undefined;
  /** A flush-then-clear of quiet regions is in progress. */
  #cleaning = false;

  constructor(ctx: VolumeContext, members: Membership, flush: (regions: number[]) => Promise<void>) {
    this.#ctx = ctx;
    this.#members = members;
    this.#flush = flush;
  }

  start(): void {
    this.stop(); // a new term of a primary: one timer, not two
    this.#timer = setInterval(() => this.#clean(), Math.max(10, this.#ctx.timing.cleanAfterMs / 2));
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #clean(): void {
    const ctx = this.#ctx;
    if (this.#cleaning || ctx.role.state !== 'primary' || !ctx.o.canServeWrites()) return;
    const bm = ctx.bm();
    if (bm.dirtyCount === 0 || !this.#members.allInSync()) return;
    const now = Date.now();
    const quiet = new Map<number, number | undefined>();
    for (const r of bm.dirtyRegions()) {
      if (ctx.locks.busy(r)) continue;
      const last = ctx.locks.lastWrite.get(r);
      if (last !== undefined && now - last < ctx.timing.cleanAfterMs) continue;
      quiet.set(r, last);
    }
    if (quiet.size === 0) return;
    const gen = ctx.generation;
    this.#cleaning = true;
    // Picked with no write in flight there: the flush, issued now, covers every write they had.
    this.#flush([...quiet.keys()])
      .then(() => {
        if (gen !== ctx.generation || !this.#members.allInSync()) return;
        const clean: number[] = [];
        for (const [r, last] of quiet) {
          if (ctx.locks.busy(r) || ctx.locks.lastWrite.get(r) !== last) continue;
          clean.push(r);
          ctx.locks.lastWrite.delete(r);
        }
        return bm.clear(clean);
      })
      .catch((err: unknown) =>
        ctx.log.warn({ err: (err as Error).message }, 'could not flush and clear quiet dirty regions'),
      )
      .finally(() => {
        this.#cleaning = false;
      });
  }
}
