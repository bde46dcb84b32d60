import { crc32c } from '../util/crc32c.js';
import { outgoing, type PeerLink } from './peer-link.js';
import { OpKind } from './proto.js';
import type { VerifyResult } from './replication-interface.js';
import type { VolumeContext } from './volume-context.js';

/** Regions verified at once. */
const VERIFY_PARALLEL = 4;

/**
 * Compares CRC32C per region between this primary and each of `links` (the in-sync peers), each
 * region under an exclusive region lock so no live write lands between the two reads.
 */
export async function verify(
  ctx: VolumeContext,
  links: readonly PeerLink[],
  gen: number,
  onProgress?: (done: number, total: number) => void,
): Promise<VerifyResult> {
  const bm = ctx.bm();
  // The size replication covers (a store grown at open beyond it is not compared).
  const size = bm.size;
  const differing: { node: string; offset: number; length: number }[] = [];
  let next = 0;
  let done = 0;
  // A few regions at a time (like resync): the checksums of both copies overlap the reads.
  const worker = async (): Promise<void> => {
    for (;;) {
      const r = next++;
      if (r >= bm.regions) return;
      if (gen !== ctx.generation) throw ctx.fenced('lost primary during verify');
      const offset = r * bm.regionSize;
      const length = Math.min(bm.regionSize, size - offset);
      await ctx.locks.exclusive(r);
      try {
        const sums = links.map((l) => l.send(outgoing(OpKind.CHECKSUM, offset, length)));
        const mine = crc32c(await ctx.device.read(offset, length));
        const theirs = await Promise.allSettled(sums);
        theirs.forEach((res, i) => {
          if (res.status === 'rejected' || res.value.checksum !== mine) {
            differing.push({ node: links[i]!.node, offset, length });
          }
        });
      } finally {
        ctx.locks.releaseExclusive(r);
      }
      onProgress?.(++done, bm.regions);
    }
  };
  await Promise.all(Array.from({ length: VERIFY_PARALLEL }, worker));
  differing.sort((a, b) => a.offset - b.offset || (a.node < b.node ? -1 : 1));
  const result = {
    regions: bm.regions,
    regionSize: bm.regionSize,
    differing,
    nodes: links.map((l) => l.node),
  };
  ctx.log.info({ regions: result.regions, differing: differing.length, nodes: result.nodes }, 'verify done');
  return result;
}
