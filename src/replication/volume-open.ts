import path from 'node:path';
import { DirtyBitmap, regionSizeFor } from './bitmap.js';
import { sizesAtOpen } from './resize.js';
import type { VolumeContext } from './volume-context.js';

/**
 * Loads what a replicated volume keeps on this node: the metadata (a new etcd era restarts the
 * epoch history; the store's size recorded) and the dirty bitmap, whose loss marks every region.
 */
export async function openState(ctx: VolumeContext): Promise<void> {
  let meta = await ctx.meta.load();
  const era = ctx.o.era;
  if (era && meta.era !== era) {
    if (meta.era !== '') {
      // etcd was replaced (a restore into a new cluster): its revisions, hence epochs, started
      // again. No primary of the old era can hold a lease in this one, and Hellos carry the
      // era, so an old-era primary is refused (see acceptHello).
      ctx.log.warn(
        { from: meta.era, to: era, highestEpoch: meta.highestEpoch },
        'etcd era changed: epoch history restarts',
      );
      meta = await ctx.meta.update(() => ({ era, highestEpoch: 0 }));
    } else meta = await ctx.meta.update(() => ({ era }));
  }
  // What a shorter store found at the next open is measured against (finding 3).
  if (meta.hasValidData && meta.dataSize !== ctx.device.size)
    meta = await ctx.meta.update(() => ({ dataSize: ctx.device.size }));
  const file = path.join(ctx.o.stateDir, `${ctx.o.volume}.bitmap`);
  // The LU's size is the committed one: a store grown at open to a new configured size is
  // not served beyond it until a resize has prepared every copy (resize.ts).
  const { committed, covered } = sizesAtOpen(
    meta.size,
    await DirtyBitmap.recordedSize(file),
    ctx.device.size,
  );
  ctx.size = committed;
  const { bitmap, created } = await DirtyBitmap.open(file, covered, regionSizeFor(covered, ctx.o.regionSize));
  ctx.bitmap = bitmap;
  if (created && meta.hasValidData) {
    // The activity log is gone: any region may hold writes a peer lacks.
    ctx.log.warn('dirty bitmap missing for a volume with data: every region is dirty');
    await bitmap.markAll();
  }
  // Dirty regions at open may have lost writes this node never flushed (a power cut): until it
  // is resynced it is not known to hold every write it acknowledged.
  ctx.intact = meta.hasValidData && bitmap.dirtyCount === 0;
}

/** The line `open()` logs once the role machine is at replica. */
export function logOpened(ctx: VolumeContext): void {
  const meta = ctx.meta.current;
  const bitmap = ctx.bm();
  ctx.log.info(
    {
      datasetId: meta.datasetId,
      hasValidData: meta.hasValidData,
      highestEpoch: meta.highestEpoch,
      regionSize: bitmap.regionSize,
      dirtyRegions: bitmap.dirtyCount,
      size: ctx.size,
      ...(bitmap.size > ctx.size ? { preparedSize: bitmap.size } : {}),
    },
    'replicated volume opened',
  );
}
