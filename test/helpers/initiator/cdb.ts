// CDB builders (SPC-4, SBC-3) and a few parameter-data decoders for tests.

export const ScsiOp = {
  TEST_UNIT_READY: 0x00,
  REQUEST_SENSE: 0x03,
  READ_6: 0x08,
  WRITE_6: 0x0a,
  INQUIRY: 0x12,
  MODE_SENSE_6: 0x1a,
  READ_CAPACITY_10: 0x25,
  READ_10: 0x28,
  WRITE_10: 0x2a,
  VERIFY_10: 0x2f,
  SYNCHRONIZE_CACHE_10: 0x35,
  MODE_SENSE_10: 0x5a,
  PERSISTENT_RESERVE_IN: 0x5e,
  PERSISTENT_RESERVE_OUT: 0x5f,
  READ_16: 0x88,
  WRITE_16: 0x8a,
  VERIFY_16: 0x8f,
  SYNCHRONIZE_CACHE_16: 0x91,
  SERVICE_ACTION_IN_16: 0x9e,
  REPORT_LUNS: 0xa0,
  MAINTENANCE_IN: 0xa3,
  READ_12: 0xa8,
  WRITE_12: 0xaa,
} as const;

export interface RwOptions {
  fua?: boolean;
  dpo?: boolean;
  group?: number;
  control?: number;
}

function u16(b: Buffer, off: number, v: number): void {
  b.writeUInt16BE(v & 0xffff, off);
}
function u32(b: Buffer, off: number, v: number): void {
  b.writeUInt32BE(v >>> 0, off);
}
function u64(b: Buffer, off: number, v: number | bigint): void {
  b.writeBigUInt64BE(BigInt(v), off);
}

export function testUnitReady(): Buffer {
  return Buffer.alloc(6);
}

export function inquiry(opts: { evpd?: boolean; page?: number; allocationLength?: number } = {}): Buffer {
  const b = Buffer.alloc(6);
  b[0] = ScsiOp.INQUIRY;
  b[1] = opts.evpd ? 1 : 0;
  b[2] = opts.page ?? 0;
  u16(b, 3, opts.allocationLength ?? 255);
  return b;
}

export function inquiryVpd(page: number, allocationLength = 255): Buffer {
  return inquiry({ evpd: true, page, allocationLength });
}

export function requestSense(allocationLength = 252, descriptorFormat = false): Buffer {
  const b = Buffer.alloc(6);
  b[0] = ScsiOp.REQUEST_SENSE;
  b[1] = descriptorFormat ? 1 : 0;
  b[4] = allocationLength & 0xff;
  return b;
}

/** READ(6)/WRITE(6): 21-bit LBA; a transfer length of 0 means 256 blocks (SBC-3 5.9). */
function rw6(op: number, lba: number, blocks: number): Buffer {
  if (lba > 0x1fffff) throw new RangeError('LBA does not fit a 6-byte CDB');
  const b = Buffer.alloc(6);
  b[0] = op;
  b[1] = (lba >> 16) & 0x1f;
  u16(b, 2, lba & 0xffff);
  b[4] = blocks === 256 ? 0 : blocks & 0xff;
  return b;
}
export const read6 = (lba: number, blocks: number): Buffer => rw6(ScsiOp.READ_6, lba, blocks);
export const write6 = (lba: number, blocks: number): Buffer => rw6(ScsiOp.WRITE_6, lba, blocks);

function rwFlags(o: RwOptions): number {
  return (o.dpo ? 0x10 : 0) | (o.fua ? 0x08 : 0);
}

function rw10(op: number, lba: number, blocks: number, o: RwOptions): Buffer {
  const b = Buffer.alloc(10);
  b[0] = op;
  b[1] = rwFlags(o);
  u32(b, 2, lba);
  b[6] = (o.group ?? 0) & 0x1f;
  u16(b, 7, blocks);
  b[9] = o.control ?? 0;
  return b;
}
export const read10 = (lba: number, blocks: number, o: RwOptions = {}): Buffer =>
  rw10(ScsiOp.READ_10, lba, blocks, o);
export const write10 = (lba: number, blocks: number, o: RwOptions = {}): Buffer =>
  rw10(ScsiOp.WRITE_10, lba, blocks, o);

function rw12(op: number, lba: number, blocks: number, o: RwOptions): Buffer {
  const b = Buffer.alloc(12);
  b[0] = op;
  b[1] = rwFlags(o);
  u32(b, 2, lba);
  u32(b, 6, blocks);
  b[10] = (o.group ?? 0) & 0x1f;
  b[11] = o.control ?? 0;
  return b;
}
export const read12 = (lba: number, blocks: number, o: RwOptions = {}): Buffer =>
  rw12(ScsiOp.READ_12, lba, blocks, o);
