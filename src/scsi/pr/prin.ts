import {
  FULL_CAPABILITIES,
  holderRegistration,
  isAllRegistrants,
  type PrCapabilities,
  type Registration,
  type ReservationState,
  registrationOf,
} from './state.js';
import { encodeTransportId } from './transport-id.js';

/** PERSISTENT RESERVE IN service actions (SPC-4 6.15.1 Table 162). */
export const PrinServiceAction = {
  READ_KEYS: 0x00,
  READ_RESERVATION: 0x01,
  REPORT_CAPABILITIES: 0x02,
  READ_FULL_STATUS: 0x03,
} as const;
export type PrinServiceActionCode = (typeof PrinServiceAction)[keyof typeof PrinServiceAction];

/**
 * What REPORT CAPABILITIES advertises (SPC-4 6.15.4). ALLOW COMMANDS 011b: TEST UNIT READY
 * passes Write Exclusive and Exclusive Access reservations, and the "read-like" commands of
 * SPC-4 Table 43 (MODE SENSE, READ BUFFER, RECEIVE COPY RESULTS, …) pass Write Exclusive.
 */
const ALLOW_COMMANDS = 0b011;

/** PERSISTENT RESERVATION TYPE MASK (SPC-4 Table 167): all six types. */
const TYPE_MASK_BYTE4 = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; // WR_EX_AR EX_AC_RO WR_EX_RO EX_AC WR_EX
const TYPE_MASK_BYTE5 = 0x01; // EX_AC_AR

/** The data-in of PERSISTENT RESERVE IN as a pure function of the state. */
export function persistentReserveIn(
  state: ReservationState,
  sa: PrinServiceActionCode,
  caps: PrCapabilities = FULL_CAPABILITIES,
): Buffer {
  switch (sa) {
    case PrinServiceAction.READ_KEYS:
      return readKeys(state);
    case PrinServiceAction.READ_RESERVATION:
      return readReservation(state);
    case PrinServiceAction.REPORT_CAPABILITIES:
      return reportCapabilities(state, caps);
    case PrinServiceAction.READ_FULL_STATUS:
      return readFullStatus(state);
  }
}

/** SPC-4 6.15.2: PRgeneration, ADDITIONAL LENGTH, one key per registration. */
function readKeys(state: ReservationState): Buffer {
  const b = Buffer.alloc(8 + 8 * state.registrations.length);
  b.writeUInt32BE(state.generation, 0);
  b.writeUInt32BE(8 * state.registrations.length, 4);
  state.registrations.forEach((r, i) => {
    b.write(r.key, 8 + 8 * i, 'hex');
  });
  return b;
}

/** SPC-4 6.15.3: the reservation key is zero for the all-registrants types. */
function readReservation(state: ReservationState): Buffer {
  const r = state.reservation;
  const b = Buffer.alloc(r ? 24 : 8);
  b.writeUInt32BE(state.generation, 0);
  if (!r) return b;
  b.writeUInt32BE(16, 4);
  const holder = holderRegistration(state);
  if (holder) b.write(holder.key, 8, 'hex');
  b[21] = (r.scope << 4) | r.type;
  return b;
}

function reportCapabilities(state: ReservationState, caps: PrCapabilities): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(8, 0);
  // CRH (SPC-4 5.13.3 exceptions honoured), SIP_C, ATP_C, PTPL_C.
  b[2] = 0x10 | 0x08 | 0x04 | (caps.persistThroughPowerLoss ? 0x01 : 0x00);
  // TMV (the type mask is valid), ALLOW COMMANDS, PTPL_A (APTPL currently active).
  b[3] = 0x80 | (ALLOW_COMMANDS << 4) | (state.aptpl ? 0x01 : 0x00);
  b[4] = TYPE_MASK_BYTE4;
  b[5] = TYPE_MASK_BYTE5;
  return b;
}

/** SPC-4 6.15.5: one full status descriptor per registration, with its TransportID. */
function readFullStatus(state: ReservationState): Buffer {
  const r = state.reservation;
  const allRegistrants = r !== null && isAllRegistrants(r.type);
  const holder = r && !allRegistrants ? registrationOf(state, r.holder) : undefined;
  const descriptors = state.registrations.map((reg: Registration) => {
    const tid = encodeTransportId(reg);
    const d = Buffer.alloc(24 + tid.length);
    d.write(reg.key, 0, 'hex');
    const rHolder = r !== null && (allRegistrants || reg === holder);
    d[12] = (reg.allTgPt ? 0x02 : 0x00) | (rHolder ? 0x01 : 0x00);
    if (rHolder) d[13] = (r.scope << 4) | r.type;
    d.writeUInt16BE(reg.relativePortId, 18);
    d.writeUInt32BE(tid.length, 20);
    tid.copy(d, 24);
    return d;
  });
  const body = Buffer.concat(descriptors);
  const b = Buffer.alloc(8 + body.length);
  b.writeUInt32BE(state.generation, 0);
  b.writeUInt32BE(body.length, 4);
  body.copy(b, 8);
  return b;
}
