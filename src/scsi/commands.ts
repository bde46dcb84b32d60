import { OpcodeTable } from './opcode-table.js';
import { compareAndWrite } from './sbc/compare-and-write.js';
import { getLbaStatus } from './sbc/get-lba-status.js';
import { orWrite16 } from './sbc/orwrite.js';
import { prefetch10, prefetch16 } from './sbc/prefetch.js';
import { readCapacity10, readCapacity16 } from './sbc/read-capacity.js';
import { readDefectData10, readDefectData12 } from './sbc/read-defect-data.js';
import { read6, read10, read12, read16, write6, write10, write12, write16 } from './sbc/read-write.js';
import { preventAllowMediumRemoval, startStopUnit } from './sbc/start-stop.js';
import { synchronizeCache10, synchronizeCache16, verify10, verify12, verify16 } from './sbc/sync-verify.js';
import { unmap } from './sbc/unmap.js';
import { writeSame10, writeSame16 } from './sbc/write-same.js';
import { writeAndVerify10, writeAndVerify12, writeAndVerify16 } from './sbc/write-verify.js';
import { reportLuns, requestSense, testUnitReady } from './spc/basic.js';
import {
  extendedCopy,
  receiveCopyData,
  receiveCopyFailureDetails,
  receiveCopyOperatingParameters,
  receiveCopyStatus,
} from './spc/extended-copy.js';
import { inquiry } from './spc/inquiry.js';
import { logSense } from './spc/log-sense.js';
import { modeSelect6, modeSelect10 } from './spc/mode-select.js';
import { modeSense6, modeSense10 } from './spc/mode-sense.js';
import { persistentReserveRows } from './spc/persistent-reserve.js';
import {
  reportSupportedOperationCodes,
  reportSupportedTaskManagementFunctions,
} from './spc/report-supported.js';
import { release6, release10, reserve6, reserve10 } from './spc/reserve-release.js';
import { reportTargetPortGroups } from './spc/rtpg.js';

/** Every command the engine supports: the single source for dispatch and RSOC. */
export function createOpcodeTable(): OpcodeTable {
  return new OpcodeTable([
    testUnitReady,
    requestSense,
    inquiry,
    reportLuns,
    reportSupportedOperationCodes,
    reportSupportedTaskManagementFunctions,
    reportTargetPortGroups,
    logSense,
    extendedCopy,
    receiveCopyStatus,
    receiveCopyData,
    receiveCopyOperatingParameters,
    receiveCopyFailureDetails,
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
    modeSelect6,
    modeSelect10,
    compareAndWrite,
    writeSame10,
    writeSame16,
    unmap,
    getLbaStatus,
    orWrite16,
    prefetch10,
    prefetch16,
    writeAndVerify10,
    writeAndVerify12,
    writeAndVerify16,
    readDefectData10,
    readDefectData12,
    startStopUnit,
    preventAllowMediumRemoval,
    ...persistentReserveRows,
    reserve6,
    release6,
    reserve10,
    release10,
  ]);
}