export const write12 = (lba: number, blocks: number, o: RwOptions = {}): Buffer =>
  rw12(ScsiOp.WRITE_12, lba, blocks, o);

function rw16(op: number, lba: number | bigint, blocks: number, o: RwOptions): Buffer {
  const b = Buffer.alloc(16);
  b[0] = op;
  b[1] = rwFlags(o);
  u64(b, 2, lba);
  u32(b, 10, blocks);
  b[14] = (o.group ?? 0) & 0x1f;
  b[15] = o.control ?? 0;
  return b;
}
export const read16 = (lba: number | bigint, blocks: number, o: RwOptions = {}): Buffer =>
  rw16(ScsiOp.READ_16, lba, blocks, o);
export const write16 = (lba: number | bigint, blocks: number, o: RwOptions = {}): Buffer =>
  rw16(ScsiOp.WRITE_16, lba, blocks, o);

export function readCapacity10(): Buffer {
  const b = Buffer.alloc(10);
  b[0] = ScsiOp.READ_CAPACITY_10;
  return b;
}

export function readCapacity16(allocationLength = 32): Buffer {
  const b = Buffer.alloc(16);
  b[0] = ScsiOp.SERVICE_ACTION_IN_16;
  b[1] = 0x10;
  u32(b, 10, allocationLength);
  return b;
}

export function reportLuns(allocationLength = 4096, selectReport = 0): Buffer {
  const b = Buffer.alloc(12);
  b[0] = ScsiOp.REPORT_LUNS;
  b[2] = selectReport;
  u32(b, 6, allocationLength);
  return b;
}

export interface ModeSenseOptions {
  page: number;
  subpage?: number;
  /** 0 current, 1 changeable, 2 default, 3 saved. */
  pageControl?: number;
  dbd?: boolean;
  llbaa?: boolean;
  allocationLength?: number;
}

export function modeSense6(o: ModeSenseOptions): Buffer {
  const b = Buffer.alloc(6);
  b[0] = ScsiOp.MODE_SENSE_6;
  b[1] = o.dbd ? 0x08 : 0;
  b[2] = ((o.pageControl ?? 0) << 6) | (o.page & 0x3f);
  b[3] = o.subpage ?? 0;
  b[4] = (o.allocationLength ?? 255) & 0xff;
  return b;
}

export function modeSense10(o: ModeSenseOptions): Buffer {
  const b = Buffer.alloc(10);
  b[0] = ScsiOp.MODE_SENSE_10;
  b[1] = (o.llbaa ? 0x10 : 0) | (o.dbd ? 0x08 : 0);
  b[2] = ((o.pageControl ?? 0) << 6) | (o.page & 0x3f);
  b[3] = o.subpage ?? 0;
  u16(b, 7, o.allocationLength ?? 4096);
  return b;
}

export function synchronizeCache10(lba = 0, blocks = 0, immed = false): Buffer {
  const b = Buffer.alloc(10);
  b[0] = ScsiOp.SYNCHRONIZE_CACHE_10;
  b[1] = immed ? 0x02 : 0;
  u32(b, 2, lba);
  u16(b, 7, blocks);
  return b;
}

export function synchronizeCache16(lba: number | bigint = 0, blocks = 0, immed = false): Buffer {
  const b = Buffer.alloc(16);
  b[0] = ScsiOp.SYNCHRONIZE_CACHE_16;
  b[1] = immed ? 0x02 : 0;
  u64(b, 2, lba);
  u32(b, 10, blocks);
  return b;
}

/** BYTCHK 0: medium verification only; 1: compare with Data-Out (SBC-3 5.33). */
export function verify10(lba: number, blocks: number, bytchk: 0 | 1 | 3 = 0): Buffer {
  const b = Buffer.alloc(10);
  b[0] = ScsiOp.VERIFY_10;
  b[1] = bytchk << 1;
  u32(b, 2, lba);
  u16(b, 7, blocks);
  return b;
}

export function verify16(lba: number | bigint, blocks: number, bytchk: 0 | 1 | 3 = 0): Buffer {
  const b = Buffer.alloc(16);
  b[0] = ScsiOp.VERIFY_16;
  b[1] = bytchk << 1;
  u64(b, 2, lba);
  u32(b, 10, blocks);
  return b;
}

export const PrInAction = {
  READ_KEYS: 0,
  READ_RESERVATION: 1,
  REPORT_CAPABILITIES: 2,
  READ_FULL_STATUS: 3,
} as const;
export const PrOutAction = {
  REGISTER: 0,
  RESERVE: 1,
  RELEASE: 2,
  CLEAR: 3,
  PREEMPT: 4,
  PREEMPT_AND_ABORT: 5,
  REGISTER_AND_IGNORE_EXISTING_KEY: 6,
  REGISTER_AND_MOVE: 7,
} as const;
/** SPC-4 6.15.3.4 persistent reservation types. */
export const PrType = {
  WRITE_EXCLUSIVE: 1,
  EXCLUSIVE_ACCESS: 3,
  WRITE_EXCLUSIVE_REGISTRANTS_ONLY: 5,
  EXCLUSIVE_ACCESS_REGISTRANTS_ONLY: 6,
  WRITE_EXCLUSIVE_ALL_REGISTRANTS: 7,
  EXCLUSIVE_ACCESS_ALL_REGISTRANTS: 8,
} as const;

