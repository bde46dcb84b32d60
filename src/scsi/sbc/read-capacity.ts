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
    b.writeUInt32BE(last > 0xffffffff ? 0xffffffff : last, 0);
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
    if ((cdb[14]! & 0x01) === 0 && (cdb.readUInt32BE(2) !== 0 || cdb.readUInt32BE(6) !== 0)) return invalidField(2);
    return { allocationLength: cdb.readUInt32BE(10) };
  },
  execute(ctx) {
    const lu = ctx.lu!;
    const b = Buffer.alloc(32);
    writeU64(b, 0, lu.blocks - 1);
    b.writeUInt32BE(lu.blockSize, 8);
    // LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT: a 4 KiB physical block for 512-byte LUs,
    // so initiators align their I/O to the page cache.
    b[13] = lu.blockSize < 4096 ? Math.log2(4096 / lu.blockSize) : 0;
    return { data: b };
  },
});
