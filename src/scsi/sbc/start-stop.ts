import { invalidField, usage } from '../cdb.js';
import { defineRow, type ParsedCdb } from '../opcode-table.js';
import { Opcode } from '../spec/opcodes.js';

interface StartStopCdb extends ParsedCdb {
  readonly powerCondition: number;
  readonly noFlush: boolean;
  readonly loej: boolean;
  readonly start: boolean;
}

/**
 * POWER CONDITION values SBC-3 5.25 (Table 70) defines: START_VALID, ACTIVE, IDLE, STANDBY,
 * LU_CONTROL, FORCE_IDLE_0, FORCE_STANDBY_0; the rest are reserved (5h obsolete).
 */
const POWER_CONDITIONS = new Set([0x0, 0x1, 0x2, 0x3, 0x7, 0xa, 0xb]);

/**
 * START STOP UNIT (SBC-3 5.25). The LU is a non-removable disk (INQUIRY RMB = 0): LOEJ asks
 * to load or eject a medium it does not have, so it is refused. A stop flushes the cache
 * (unless NO_FLUSH) and leaves the LU ready: a virtual disk has no spindle to stop, and a
 * stopped state would only turn I/O from every other initiator into NOT READY. Power
 * condition requests are accepted and change nothing (there is no power to save).
 */
export const startStopUnit = defineRow<StartStopCdb>({
  name: 'START STOP UNIT',
  opcode: Opcode.START_STOP_UNIT,
  cdbLength: 6,
  usage: usage(0x01, 0x00, 0x0f, 0xf7, 0x00),
  direction: 'none',
  timeout: { nominal: 5, recommended: 60 },
  parse(cdb) {
    const powerCondition = cdb[4]! >> 4;
    if (!POWER_CONDITIONS.has(powerCondition)) return invalidField(4, 7);
    const loej = (cdb[4]! & 0x02) !== 0;
    // SBC-3 5.25: with a POWER CONDITION other than START_VALID, START and LOEJ are ignored.
    if (powerCondition === 0 && loej) return invalidField(4, 1);
    return { powerCondition, noFlush: (cdb[4]! & 0x04) !== 0, loej, start: (cdb[4]! & 0x01) !== 0 };
  },
  async execute(ctx, p) {
    if (p.powerCondition === 0 && !p.start && !p.noFlush) await ctx.lu!.device.flush();
    return undefined;
  },
});

interface PreventAllowCdb extends ParsedCdb {
  readonly prevent: boolean;
}

/**
 * PREVENT ALLOW MEDIUM REMOVAL (SBC-3 5.13): PREVENT 01b prevents, 00b allows; the medium
 * changer values (1xb) need a medium changer, which a disk is not. The prevent is held per
 * I_T nexus (LuView.preventRemoval) and ends with ALLOW, the nexus, or a reset.
 */
export const preventAllowMediumRemoval = defineRow<PreventAllowCdb>({
  name: 'PREVENT ALLOW MEDIUM REMOVAL',
  opcode: Opcode.PREVENT_ALLOW_MEDIUM_REMOVAL,
  cdbLength: 6,
  usage: usage(0x00, 0x00, 0x00, 0x03, 0x00),
  direction: 'none',
  parse(cdb) {
    if ((cdb[4]! & 0x02) !== 0) return invalidField(4, 1);
    return { prevent: (cdb[4]! & 0x01) !== 0 };
  },
  execute(ctx, p) {
    const lu = ctx.lu!;
    if (p.prevent) lu.preventRemoval.add(ctx.cmd.nexus.id);
    else lu.preventRemoval.delete(ctx.cmd.nexus.id);
    return undefined;
  },
});
