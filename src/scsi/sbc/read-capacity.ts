import { invalidField, usage, writeU64 } from '../cdb.js';
import { defineRow } from '../opcode-table.js';
import { Opcode, ServiceAction } from '../spec/opcodes.js';

export const readCapacity10 = defineRow({
  name: 'READ CAPACITY(10)',
  opcode: Opcode.READ_CAPACITY_10,
  cdbLength: 10,
  usage: usage(0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x01, 0x00),
  direction: 'in',
  parse(cdb) {
    // SBC-3 5.16: with PMI = 0 the LOGICAL BLOCK ADDRESS field must be zero.
    if ((cdb[8]! & 0x01) === 0 && cdb.readUInt32BE(2) !== 0) return invalidField(2);
    return {};
  },
  execute(ctx) {
    const lu = ctx.lu!;
    const b = Buffer.alloc(8);
    const last = lu.blocks - 1;
    // RETURNED LOGICAL BLOCK ADDRESS saturates at FFFFFFFFh: use READ CAPACITY(16) (SBC-3 5.16).
    b.writeUInt32BE(Math.min(last, 0xffffffff), 0);
    b.writeUInt32BE(lu.blockSize, 4);
    return { data: b };
  },
});

export const readCapacity16 = defineRow<{ allocationLength: number }>({
  name: 'READ CAPACITY(16)',
  opcode: Opcode.SERVICE_ACTION_IN_16,
  serviceAction: ServiceAction.READ_CAPACITY_16,
  cdbLength: 16,
  usage: usage(0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00),
  direction: 'in',
  parse(cdb) {
    if ((cdb[14]! & 0x01) === 0 && (cdb.readUInt32BE(2) !== 0 || cdb.readUInt32BE(6) !== 0))
      return invalidField(2);
    return { allocationLength: cdb.readUInt32BE(10) };
  },
  execute(ctx) {
    const lu = ctx.lu!;
    const b = Buffer.alloc(32);
    writeU64(b, 0, lu.blocks - 1);
    b.writeUInt32BE(lu.blockSize, 8);
    // LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT stays 0: one logical block per physical
    // block. The 4 KiB alignment hint is OPTIMAL TRANSFER LENGTH GRANULARITY in VPD B0h;
    // an exponent > 0 makes GET LBA STATUS answers fail libiscsi's UnmapSingle, which
    // expects the first descriptor at STARTING LBA - 1 + 2^exponent (true only for 0).
    // SBC-3 5.16.2: LBPME (thin provisioning) and LBPRZ (a deallocated block reads as zeroes).
    // LOWEST ALIGNED LOGICAL BLOCK ADDRESS (bytes 14-15, bits 13:0) stays 0.
    if (lu.thin) b[14] = 0x80 | 0x40;
    return { data: b };
  },
});
