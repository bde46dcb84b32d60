import { reason, type SenseReason } from '../sense-reason.js';
import {
  type ParameterTransportId,
  type PrOutRequest,
  ProutServiceAction,
  type ProutServiceActionCode,
} from './prout.js';
import { keyFromBuffer, type NexusIdentity } from './state.js';
import { decodeTransportId } from './transport-id.js';

/** Longest PERSISTENT RESERVE OUT parameter list accepted (room for hundreds of TransportIDs). */
export const MAX_PROUT_PARAMETER_LIST = 65536;

/** The basic parameter list (SPC-4 6.16.3) and the REGISTER AND MOVE one (6.16.4) are 24 bytes. */
export const PROUT_BASIC_LENGTH = 24;

/** PERSISTENT RESERVE OUT CDB fields that the parameter list decoding needs. */
export interface ProutCdb {
  readonly serviceAction: ProutServiceActionCode;
  readonly scope: number;
  readonly type: number;
  readonly parameterListLength: number;
}

const lengthError = (): SenseReason => reason('PARAMETER_LIST_LENGTH_ERROR');
const invalidParam = (byte: number, bit?: number): SenseReason =>
  reason('INVALID_FIELD_IN_PARAMETER_LIST', {
    field: bit === undefined ? { inCdb: false, byte } : { inCdb: false, byte, bit },
  });

/** Decodes PERSISTENT RESERVE OUT parameter data into a request for the pure state machine. */
export function decodeProutParameters(
  cdb: ProutCdb,
  data: Buffer,
  nexus: NexusIdentity,
): PrOutRequest | SenseReason {
  const len = cdb.parameterListLength;
  if (len < PROUT_BASIC_LENGTH || data.length < len) return lengthError();
  const base = {
    serviceAction: cdb.serviceAction,
    nexus,
    scope: cdb.scope,
    type: cdb.type,
    key: keyFromBuffer(data, 0),
    serviceActionKey: keyFromBuffer(data, 8),
  };
  if (cdb.serviceAction === ProutServiceAction.REGISTER_AND_MOVE) {
    // SPC-4 6.16.4: UNREG, APTPL, RELATIVE TARGET PORT IDENTIFIER, one TransportID.
    const tidLength = data.readUInt32BE(20);
    if (PROUT_BASIC_LENGTH + tidLength > len) return lengthError();
    const d = decodeTransportId(data, PROUT_BASIC_LENGTH, PROUT_BASIC_LENGTH + tidLength);
    if ('error' in d) return invalidParam(d.byte, d.bit);
    return {
      ...base,
      specIPt: false,
      allTgPt: false,
      aptpl: (data[17]! & 0x01) !== 0,
      unreg: (data[17]! & 0x02) !== 0,
      relativePortId: data.readUInt16BE(18),
      transportIds: [{ ...d.tid, offset: PROUT_BASIC_LENGTH }],
    };
  }
  const specIPt = (data[20]! & 0x08) !== 0;
  const transportIds: ParameterTransportId[] = [];
  if (specIPt) {
    // SPC-4 6.16.3: SPEC_I_PT is for REGISTER only.
    if (cdb.serviceAction !== ProutServiceAction.REGISTER) return invalidParam(20, 3);
    if (len < PROUT_BASIC_LENGTH + 4) return lengthError();
    const tidLength = data.readUInt32BE(24);
    const end = PROUT_BASIC_LENGTH + 4 + tidLength;
    if (end !== len) return lengthError();
    for (let off = PROUT_BASIC_LENGTH + 4; off < end; ) {
      const d = decodeTransportId(data, off, end);
      if ('error' in d) return invalidParam(d.byte, d.bit);
      transportIds.push({ ...d.tid, offset: off });
      off += d.length;
    }
  } else if (len !== PROUT_BASIC_LENGTH) {
    return lengthError();
  }
  return {
    ...base,
    specIPt,
    // ALL_TG_PT and APTPL mean something for the register service actions only; elsewhere they
    // are ignored (SPC-4 6.16.3).
    allTgPt: (data[20]! & 0x04) !== 0,
    aptpl: (data[20]! & 0x01) !== 0,
    unreg: false,
    relativePortId: 0,
    transportIds,
  };
}
