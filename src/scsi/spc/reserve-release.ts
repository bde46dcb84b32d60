import { usage } from '../cdb.js';
import { defineRow, type OpcodeRow } from '../opcode-table.js';
import { Opcode } from '../spec/opcodes.js';
import { prOutcome } from './persistent-reserve.js';

/**
 * RESERVE(6/10) and RELEASE(6/10) (SPC-2 7.21, 7.17): whole-LU reservations of one I_T nexus.
 * Third-party reservations (3RDPTY, LONGID) and extents are not supported: those bits are outside
 * the usage masks and fail with INVALID FIELD IN CDB. Conflicts with persistent reservations
 * (SPC-4 5.13.3) are decided by the gate's table and by src/scsi/pr/spc2.ts.
 */
function row(name: string, opcode: number, cdbLength: 6 | 10, reserve: boolean): OpcodeRow {
  return defineRow({
    name,
    opcode,
    cdbLength,
    usage: cdbLength === 6 ? usage(0, 0, 0, 0, 0) : usage(0, 0, 0, 0, 0, 0, 0, 0, 0),
    direction: 'none',
    timeout: { nominal: 1, recommended: 5 },
    parse: () => ({}),
    async execute(ctx) {
      const r = ctx.lu!.reservations;
      return prOutcome(await (reserve ? r.reserve(ctx.cmd.nexus) : r.release(ctx.cmd.nexus)));
    },
  });
}

export const reserve6 = row('RESERVE(6)', Opcode.RESERVE_6, 6, true);
export const release6 = row('RELEASE(6)', Opcode.RELEASE_6, 6, false);
export const reserve10 = row('RESERVE(10)', Opcode.RESERVE_10, 10, true);
export const release10 = row('RELEASE(10)', Opcode.RELEASE_10, 10, false);
