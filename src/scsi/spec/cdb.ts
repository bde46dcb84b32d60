// Byte 1 of the READ/WRITE-family CDBs (SBC-3 5.x): the fields every write handler reads.
export const RwCdbByte1 = {
  /** RDPROTECT / WRPROTECT / VRPROTECT (bits 7..5): protection information, unsupported. */
  PROTECT_MASK: 0xe0,
  /** Force unit access (bit 3). */
  FUA: 0x08,
} as const;

// Byte 1 of WRITE SAME (10)/(16) (SBC-3 5.45, 5.46) past its WRPROTECT field.
export const WriteSameCdbByte1 = {
  ANCHOR: 0x10,
  UNMAP: 0x08,
  /** No data-out buffer: the block is zeroes (WRITE SAME (16) only). */
  NDOB: 0x01,
} as const;
