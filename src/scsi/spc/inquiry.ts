import { invalidField, usage } from '../cdb.js';
import type { TargetPort } from '../command.js';
import { Limits, maxTransferBlocks } from '../limits.js';
import type { LuView } from '../lu-view.js';
import { defineRow } from '../opcode-table.js';
import { Opcode } from '../spec/opcodes.js';
import { ProtocolIdentifier, VpdPage } from '../spec/vpd.js';

export const VENDOR = 'TANDEM';
export const PRODUCT = 'TANDEM-DISK';

/** Identity strings are fixed-width, space-padded ASCII (SPC-4 4.4.1). */
function ascii(text: string, width: number): Buffer {
  return Buffer.from(text.padEnd(width, ' ').slice(0, width), 'ascii');
}

/** Peripheral qualifier 011b, type 1Fh: no LU at this LUN (SPC-4 6.6.2). */
const NO_LU = 0x7f;

function standardInquiry(lu: LuView | undefined, multiPort: boolean): Buffer {
  const b = Buffer.alloc(96);
  b[0] = lu ? 0x00 : NO_LU; // direct-access block device
  b[2] = 0x06; // VERSION: SPC-4
  b[3] = 0x10 | 0x02; // HISUP, RESPONSE DATA FORMAT 2
  b[4] = b.length - 5;
  // TPGS 01b: implicit ALUA only (DESIGN.md); 3PC: EXTENDED COPY is served through this LU.
  b[5] = 0x10 | 0x08;
  b[6] = multiPort ? 0x10 : 0x00; // MULTIP
  b[7] = 0x02; // CMDQUE
  ascii(VENDOR, 8).copy(b, 8);
  ascii(PRODUCT, 16).copy(b, 16);
  ascii(lu?.config.revision ?? '0001', 4).copy(b, 32);
  // Version descriptors (SPC-4 Table 142): SAM-5, iSCSI, SPC-4, SBC-3.
  const versions = [0x00a0, 0x0960, 0x0460, 0x04c0];
  for (const [i, v] of versions.entries()) b.writeUInt16BE(v, 58 + 2 * i);
  return b;
}

function page(lu: LuView | undefined, code: number, body: Buffer): Buffer {
  const b = Buffer.alloc(4 + body.length);
  b[0] = lu ? 0x00 : NO_LU;
  b[1] = code;
  b.writeUInt16BE(body.length, 2);
  body.copy(b, 4);
  return b;
}

/** One designation descriptor (SPC-4 7.8.6.1). */
function designator(opts: {
  codeSet: number;
  type: number;
  association: number;
  piv?: boolean;
  body: Buffer;
}): Buffer {
  const d = Buffer.alloc(4 + opts.body.length);
  d[0] = ((opts.piv ? ProtocolIdentifier.ISCSI : 0) << 4) | opts.codeSet;
  d[1] = (opts.piv ? 0x80 : 0) | (opts.association << 4) | opts.type;
  d[3] = opts.body.length;
  opts.body.copy(d, 4);
  return d;
}

/** SCSI name strings are null-terminated UTF-8, padded to a multiple of 4 (SPC-4 7.8.6.11). */
function scsiName(name: string): Buffer {
  const raw = Buffer.from(name, 'utf8');
  const len = (raw.length + 4) & ~3;
  const b = Buffer.alloc(len);
  raw.copy(b);
  return b;
}

function deviceIdentification(lu: LuView, port: TargetPort): Buffer {
  const rel = Buffer.alloc(4);
  rel.writeUInt16BE(port.relativePortId, 2);
  const tpg = Buffer.alloc(4);
  tpg.writeUInt16BE(port.targetPortGroupId, 2);
  return Buffer.concat([
    // Logical unit: NAA and T10 vendor id. Identical through every port of every node.
    designator({ codeSet: 1, type: 3, association: 0, body: lu.naa }),
    designator({
      codeSet: 2,
      type: 1,
      association: 0,
      body: Buffer.concat([ascii(VENDOR, 8), Buffer.from(lu.serial, 'ascii')]),
    }),
    // Target port: the port the command arrived on (DESIGN.md Identity).
    designator({ codeSet: 1, type: 4, association: 1, piv: true, body: rel }),
    designator({ codeSet: 1, type: 5, association: 1, piv: true, body: tpg }),
    designator({ codeSet: 3, type: 8, association: 1, piv: true, body: scsiName(port.name) }),
    // Target device.
    designator({ codeSet: 3, type: 8, association: 2, piv: true, body: scsiName(port.targetName) }),
  ]);
}

