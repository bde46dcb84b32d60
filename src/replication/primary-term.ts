import { replicationError } from './errors.js';
import type { VolumeContext } from './volume-context.js';

/**
 * What a new primary term records in the metadata before it serves (rules 3 and 6): the epoch,
 * the run of this node's own terms it continues, how new its data now is, and the peers whose
 * missed writes its bitmap names (`tracked`). Rejects an epoch older than one seen here.
 */
export async function recordTerm(
  ctx: VolumeContext,
  epoch: number,
  inSyncAtElection: readonly string[] | undefined,
): Promise<void> {
  const highest = ctx.meta.current.highestEpoch;
  if (epoch < highest) {
    throw replicationError(
      'TANDEM_ERR_REPLICATION_STALE_EPOCH',
      `${ctx.o.volume}: epoch ${epoch} is older than ${highest}, already seen here`,
    );
  }
  // The run of this node's own terms continues while no other primary's epoch reached it
  // in between: a resync it started may then resume from the peer's checkpoint (resync.ts).
  const m = ctx.meta.current;
  const continuing = m.lastOwnEpoch !== undefined && m.highestEpoch === m.lastOwnEpoch;
  const chainEpoch = continuing ? (m.chainEpoch ?? m.lastOwnEpoch!) : epoch;
  const era = ctx.o.era ?? m.era;
  // A new term of an in-sync copy: its data is at least as new as any other's (finding 4).
  const newTerm = ctx.hasValidData && (m.dataGen.era !== era || m.dataGen.epoch !== epoch);
  // A new run of terms: only the peers in the in-sync set at the election are sure to lack
  // nothing but what this node's bitmap will name from here on (we were a replica before).
  const elected = new Set(inSyncAtElection ?? ctx.o.inSync.members());
  const tracked =
    continuing && m.tracked !== undefined
      ? m.tracked
      : ctx.o
          .replicas()
          .filter((n) => n !== ctx.o.node && elected.has(n))
          .sort();
  const sameTracked =
    m.tracked !== undefined &&
    m.tracked.length === tracked.length &&
    m.tracked.every((n, i) => n === tracked[i]);
  if (epoch > highest || newTerm || m.lastOwnEpoch !== epoch || m.chainEpoch !== chainEpoch || !sameTracked)
    await ctx.meta.update((cur) => ({
      highestEpoch: Math.max(cur.highestEpoch, epoch),
      lastOwnEpoch: epoch,
      chainEpoch,
      tracked,
      ...(newTerm ? { dataGen: { era, epoch, seq: 0 } } : {}),
    }));
  if (!ctx.hasValidData) ctx.log.error('primary without valid data: the lead must not elect this node');
}
