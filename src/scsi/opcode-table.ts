import type { LbaRange } from './cdb.js';
import type { Completion, TargetPort, TransportCommand } from './command.js';
import type { LuView } from './lu-view.js';
import type { Medium } from './medium.js';
import type { SenseReason } from './sense-reason.js';
import type { AsymmetricAccessStateCode } from './spec/alua.js';

/** What a parser extracts from a CDB before anything touches the backstore. */
export interface ParsedCdb {
  /** Bytes of data-out the command transfers (0 or absent: none). */
  readonly dataOutLength?: number;
  /** For data-in commands with an ALLOCATION LENGTH field: the initiator's buffer size. */
  readonly allocationLength?: number;
}

/** The view of the target a handler may use (REPORT LUNS, VPD 83h). */
export interface TargetView {
  lunsFor(cmd: TransportCommand): number[];
  /** Logical units of this target by LUN (EXTENDED COPY between LUs). */
  logicalUnit(lun: number): LuView | undefined;
  /** How many target ports expose this target's LUs (INQUIRY MULTIP). */
  readonly targetPortCount: number;
  /** The table the dispatcher uses: REPORT SUPPORTED OPERATION CODES reports exactly it. */
  readonly opcodeTable?: OpcodeTable;
  /**
   * Every relative target port through which this target's LUs are reachable — every portal
   * of every node, each with its target port group (REPORT TARGET PORT GROUPS). The cluster
   * answers from etcd so that every port reports the same list. Absent: the ports are
   * numbered 1..targetPortCount in the group of the port the command arrived on (embedded).
   */
  targetPorts?(): readonly TargetPort[];
  /**
   * The asymmetric access state of a target port group for an LU (SPC-4 5.16.2.4), from the
   * ALUA source. Absent: every group is Active/Optimized (embedded mode: one node).
   */
  targetPortGroupState?(lu: LuView, groupId: number): TargetPortGroupState;
  /**
   * EXTENDED COPY's I/O on an LU of this target: a READ or WRITE run through the gate as a
   * command of the issuing I_T nexus (`parent`'s), unit attentions aside.
   */
  copyManagerIo?(
    parent: TransportCommand,
    lun: number,
    cdb: Buffer,
    io: { dataOut?: Buffer; readLength?: number },
  ): Promise<Completion>;
}

// Moved to spec/ (constants only); importable from here as before.
export { AsymmetricAccessState, type AsymmetricAccessStateCode } from './spec/alua.js';

export interface TargetPortGroupState {
  readonly state: AsymmetricAccessStateCode;
  /** PREF: the group is a preferred path for the LU. */
  readonly preferred?: boolean;
  /** STATUS CODE: 00h none, 01h changed by SET TARGET PORT GROUPS, 02h changed implicitly. */
  readonly statusCode?: number;
}

export interface ExecContext {
  readonly cmd: TransportCommand;
  /** Undefined only for rows marked `noLun`, when the addressed LUN does not exist. */
  readonly lu: LuView | undefined;
  readonly target: TargetView;
  /** The data-out the parser asked for, fully received. */
  readonly dataOut: Buffer;
  /** The only way to change the LU's medium: under the range lock the row's `writes` declares. */
  readonly medium: Medium;
}

/**
 * A handler's outcome: data-in (the gate applies the allocation length), a bare status
 * (RESERVATION CONFLICT, CONDITION MET), a sense reason (CHECK CONDITION), or nothing (GOOD).
 */
export type Outcome =
  | { data?: Buffer; status?: number; sense?: SenseReason; release?: () => void }
  | SenseReason
  | undefined;

