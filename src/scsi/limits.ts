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
  /**
   * MAXIMUM COMPARE AND WRITE LENGTH, in blocks: the largest the one-byte field can say. The
   * range lock makes any length atomic, and 2 × 255 blocks of data-out stays well under one
   * transfer; VMware's ATS uses 1 block, other users (cluster file systems, libiscsi) more.
   */
  maxCompareAndWriteBlocks: 255,
  /**
   * MAXIMUM WRITE SAME LENGTH, in bytes: a WRITE SAME without UNMAP writes every block, so
   * this bounds how long one command holds its range lock (16 MiB ≈ 10 ms). Below 65536
   * blocks at 512 bytes, as LIO: libiscsi writes MAX WRITE SAME LENGTH blocks in one WRITE.
   */
  maxWriteSameBytes: 16 << 20,
  /**
   * MAXIMUM UNMAP LBA COUNT, in blocks per UNMAP command: 2^20 (512 MiB at 512 bytes), the
   * largest value libiscsi's Block Limits check calls sane short of "no limit". Hole
   * punching is cheap; the bound keeps one command's range lock short.
   */
  maxUnmapBlocks: 1 << 20,
  /**
   * MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT: as many as an UNMAP parameter list can carry
   * ((65535 - 8) / 16), so the only limit is the CDB's own.
   */
  maxUnmapDescriptors: 4095,
  /**
   * PRE-FETCH: the most it brings into the cache in one command (MAXIMUM PREFETCH LENGTH).
   * A longer range does not fit: GOOD instead of CONDITION MET, nothing read (SBC-3 5.11).
   */
  maxPrefetchBytes: 8 << 20,
  /** GET LBA STATUS: LBA status descriptors returned at most per command. */
  maxLbaStatusDescriptors: 256,
} as const;

export function maxTransferBlocks(blockSize: number): number {
  return Limits.maxTransferBytes / blockSize;
}
