/**
 * Limits the device server advertises in the Block Limits VPD page (SBC-3 6.6.4) and
 * enforces. One place, so VPD B0h and the checks cannot disagree.
 */
export const Limits = {
  /** Largest single READ/WRITE/VERIFY, in bytes (8 MiB). */
  maxTransferBytes: 8 << 20,
  /** Preferred transfer size, in bytes. */
  optimalTransferBytes: 1 << 20,
  /** Transfer length granularity, in bytes (a page). */
  optimalGranularityBytes: 4096,
} as const;

export function maxTransferBlocks(blockSize: number): number {
  return Limits.maxTransferBytes / blockSize;
}
