import { unmapped } from './device-ops.js';
import { type OutgoingOp, outgoing, type PeerLink } from './peer-link.js';
import { type HelloReplyMessage, OpKind } from './proto.js';
import type { VolumeContext } from './volume-context.js';

/** Regions a resync copies at once. */
const RESYNC_PARALLEL = 4;

/**
 * Brings a live peer that is not in the in-sync set up to date while new writes are mirrored to
 * it, then tells it (it flushes and records the dataset) and adds it to the set (`addToInSync`). Incremental (our dirty regions ∪ the
 * peer's) when both hold the same dataset, else full.
 */
export async function resync(
  ctx: VolumeContext,
  link: PeerLink,
  reply: HelloReplyMessage,
  peerDirty: readonly number[],
  gen: number,
  addToInSync: (node: string) => Promise<void>,
): Promise<void> {
  const bm = ctx.bm();
  const size = bm.size;
  const resumed = resumable(ctx, reply);
  // A peer this node's bitmap does not track (away when our run of terms began, or not a
  // replica for a while) may lack writes no bitmap of ours names: only a full copy is sure.
  const untracked = ctx.meta.current.tracked?.includes(link.node) !== true;
  const full =
    !resumed &&
    (untracked || !reply.hasValidData || ctx.datasetId === '' || reply.datasetId !== ctx.datasetId);
  // From here on new writes reach the peer live; everything written before is dirty in our
  // bitmap by now (marked before the write chose its mirrors), so the snapshot below has it.
  link.transition('resyncing', { full, resumed });
  let regions: number[];
  if (full) {
    regions = Array.from({ length: bm.regions }, (_, i) => i);
  } else {
    // Resumed: the peer's bitmap names what it has not received and flushed; ours names every
    // region written since the peer was last in sync (no clear while it is not), which covers
    // the live writes it got after its checkpoint but may not have flushed.
    const set = new Set<number>(bm.dirtyRegions());
    for (const r of peerDirty) set.add(r);
    regions = [...set].sort((a, b) => a - b);
  }
  const lengthOf = (r: number) => Math.min(bm.regionSize, size - r * bm.regionSize);
  const total = regions.reduce((sum, r) => sum + lengthOf(r), 0);
  link.resyncTotalBytes = total;
  link.resyncDoneBytes = 0;
  link.resyncSentBytes = 0;
  link.resyncResumed = resumed;
  link.resyncProgress.reset();
  const started = Date.now();
  ctx.log.info(
    {
      peer: link.node,
      full,
      resumed,
      regions: regions.length,
      bytes: total,
      peerDirtyRegions: peerDirty.length,
      limitBps: ctx.throttle.rateBps,
    },
    resumed ? 'resync resumed from the checkpoint' : 'resync started',
  );
  // A full resync (and its resumption) names our dataset: the replica records it with its
  // checkpoint, so that only this lineage may resume it.
  await link.send(
    outgoing(OpKind.RESYNC_BEGIN, 0, 0, undefined, false, full || resumed, ctx.datasetId, resumed),
  );
  let next = 0;
  let nextReport = 0.1;
  const stopped = () => gen !== ctx.generation || link.down;
  const worker = async (w: number) => {
    while (next < regions.length) {
      if (stopped()) throw new Error(`resync of ${link.node} interrupted`);
      await ctx.throttle.before(w, lengthOf(regions[next]!), stopped);
      if (next >= regions.length) break;
      const r = regions[next++]!;
      if (stopped()) throw new Error(`resync of ${link.node} interrupted`);
      const offset = r * bm.regionSize;
      const length = lengthOf(r);
      await ctx.locks.exclusive(r);
      try {
        let op: OutgoingOp;
        if (await unmapped(ctx.device, offset, length)) {
          op = outgoing(OpKind.RESYNC_ZERO, offset, length);
        } else {
          const data = await ctx.device.read(offset, length);
          op = outgoing(OpKind.RESYNC_DATA, offset, length, data);
          link.resyncSentBytes += length;
        }
        // Dirty here: the region may hold a write another copy lacks (ours as a replica of a
        // primary that died, say), so the peer keeps it dirty until our cleaner names it.
        op.keepDirty = bm.isDirty(r);
        await link.send(op);
      } finally {
        ctx.locks.releaseExclusive(r);
      }
      link.resyncDoneBytes += length;
      link.resyncProgress.sample(link.resyncDoneBytes);
      ctx.metrics.resyncRegions++;
      ctx.metrics.resyncBytes += length;
      if (total > 0 && link.resyncDoneBytes / total >= nextReport && link.resyncDoneBytes < total) {
        nextReport = Math.floor((link.resyncDoneBytes / total) * 10 + 1) / 10;
        ctx.log.info(
          {
            peer: link.node,
            doneBytes: link.resyncDoneBytes,
            totalBytes: total,
            percent: Math.floor((link.resyncDoneBytes / total) * 100),
            rateBps: Math.round(link.resyncProgress.rate()),
          },
          'resync progress',
        );
      }
    }
  };
  await Promise.all(Array.from({ length: RESYNC_PARALLEL }, (_, w) => worker(w)));
  if (link.down || gen !== ctx.generation) throw new Error(`resync of ${link.node} interrupted`);
  // The peer declares its copy trustworthy only after a flush (IN_SYNC), and only then does it
  // join the in-sync set (issue 14, finding 1: a member must hold the data on stable storage,
  // not in its page cache). Writes still reach it meanwhile; a failure waits for the outcome.
  await link.send(outgoing(OpKind.IN_SYNC, 0, 0, undefined, false, false, ctx.datasetId));
  if (link.down || gen !== ctx.generation) throw new Error(`resync of ${link.node} interrupted`);
  link.adding = addToInSync(link.node);
  try {
    await link.adding;
  } finally {
    link.adding = undefined;
  }
  if (untracked)
    await ctx.meta.update((m) => ({ tracked: [...new Set([...(m.tracked ?? []), link.node])].sort() }));
  if (link.down) return;
  link.transition('in-sync');
  const durationMs = Date.now() - started;
  ctx.log.info(
    {
      peer: link.node,
      full,
      resumed,
      bytes: total,
      sentBytes: link.resyncSentBytes,
      durationMs,
      rateBps: durationMs > 0 ? Math.round((total * 1000) / durationMs) : 0,
    },
    'resync done: peer in sync',
  );
}

/**
 * Whether the peer's unfinished full resync may continue from its checkpoint instead of
 * starting over: it was started by this node for this dataset, in this node's current unbroken
 * run of primary terms (no other primary wrote meanwhile, so our bitmap names every region
 * written since the peer was last in sync).
 */
function resumable(ctx: VolumeContext, reply: HelloReplyMessage): boolean {
  const cp = reply.checkpoint;
  if (reply.hasValidData || !cp || ctx.datasetId === '') return false;
  const chain = ctx.meta.current.chainEpoch ?? ctx.epoch;
  return (
    cp.primaryNode === ctx.o.node &&
    cp.datasetId === ctx.datasetId &&
    cp.epoch >= chain &&
    cp.epoch <= ctx.epoch
  );
}
