import { TandemError } from '../util/errors.js';
import type { VolumeContext } from './volume-context.js';

/**
 * Online growth of a replicated volume, the two steps every copy takes (issue 15). The primary
 * drives them (ReplicatedVolume.requestSize): it prepares itself, then every in-sync peer and
 * every live one (RESIZE_PREPARE; a member that cannot is removed from the in-sync set first,
 * rule 2), then commits (its LU reports the new size, CAPACITY DATA HAS CHANGED) and tells the
 * peers (RESIZE_COMMIT). A peer that missed either catches up from the next Hello, which
 * carries both sizes. No copy reports a size before every in-sync copy's store holds it
 * durably, and a store never shrinks, so an interrupted resize only ever resumes: a new
 * primary whose bitmap is larger than its committed size (it was prepared) drives the same
 * resize to its end.
 */

/** Grows this copy's store and bitmap to `to`, durably, before resolving; the LU's size stays. */
export async function prepareSize(ctx: VolumeContext, to: number): Promise<void> {
  const bm = ctx.bm();
  if (to <= bm.size) return;
  const dev = ctx.device;
  const from = bm.size;
  // Before the bitmap grows, the committed size must be on record: it no longer follows from it.
  if (ctx.meta.current.size === undefined) await ctx.meta.update(() => ({ size: ctx.size }));
  if (dev.size < to) {
    if (!dev.grow) {
      throw new TandemError(
        'TANDEM_ERR_BACKSTORE_IO',
        `${ctx.o.volume}: the store ${dev.description} cannot grow to ${to} bytes`,
      );
    }
    await dev.grow(to);
  }
  // fdatasync makes the new size durable too (st_size is needed to read the data back).
  await dev.flush();
  await bm.grow(to);
  ctx.log.info({ from, to, committed: ctx.size }, 'resize prepared: store and bitmap grown durably');
}

/** This copy's LU reports `to` from now on (already prepared); the listeners queue the UA. */
export async function commitSize(ctx: VolumeContext, to: number): Promise<boolean> {
  if (to <= ctx.size) return false;
  if (to > ctx.bm().size) {
    throw new TandemError(
      'TANDEM_ERR_ASSERT',
      `${ctx.o.volume}: commit of ${to} bytes before the store and bitmap were grown (${ctx.bm().size})`,
    );
  }
  await ctx.meta.update(() => ({ size: to }));
  const from = ctx.size;
  ctx.size = to;
  ctx.log.info({ from, to }, 'resize committed: the LU reports the new capacity');
  for (const l of ctx.capacityListeners) {
    try {
      l(to);
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'a capacity listener failed');
    }
  }
  return true;
}

/**
 * At open: the committed size (metadata, else the bitmap's recorded size from before resizes
 * were recorded, else the store's) and the size the bitmap covers (never below it, never above
 * the store: a store grown at open to the configured size is not prepared until fsynced here).
 */
export function sizesAtOpen(
  metaSize: number | undefined,
  recordedBitmapSize: number | undefined,
  storeSize: number,
): { committed: number; covered: number } {
  const committed = Math.min(metaSize ?? recordedBitmapSize ?? storeSize, storeSize);
  const covered = Math.min(Math.max(committed, recordedBitmapSize ?? committed), storeSize);
  return { committed, covered };
}