export interface OpcodeRow<P extends ParsedCdb = ParsedCdb> {
  /** The standard's name, e.g. "READ(10)". */
  readonly name: string;
  readonly opcode: number;
  readonly serviceAction?: number;
  readonly cdbLength: number;
  /**
   * CDB usage data (SPC-4 6.35.3): for each CDB byte, the bits the device server examines.
   * Byte 0 is the opcode. A bit set outside this mask is INVALID FIELD IN CDB.
   */
  readonly usage: readonly number[];
  readonly direction: 'none' | 'in' | 'out';
  /** May run when the LUN does not exist (INQUIRY, REPORT LUNS, REQUEST SENSE). */
  readonly noLun?: boolean;
  /** Does not report or clear a pending unit attention (SAM-5 5.14: INQUIRY, REPORT LUNS). */
  readonly skipsUnitAttention?: boolean;
  /** Writes the medium: refused on a write-protected LU. Such a row declares `writes`. */
  readonly writesMedium?: boolean;
  /**
   * DESIGN.md safety rule 5, held by the gate: the LBA range the command changes, from the
   * parsed CDB. The gate holds the range lock over it while `execute` runs (a zero-block range
   * takes none), and ExecContext.medium refuses a change outside it. 'per-write': the ranges
   * are in the parameter list (UNMAP, EXTENDED COPY), and each change through the medium
   * takes the lock over its own range. Absent: the command changes no medium.
   */
  readonly writes?: ((parsed: P) => LbaRange) | 'per-write';
  /** Nominal and recommended command timeouts in seconds (SPC-4 6.35.4). */
  readonly timeout?: { nominal: number; recommended: number };
  parse(cdb: Buffer, lu: LuView | undefined): P | SenseReason;
  /**
   * When the initiator's EDTL is shorter than the data-out the CDB calls for, the command
   * runs on the first `bytes` only (FCP-4 9.4.2 a, which libiscsi applies to iSCSI): returns
   * the shortened command, or undefined when it cannot be shortened (then INVALID FIELD IN
   * COMMAND INFORMATION UNIT).
   */
  truncateDataOut?(parsed: P, bytes: number, lu: LuView): P | undefined;
  execute(ctx: ExecContext, parsed: P): Promise<Outcome> | Outcome;
}

/** Heterogeneous rows stored together; each row's parse and execute agree on P. */
// biome-ignore lint/suspicious/noExplicitAny: the table erases each row's parsed type on purpose
export type AnyOpcodeRow = OpcodeRow<any>;

/** Builds a typed row while keeping parse/execute consistent. */
export function defineRow<P extends ParsedCdb>(row: OpcodeRow<P>): OpcodeRow<P> {
  return row;
}

/**
 * The one table of supported commands. The dispatcher, REPORT SUPPORTED OPERATION CODES and
 * (later) the ALUA filter and the reservation check all read it.
 */
export class OpcodeTable {
  readonly #plain = new Map<number, AnyOpcodeRow>();
  readonly #withSa = new Map<number, Map<number, AnyOpcodeRow>>();

  constructor(rows: readonly AnyOpcodeRow[]) {
    for (const r of rows) {
      if (r.usage.length !== r.cdbLength) throw new Error(`${r.name}: usage has ${r.usage.length} bytes`);
      if (r.serviceAction === undefined) {
        if (this.#plain.has(r.opcode) || this.#withSa.has(r.opcode))
          throw new Error(`duplicate row ${r.name}`);
        this.#plain.set(r.opcode, r);
      } else {
        if (this.#plain.has(r.opcode)) throw new Error(`duplicate row ${r.name}`);
        let m = this.#withSa.get(r.opcode);
        if (!m) this.#withSa.set(r.opcode, (m = new Map()));
        if (m.has(r.serviceAction)) throw new Error(`duplicate row ${r.name}`);
        m.set(r.serviceAction, r);
      }
    }
  }

  /** The row for a CDB, or why there is none. */
  lookup(cdb: Buffer): AnyOpcodeRow | 'INVALID_COMMAND_OPERATION_CODE' | 'INVALID_FIELD_IN_CDB' {
    const op = cdb[0]!;
    const plain = this.#plain.get(op);
    if (plain) return plain;
    const bySa = this.#withSa.get(op);
    if (!bySa) return 'INVALID_COMMAND_OPERATION_CODE';
    const row = bySa.get(serviceActionOf(cdb));
    return row ?? 'INVALID_FIELD_IN_CDB';
  }

  rows(): AnyOpcodeRow[] {
    const out: AnyOpcodeRow[] = [...this.#plain.values()];
    for (const m of this.#withSa.values()) out.push(...m.values());
    return out.sort((a, b) => a.opcode - b.opcode || (a.serviceAction ?? 0) - (b.serviceAction ?? 0));
  }

  hasOpcode(opcode: number): boolean {
    return this.#plain.has(opcode) || this.#withSa.has(opcode);
  }

  row(opcode: number, serviceAction?: number): AnyOpcodeRow | undefined {
    if (serviceAction === undefined) return this.#plain.get(opcode);
    return this.#withSa.get(opcode)?.get(serviceAction);
  }

  usesServiceAction(opcode: number): boolean {
    return this.#withSa.has(opcode);
  }
}

/** Service action field: byte 1 bits 4-0 (SPC-4 4.2.5.2). */
export function serviceActionOf(cdb: Buffer): number {
  return cdb[1]! & 0x1f;
}
