import { invalidField, usage } from '../cdb.js';
import { defineRow } from '../opcode-table.js';
import { Opcode } from '../spec/opcodes.js';

interface ReadDefectDataCdb {
  readonly plist: boolean;
  readonly glist: boolean;
  readonly format: number;
  readonly allocationLength: number;
}

/** DEFECT LIST FORMAT 111b is reserved (SBC-3 6.2, Table 98); every address format is fine. */
const RESERVED_FORMAT = 0x7;

/**
 * READ DEFECT DATA(10/12) (SBC-3 5.14, 5.15): a virtual disk has no grown or primary defects.
 * Both lists are reported, valid and empty, in the format asked for (PLISTV/GLISTV say
 * which lists the data holds).
 */
export const readDefectData10 = defineRow<ReadDefectDataCdb>({
  name: 'READ DEFECT DATA(10)',
  opcode: Opcode.READ_DEFECT_DATA_10,
  cdbLength: 10,
  usage: usage(0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00),
  direction: 'in',
  parse(cdb) {
    const format = cdb[2]! & 0x07;
    if (format === RESERVED_FORMAT) return invalidField(2, 2);
    return {
      plist: (cdb[2]! & 0x10) !== 0,
      glist: (cdb[2]! & 0x08) !== 0,
      format,
      allocationLength: cdb.readUInt16BE(7),
    };
  },
  execute(_ctx, p) {
    const b = Buffer.alloc(4);
    b[1] = (p.plist ? 0x10 : 0) | (p.glist ? 0x08 : 0) | p.format;
    // DEFECT LIST LENGTH (bytes 2-3) = 0.
    return { data: b };
  },
});

export const readDefectData12 = defineRow<ReadDefectDataCdb>({
  name: 'READ DEFECT DATA(12)',
  opcode: Opcode.READ_DEFECT_DATA_12,
  cdbLength: 12,
  usage: usage(0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00),
  direction: 'in',
  parse(cdb) {
    const format = cdb[1]! & 0x07;
    if (format === RESERVED_FORMAT) return invalidField(1, 2);
    return {
      plist: (cdb[1]! & 0x10) !== 0,
      glist: (cdb[1]! & 0x08) !== 0,
      format,
      allocationLength: cdb.readUInt32BE(6),
    };
  },
  execute(_ctx, p) {
    const b = Buffer.alloc(8);
    b[1] = (p.plist ? 0x10 : 0) | (p.glist ? 0x08 : 0) | p.format;
    // GENERATION CODE (bytes 2-3) = 0: not reported; DEFECT LIST LENGTH (bytes 4-7) = 0.
    return { data: b };
  },
});
