import type { DirtyBitmap } from './bitmap.js';
import type { Membership } from './membership.js';
import type { ReplicationStatus } from './replication-interface.js';
import type { VolumeContext } from './volume-context.js';

/** The volume's replication status as `tandemctl status` and the metrics show it. */
export function volumeStatus(
  ctx: VolumeContext,
  members: Membership,
  resizeTarget: number,
): ReplicationStatus {
  const bm = ctx.bitmap;
  const meta = ctx.meta.current;
  return {
    volume: ctx.o.volume,
    node: ctx.o.node,
    role: ctx.role.state,
    epoch: ctx.epoch,
    highestEpoch: meta.highestEpoch,
    datasetId: meta.datasetId,
    hasValidData: meta.hasValidData,
    regionSize: bm?.regionSize ?? 0,
    dirtyRegions: bm?.dirtyCount ?? 0,
    dirtyBytes: bm ? dirtyBytes(bm, bm.size) : 0,
    size: ctx.size,
    resizeTarget: Math.max(ctx.size, resizeTarget, bm?.size ?? 0),
    resyncLimitBps: ctx.throttle.rateBps,
    peers: members.statuses(Date.now()),
    metrics: { ...ctx.metrics },
  };
}

function dirtyBytes(bm: DirtyBitmap, size: number): number {
  let n = bm.dirtyCount * bm.regionSize;
  // The last region may be short.
  const lastIdx = bm.regions - 1;
  if (lastIdx >= 0 && bm.isDirty(lastIdx)) n -= bm.regions * bm.regionSize - size;
  return n;
}
