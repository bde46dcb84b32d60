import { invalidField, usage } from '../cdb.js';
import type { TargetPort } from '../command.js';
import {
  AsymmetricAccessState,
  defineRow,
  type ExecContext,
  type TargetPortGroupState,
} from '../opcode-table.js';
import { TargetPortGroupStatus } from '../spec/alua.js';
import { Opcode, ServiceAction } from '../spec/opcodes.js';

/**
 * REPORT TARGET PORT GROUPS (SPC-4 6.36). Every port of every node must give the same answer
 * (DESIGN.md, Roles and ALUA): the ports come from TargetView.targetPorts() and the states
 * from TargetView.targetPortGroupState(), both cluster-wide; the port a command arrived on
 * plays no part.
 */

/**
 * IMPLICIT TRANSITION TIME in seconds: how long an initiator should wait out Transitioning.
 * A role change takes a lease TTL and an election, a few seconds (DESIGN.md); never SPC-4's
 * "unspecified", which initiators read as 60 s or more.
 */
export const IMPLICIT_TRANSITION_SECONDS = 5;

/**
 * Supported-state bits (byte 1): T_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP — the states DESIGN.md
 * gives a port group (primary, forwarding peer, standby peer, out of sync, role change).
 */
const SUPPORTED_STATES = 0x80 | 0x08 | 0x04 | 0x02 | 0x01;

interface RtpgCdb {
  extended: boolean;
  allocationLength: number;
}

/** The ports to report. Without targetPorts(): 1..targetPortCount in the arrival port's group. */
function portsOf(ctx: ExecContext): readonly TargetPort[] {
  const listed = ctx.target.targetPorts?.();
  if (listed && listed.length > 0) return listed;
  const here = ctx.cmd.nexus.targetPort;
  const count = Math.max(1, ctx.target.targetPortCount);
  return Array.from({ length: count }, (_, i) => ({ ...here, relativePortId: i + 1 }));
}

function groupDescriptor(id: number, state: TargetPortGroupState, relativePortIds: number[]): Buffer {
  const b = Buffer.alloc(8 + 4 * relativePortIds.length);
  b[0] = (state.preferred ? 0x80 : 0) | state.state;
  b[1] = SUPPORTED_STATES;
  b.writeUInt16BE(id, 2);
  b[5] = state.statusCode ?? TargetPortGroupStatus.NO_STATUS;
  b[7] = relativePortIds.length;
  relativePortIds.forEach((rel, i) => {
    b.writeUInt16BE(rel, 8 + 4 * i + 2);
  });
  return b;
}

export function reportTargetPortGroupsData(ctx: ExecContext, extended: boolean): Buffer {
  const groups = new Map<number, number[]>();
  for (const p of portsOf(ctx)) {
    let ids = groups.get(p.targetPortGroupId);
    if (!ids) groups.set(p.targetPortGroupId, (ids = []));
    if (!ids.includes(p.relativePortId)) ids.push(p.relativePortId);
  }
  const descriptors = [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .map(([id, ports]) => {
      const state = ctx.target.targetPortGroupState?.(ctx.lu!, id) ?? {
        state: AsymmetricAccessState.ACTIVE_OPTIMIZED,
      };
      return groupDescriptor(
        id,
        state,
        ports.sort((a, b) => a - b),
      );
    });
  const body = Buffer.concat(descriptors);
  const head = Buffer.alloc(extended ? 8 : 4);
  // RETURN DATA LENGTH counts what follows it (SPC-4 6.36.2), extended header included.
  head.writeUInt32BE(head.length - 4 + body.length, 0);
  if (extended) {
    head[4] = 0x10; // FORMAT TYPE 001b
    head[5] = IMPLICIT_TRANSITION_SECONDS;
  }
  return Buffer.concat([head, body]);
}

export const reportTargetPortGroups = defineRow<RtpgCdb>({
  name: 'REPORT TARGET PORT GROUPS',
  opcode: Opcode.MAINTENANCE_IN,
  serviceAction: ServiceAction.REPORT_TARGET_PORT_GROUPS,
  cdbLength: 12,
  // Byte 1: PARAMETER DATA FORMAT (bits 7-5) and the service action.
  usage: usage(0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00),
  direction: 'in',
  timeout: { nominal: 1, recommended: 10 },
  parse(cdb) {
    const format = cdb[1]! >> 5;
    // 000b length only, 001b extended header; the rest are reserved (SPC-4 6.36.1).
    if (format > 1) return invalidField(1, 7);
    return { extended: format === 1, allocationLength: cdb.readUInt32BE(6) };
  },
  execute: (ctx, p) => ({ data: reportTargetPortGroupsData(ctx, p.extended) }),
});