function blockLimits(lu: LuView): Buffer {
  const b = Buffer.alloc(0x3c);
  const bs = lu.blockSize;
  // Offsets below are the page's (SBC-3 6.6.4, Table 172) minus its 4-byte header.
  // Byte 4: WSNZ = 0, a WRITE SAME of zero blocks runs to the last LBA.
  b[1] = Limits.maxCompareAndWriteBlocks;
  b.writeUInt16BE(Math.max(1, Limits.optimalGranularityBytes / bs), 2);
  b.writeUInt32BE(maxTransferBlocks(bs), 4);
  b.writeUInt32BE(Limits.optimalTransferBytes / bs, 8);
  b.writeUInt32BE(Limits.maxPrefetchBytes / bs, 12);
  if (lu.thin) {
    b.writeUInt32BE(Limits.maxUnmapBlocks, 16);
    b.writeUInt32BE(Limits.maxUnmapDescriptors, 20);
    // OPTIMAL UNMAP GRANULARITY: space is released in the device's units (file system
    // block, RAM page); UGAVALID with alignment 0: those units start at LBA 0.
    b.writeUInt32BE(Math.max(1, (lu.device.discardGranularity ?? bs) / bs), 24);
    b.writeUInt32BE(0x80000000, 28);
  }
  b.writeBigUInt64BE(BigInt(Limits.maxWriteSameBytes / bs), 32);
  return b;
}

function blockDeviceCharacteristics(): Buffer {
  const b = Buffer.alloc(0x3c);
  b.writeUInt16BE(0x0001, 0); // MEDIUM ROTATION RATE: non-rotating medium
  return b;
}

function logicalBlockProvisioning(lu: LuView): Buffer {
  // SBC-3 6.6.5: a thin LU unmaps through UNMAP (LBPU), WRITE SAME(16) and (10) (LBPWS,
  // LBPWS10); deallocated blocks read as zeroes (LBPRZ); no ANCHOR (ANC_SUP = 0), no
  // provisioning group descriptor (DP = 0), no thresholds (THRESHOLD EXPONENT = 0).
  const b = Buffer.alloc(4);
  if (!lu.thin) return b;
  b[1] = 0x80 | 0x40 | 0x20 | 0x04;
  b[2] = 0x02; // PROVISIONING TYPE: thin provisioned
  return b;
}

const SUPPORTED_VPD = [
  VpdPage.SUPPORTED_VPD_PAGES,
  VpdPage.UNIT_SERIAL_NUMBER,
  VpdPage.DEVICE_IDENTIFICATION,
  VpdPage.BLOCK_LIMITS,
  VpdPage.BLOCK_DEVICE_CHARACTERISTICS,
  VpdPage.LOGICAL_BLOCK_PROVISIONING,
];

interface InquiryCdb {
  evpd: boolean;
  pageCode: number;
  allocationLength: number;
}

export const inquiry = defineRow<InquiryCdb>({
  name: 'INQUIRY',
  opcode: Opcode.INQUIRY,
  cdbLength: 6,
  usage: usage(0x01, 0xff, 0xff, 0xff, 0x00),
  direction: 'in',
  noLun: true,
  skipsUnitAttention: true,
  parse(cdb) {
    const evpd = (cdb[1]! & 0x01) !== 0;
    const pageCode = cdb[2]!;
    // SPC-4 6.6.1: PAGE CODE must be zero when EVPD is zero.
    if (!evpd && pageCode !== 0) return invalidField(2);
    return { evpd, pageCode, allocationLength: cdb.readUInt16BE(3) };
  },
  execute(ctx, p) {
    const { lu } = ctx;
    if (!p.evpd) return { data: standardInquiry(lu, ctx.target.targetPortCount > 1) };
    if (!lu) return invalidField(2);
    switch (p.pageCode) {
      case VpdPage.SUPPORTED_VPD_PAGES:
        return { data: page(lu, p.pageCode, Buffer.from(SUPPORTED_VPD)) };
      case VpdPage.UNIT_SERIAL_NUMBER:
        return { data: page(lu, p.pageCode, Buffer.from(lu.serial, 'ascii')) };
      case VpdPage.DEVICE_IDENTIFICATION:
        return { data: page(lu, p.pageCode, deviceIdentification(lu, ctx.cmd.nexus.targetPort)) };
      case VpdPage.BLOCK_LIMITS:
        return { data: page(lu, p.pageCode, blockLimits(lu)) };
      case VpdPage.BLOCK_DEVICE_CHARACTERISTICS:
        return { data: page(lu, p.pageCode, blockDeviceCharacteristics()) };
      case VpdPage.LOGICAL_BLOCK_PROVISIONING:
        return { data: page(lu, p.pageCode, logicalBlockProvisioning(lu)) };
      default:
        return invalidField(2);
    }
  },
});
