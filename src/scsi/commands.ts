import { OpcodeTable } from './opcode-table.js';
import { readCapacity10, readCapacity16 } from './sbc/read-capacity.js';
import { read6, read10, read12, read16, write6, write10, write12, write16 } from './sbc/read-write.js';
import { synchronizeCache10, synchronizeCache16, verify10, verify12, verify16 } from './sbc/sync-verify.js';
import { reportLuns, requestSense, testUnitReady } from './spc/basic.js';
import { inquiry } from './spc/inquiry.js';
import { modeSense6, modeSense10 } from './spc/mode-sense.js';

/** Every command the engine supports: the single source for dispatch and RSOC. */
export function createOpcodeTable(): OpcodeTable {
  return new OpcodeTable([
    testUnitReady,
    requestSense,
    inquiry,
    reportLuns,
    modeSense6,
    modeSense10,
    readCapacity10,
    readCapacity16,
    read6,
    read10,
    read12,
    read16,
    write6,
    write10,
    write12,
    write16,
    synchronizeCache10,
    synchronizeCache16,
    verify10,
    verify12,
    verify16,
  ]);
}
