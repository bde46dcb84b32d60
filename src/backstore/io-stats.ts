/**
 * Counters of how the file backstore's I/O went, process-wide: what ran on the event loop and
 * the longest any one such call took (wall time around the system call, so a thread the
 * scheduler took the CPU from mid-call counts too). Read by the cold-read bench's loop probe
 * to tell "our call held the loop" from "the loop was late".
 */
export interface IoStats {
  /** Reads served from the page cache on the event loop (a mapped copy, or preadv2 RWF_NOWAIT). */
  readsInline: number;
  /** Reads the residency check (mincore, or cachestat) found uncached: off the loop untried. */
  readsProbedCold: number;
  /**
   * Inline reads that did not complete: with preadv2, a miss (EAGAIN or short: the kernel
   * started readahead on the loop); with a mapping, a copy past the end of a file that shrank.
   */
  readsMissedInline: number;
  /** Reads (or the rest of one) off the loop: the native readers, or libuv's thread pool. */
  readsPool: number;
  /** The longest single inline read call, ms. */
  longestInlineReadMs: number;
  /** Write runs written on the event loop (pwritev). */
  writesInline: number;
  /** Write runs through the thread pool. */
  writesPool: number;
  /** The longest single inline write run, ms. */
  longestInlineWriteMs: number;
}

export const ioStats: IoStats = {
  readsInline: 0,
  readsProbedCold: 0,
  readsMissedInline: 0,
  readsPool: 0,
  longestInlineReadMs: 0,
  writesInline: 0,
  writesPool: 0,
  longestInlineWriteMs: 0,
};

export function resetIoStats(): void {
  for (const k of Object.keys(ioStats) as (keyof IoStats)[]) ioStats[k] = 0;
}
