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

// SELECT REPORT of REPORT LUNS (SPC-4 6.33, table 195).
export const SelectReport = {
  /** The logical units, well known ones excluded. */
  ALL_BUT_WELL_KNOWN: 0x00,
  WELL_KNOWN_ONLY: 0x01,
  ALL: 0x02,
  ADMINISTRATIVE_ONLY: 0x10,
  ADMINISTRATIVE_AND_SUBSIDIARY: 0x11,
  SUBSIDIARY_OF_ADMINISTRATIVE: 0x12,
} as const;