export function persistentReserveIn(action: number, allocationLength = 1024): Buffer {
  const b = Buffer.alloc(10);
  b[0] = ScsiOp.PERSISTENT_RESERVE_IN;
  b[1] = action & 0x1f;
  u16(b, 7, allocationLength);
  return b;
}

export function persistentReserveOut(action: number, type = 0, parameterListLength = 24, scope = 0): Buffer {
  const b = Buffer.alloc(10);
  b[0] = ScsiOp.PERSISTENT_RESERVE_OUT;
  b[1] = action & 0x1f;
  b[2] = ((scope & 0x0f) << 4) | (type & 0x0f);
  u32(b, 5, parameterListLength);
  return b;
}

export interface PrOutParams {
  key?: bigint;
  serviceActionKey?: bigint;
  specIPt?: boolean;
  allTgPts?: boolean;
  aptpl?: boolean;
}

/** The basic 24-byte PERSISTENT RESERVE OUT parameter list (SPC-4 6.16.3). */
export function persistentReserveOutParams(p: PrOutParams): Buffer {
  const b = Buffer.alloc(24);
  b.writeBigUInt64BE(p.key ?? 0n, 0);
  b.writeBigUInt64BE(p.serviceActionKey ?? 0n, 8);
  b[20] = (p.specIPt ? 0x08 : 0) | (p.allTgPts ? 0x04 : 0) | (p.aptpl ? 0x01 : 0);
  return b;
}

/** MAINTENANCE IN / REPORT TARGET PORT GROUPS (SPC-4 6.36); format 1 = extended header. */
export function reportTargetPortGroups(allocationLength = 1024, extended = false): Buffer {
  const b = Buffer.alloc(12);
  b[0] = ScsiOp.MAINTENANCE_IN;
  b[1] = (extended ? 0x20 : 0) | 0x0a;
  u32(b, 6, allocationLength);
  return b;
}

// ---------------------------------------------------------------------------------------------
// Parameter data decoders.

export function parseReadCapacity10(d: Buffer): { lastLba: number; blockLength: number } {
  return { lastLba: d.readUInt32BE(0), blockLength: d.readUInt32BE(4) };
}

export interface ReadCapacity16 {
  lastLba: bigint;
  blockLength: number;
  protectionEnabled: boolean;
  logicalPerPhysicalExponent: number;
  thinProvisioned: boolean;
  lowestAlignedLba: number;
}

export function parseReadCapacity16(d: Buffer): ReadCapacity16 {
  return {
    lastLba: d.readBigUInt64BE(0),
    blockLength: d.readUInt32BE(8),
    protectionEnabled: (d[12]! & 0x01) !== 0,
    logicalPerPhysicalExponent: d[13]! & 0x0f,
    thinProvisioned: (d[14]! & 0x80) !== 0,
    lowestAlignedLba: d.readUInt16BE(14) & 0x3fff,
  };
}

/** REPORT LUNS (SPC-4 6.33): returns LUN numbers decoded from peripheral or flat addressing. */
export function parseReportLuns(d: Buffer): number[] {
  const len = d.readUInt32BE(0);
  const out: number[] = [];
  for (let off = 8; off + 8 <= Math.min(d.length, 8 + len); off += 8) {
    const method = d[off]! >> 6;
    out.push(method === 1 ? ((d[off]! & 0x3f) << 8) | d[off + 1]! : d[off + 1]!);
  }
  return out;
}

export interface StandardInquiry {
  peripheralQualifier: number;
  peripheralDeviceType: number;
  version: number;
  responseDataFormat: number;
  tpgs: number;
  cmdque: boolean;
  vendor: string;
  product: string;
  revision: string;
}

export function parseStandardInquiry(d: Buffer): StandardInquiry {
  return {
    peripheralQualifier: d[0]! >> 5,
    peripheralDeviceType: d[0]! & 0x1f,
    version: d[2]!,
    responseDataFormat: d[3]! & 0x0f,
    tpgs: (d[5]! >> 4) & 3,
    cmdque: (d[7]! & 0x02) !== 0,
    vendor: d.toString('latin1', 8, 16).trimEnd(),
    product: d.toString('latin1', 16, 32).trimEnd(),
    revision: d.toString('latin1', 32, 36).trimEnd(),
  };
}
