// An independent iSCSI initiator for tests, written from RFC 7143. One instance is one TCP
// connection (one session unless tsih/cid are given). It checks what the target sends and keeps
// every protocol violation it sees in `violations`; those that belong to one SCSI task also
// reject that task's promise with ProtocolViolationError.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { parseSense, type SenseData, Status } from '../wire.js';
import { CHAP_MD5, chapResponse, decodeChapBinary, encodeChapBinary, newChapChallenge } from './chap.js';
import {
  ConnectionClosedError,
  InitiatorError,
  LoginError,
  LoginProtocolError,
  ProtocolError,
  ProtocolViolationError,
  RejectedError,
  TaskAbortedError,
  TimeoutError,
} from './errors.js';
import {
  type AsyncMessagePdu,
  buildDataOut,
  buildLoginRequest,
  buildLogoutRequest,
  buildNopOut,
  buildScsiCommand,
  buildTextRequest,
  buildTmfRequest,
  type DataInPdu,
  decodeTargetPdu,
  encodePdu,
  type FramingOptions,
  type LoginResponsePdu,
  type NopInPdu,
  Opcode,
  type OutgoingPdu,
  type R2tPdu,
  RESERVED_TAG,
  type RejectPdu,
  type ScsiResponsePdu,
  Stage,
  snAdd,
  snLt,
  snLte,
  type TargetPdu,
  type TaskAttributeName,
  type TmfFunctionName,
  TmfResponse,
} from './pdu.js';
import { PduReader } from './pdu-reader.js';
import {
  answerOffer,
  DECLARATIVE_KEYS,
  decodeTextKeys,
  encodeTextKeys,
  judgeAnswer,
  type KeyValuePairs,
  OPERATIONAL_KEYS,
  parseNumber,
} from './text-keys.js';

export type DigestChoice = 'None' | 'CRC32C' | 'CRC32C,None' | 'None,CRC32C';

export interface ChapCredentials {
  user: string;
  secret: string;
  /** Mutual CHAP: the target must prove it knows this secret under this name. */
  mutual?: { user: string; secret: string };
}

/**
 * Checks a test may switch off for a target known to deviate (each names the rule it relaxes):
 * - ExpDataSN: SCSI Response ExpDataSN = number of R2T and Data-In PDUs (RFC 7143 11.4.8).
 */
export type RelaxedCheck = 'ExpDataSN';

export interface ConnectOptions {
  host: string;
  port: number;
  initiatorName: string;
  sessionType: 'Normal' | 'Discovery';
  targetName?: string;
  /** 6 bytes, or 12 hex digits. Default: a random ISID of type 2 (RFC 7143 11.12.5). */
  isid?: Buffer | string;
  /** Non-zero to add a connection to (or reinstate) an existing session. */
  tsih?: number;
  cid?: number;
  headerDigest?: DigestChoice;
  dataDigest?: DigestChoice;
  /** Overrides or extra keys offered in the operational phase; null withdraws a default offer. */
  params?: Record<string, string | null>;
  chap?: ChapCredentials;
  /** Start the login in the operational stage (CSG=1), offering no AuthMethod. */
  skipSecurityPhase?: boolean;
  /** Per-request timeout (default 30 s); also bounds the whole login. */
  timeoutMs?: number;
  initialCmdSN?: number;
  relax?: readonly RelaxedCheck[];
}

/** Session parameters in force after login, typed (RFC 7143 13). */
export interface SessionParams {
  headerDigest: boolean;
  dataDigest: boolean;
  /** What we declared: the largest data segment the target may send us. */
  initiatorMaxRecvDataSegmentLength: number;
  /** What the target declared (8192 if it did not): the largest data segment we may send. */
  targetMaxRecvDataSegmentLength: number;
  maxBurstLength: number;
  firstBurstLength: number;
  initialR2T: boolean;
  immediateData: boolean;
  maxOutstandingR2T: number;
  dataPduInOrder: boolean;
  dataSequenceInOrder: boolean;
  defaultTime2Wait: number;
  defaultTime2Retain: number;
  maxConnections: number;
  errorRecoveryLevel: number;
}

export interface ScsiOptions {
  dataOut?: Buffer;
  /** Setting it (even to 0) sets the R bit; it is the read buffer size. */
  expectedDataIn?: number;
  /** Overrides the Expected Data Transfer Length written in the BHS. */
  expectedLength?: number;
  attribute?: TaskAttributeName;
  /** The I bit: deliver out of CmdSN order. */
  immediate?: boolean;
  /** Send immediate data (default: as negotiated). */
  immediateData?: boolean;
  /** Send unsolicited Data-Out (default: when InitialR2T=No was negotiated). */
  unsolicitedDataOut?: boolean;
  timeoutMs?: number;
}

export interface ScsiResult {
  itt: number;
  status: number;
  /** iSCSI Response field of the SCSI Response (0 = command completed at target). */
  response: number;
  sense?: SenseData;
  data: Buffer;
  residualOverflow: boolean;
  residualUnderflow: boolean;
  residualCount: number;
  bidiResidualOverflow: boolean;
  bidiResidualUnderflow: boolean;
  bidiResidualCount: number;
  /** True when the status came in the last Data-In (S bit) instead of a SCSI Response. */
  statusInDataIn: boolean;
  dataInPdus: number;
  r2ts: number;
  dataOutPdus: number;
}

export interface LogoutResult {
  response: number;
  time2Wait: number;
  time2Retain: number;
}

export interface TargetEntry {
  targetName: string;
  addresses: string[];
}

export interface CloseInfo {
  /**
   * logout: after a successful Logout Response; local: close() was called; error: a protocol
   * error, digest error or socket error (see `error`); peer: the target closed without logout.
   */
  reason: 'logout' | 'local' | 'error' | 'peer';
  /** The error that ended the connection, if any. */
  error?: Error;
  /** Logout completed before the close. */
  loggedOut: boolean;
}

export type InitiatorEvents = {
  reject: [RejectPdu];
  asyncMessage: [AsyncMessagePdu];
  violation: [string];
  pdu: [TargetPdu];
  nopInPing: [NopInPdu];
};

interface Task {
  readonly itt: number;
  readonly lun: number;
  readonly what: string;
  cmdSN?: number;
  scsi?: ScsiTask;
  queued?: QueueEntry;
  onPdu(pdu: TargetPdu): void;
  fail(err: Error): void;
}

interface QueueEntry {
  cancelled: boolean;
  send(cmdSN: number): void;
}

interface ScsiTask {
  dataOut?: Buffer;
  dataOutLength: number;
  readBuf?: Buffer;
  received: number;
  highWater: number;
  expectedDataSN: number;
  expectedR2TSN: number;
  dataInPdus: number;
  r2ts: number;
  dataOutPdus: number;
  violations: string[];
}

interface Waiter {
  pred(pdu: TargetPdu): boolean;
  resolve(pdu: TargetPdu): void;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** RFC 7143 13.12: the limit for every PDU until MaxRecvDataSegmentLength is declared. */
const LOGIN_MAX_SEGMENT = 8192;
const MAX_LOGIN_ROUNDS = 16;
const RETIRED_LIMIT = 4096;

const TERMINAL_REJECT_OPCODES = new Set<number>([
  Opcode.ScsiCommand,
  Opcode.TaskMgmtRequest,
  Opcode.TextRequest,
  Opcode.NopOut,
  Opcode.LogoutRequest,
  Opcode.DataOut,
]);

type PduOf<K extends TargetPdu['kind']> = Extract<TargetPdu, { kind: K }>;

export class IscsiInitiator extends EventEmitter<InitiatorEvents> {
  readonly socket: net.Socket;
  readonly isid: Buffer;
  readonly cid: number;
  /** Keys in force after login: our negotiated results plus the target's declarations. */
  readonly negotiated = new Map<string, string>();
  /** Every key=value the target sent during login, in order. */
  readonly targetLoginKeys: KeyValuePairs = [];
  readonly violations: string[] = [];
  readonly rejects: RejectPdu[] = [];
  readonly asyncMessages: AsyncMessagePdu[] = [];
  readonly closed: Promise<CloseInfo>;
  /** Set false to stop answering target pings (to test the target's NOP timeout). */
  answerNopIn = true;
  tsih = 0;
  loginStatus = { statusClass: -1, statusDetail: -1 };

  readonly #opts: ConnectOptions;
  readonly #timeoutMs: number;
  readonly #reader: PduReader;
  readonly #tasks = new Map<number, Task>();
  readonly #retired = new Set<number>();
  readonly #timers = new Map<number, NodeJS.Timeout>();
  readonly #queue: QueueEntry[] = [];
  readonly #waiters: Waiter[] = [];
  #digests = { header: false, data: false };
  #params: SessionParams | undefined;
  #itt = 0;
  #cmdSN: number;
  #expCmdSN: number;
  #maxCmdSN: number;
  #expStatSN = 0;
  #statSNKnown = false;
  #nopInPings = 0;
  #nopInUnsolicited = 0;
  #fatalError: Error | undefined;
  #loggedOut = false;
  #isClosed = false;
  #closedLocally = false;

  private constructor(socket: net.Socket, opts: ConnectOptions) {
    super();
    this.socket = socket;
    this.#opts = opts;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.isid = normaliseIsid(opts.isid);
    this.cid = opts.cid ?? 0;
    this.#cmdSN = (opts.initialCmdSN ?? 1) >>> 0;
    this.#expCmdSN = this.#cmdSN;
    this.#maxCmdSN = this.#cmdSN;
    this.#reader = new PduReader(() => this.#digests);
    this.closed = new Promise<CloseInfo>((resolve) => {
      socket.once('close', () => {
        this.#isClosed = true;
        const err = this.#fatalError ?? new ConnectionClosedError('connection closed');
        this.#failAll(err);
        for (const t of this.#timers.values()) clearTimeout(t);
        this.#timers.clear();
        const reason = this.#fatalError
          ? 'error'
          : this.#loggedOut
            ? 'logout'
            : this.#closedLocally
              ? 'local'
              : 'peer';
        resolve({ reason, error: this.#fatalError, loggedOut: this.#loggedOut });
      });
    });
    socket.on('error', (err) => {
      this.#fatalError ??= new ConnectionClosedError(`socket error: ${err.message}`, { cause: err });
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
  }

  /** Opens the TCP connection and logs in; throws LoginError on a failed login status. */
  static async connect(opts: ConnectOptions): Promise<IscsiInitiator> {
    const socket = net.connect({ host: opts.host, port: opts.port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new TimeoutError(`TCP connect to ${opts.host}:${opts.port}`, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS),
        );
      }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(
          new ConnectionClosedError(`connect to ${opts.host}:${opts.port} failed: ${err.message}`, {
            cause: err,
          }),
        );
      });
    });
    const init = new IscsiInitiator(socket, opts);
    try {
      await init.#login();
    } catch (err) {
      init.close();
      await init.closed;
      throw err;
    }
    return init;
  }

  // -------------------------------------------------------------------------------------------
  // Accessors

  get params(): Readonly<SessionParams> {
    if (!this.#params) throw new InitiatorError('not logged in');
    return this.#params;
  }
  /** The CmdSN the next non-immediate command will carry. */
  get cmdSN(): number {
    return this.#cmdSN;
  }
  get expCmdSN(): number {
    return this.#expCmdSN;
  }
  get maxCmdSN(): number {
    return this.#maxCmdSN;
  }
  get expStatSN(): number {
    return this.#expStatSN;
  }
  /** Target-initiated NOP-In pings (valid TTT) received. */
  get nopInPings(): number {
    return this.#nopInPings;
  }
  /** NOP-Ins with ITT and TTT both reserved (no answer wanted). */
  get nopInUnsolicited(): number {
    return this.#nopInUnsolicited;
  }
  get pendingTasks(): number {
    return this.#tasks.size;
  }
  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** A fresh Initiator Task Tag, never the reserved value, never one in use. */
  nextItt(): number {
    do {
      this.#itt = (this.#itt + 1) >>> 0;
    } while (this.#itt === RESERVED_TAG || this.#tasks.has(this.#itt));
    return this.#itt;
  }

  /** Takes the next CmdSN for a hand-built non-immediate PDU (do not mix with queued commands). */
  allocCmdSN(): number {
    const sn = this.#cmdSN;
    this.#cmdSN = snAdd(sn, 1);
    return sn;
  }

  // -------------------------------------------------------------------------------------------
  // Raw access for protocol tests

  sendRaw(buf: Buffer): void {
    this.#write(buf);
  }

  /** Frames with the connection's digests unless `framing` says otherwise. */
  sendPdu(pdu: OutgoingPdu, framing?: FramingOptions): void {
    this.#write(
      encodePdu(pdu, {
        headerDigest: this.#digests.header,
        dataDigest: this.#digests.data,
        ...framing,
      }),
    );
  }

  /** Resolves with the first received PDU matching `pred`; that PDU is not dispatched further. */
  waitForPdu(pred: (pdu: TargetPdu) => boolean, timeoutMs = this.#timeoutMs): Promise<TargetPdu> {
    const promise = new Promise<TargetPdu>((resolve, reject) => {
      const waiter: Waiter = {
        pred,
        resolve: (pdu) => {
          clearTimeout(timer);
          resolve(pdu);
        },
      };
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new TimeoutError('waitForPdu', timeoutMs));
      }, timeoutMs);
      this.#waiters.push(waiter);
      void this.closed.then(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i < 0) return;
        this.#waiters.splice(i, 1);
        clearTimeout(timer);
        reject(this.#fatalError ?? new ConnectionClosedError('connection closed'));
      });
    });
    return observed(promise);
  }

  // -------------------------------------------------------------------------------------------
  // SCSI

  scsi(lun: number, cdb: Buffer, opts: ScsiOptions = {}): Promise<ScsiResult> {
    if (!this.#params) return Promise.reject(new InitiatorError('scsi() before login completed'));
    const itt = this.nextItt();
    const dataOut = opts.dataOut;
    const read = opts.expectedDataIn !== undefined;
    const write = dataOut !== undefined;
    const bidi = read && write;
    const edtl = opts.expectedLength ?? (write ? dataOut.length : (opts.expectedDataIn ?? 0));
    const readLength = bidi ? opts.expectedDataIn! : read ? edtl : 0;
    const st: ScsiTask = {
      dataOut,
      dataOutLength: write ? Math.min(dataOut.length, edtl) : 0,
      readBuf: read ? Buffer.alloc(readLength) : undefined,
      received: 0,
      highWater: 0,
      expectedDataSN: 0,
      expectedR2TSN: 0,
      dataInPdus: 0,
      r2ts: 0,
      dataOutPdus: 0,
      violations: [],
    };
    const promise = new Promise<ScsiResult>((resolve, reject) => {
      const task: Task = {
        itt,
        lun,
        what: `SCSI 0x${cdb[0]!.toString(16)}`,
        scsi: st,
        onPdu: (pdu) => this.#onScsiPdu(task, st, pdu, resolve, reject),
        fail: reject,
      };
      this.#register(task, opts.timeoutMs);
      this.#submit(task, opts.immediate ?? false, (cmdSN) => {
        const p = this.params;
        const total = st.dataOutLength;
        const useImmediate = opts.immediateData ?? p.immediateData;
        const useUnsolicited = opts.unsolicitedDataOut ?? !p.initialR2T;
        const immLen = useImmediate
          ? Math.min(total, p.firstBurstLength, p.targetMaxRecvDataSegmentLength)
          : 0;
        const unsolicitedEnd = useUnsolicited ? Math.min(total, p.firstBurstLength) : immLen;
        const pdus: OutgoingPdu[] = [
          buildScsiCommand({
            lun,
            itt,
            cmdSN,
            expStatSN: this.#expStatSN,
            cdb,
            expectedDataTransferLength: edtl,
            read,
            write,
            final: unsolicitedEnd <= immLen,
            attribute: opts.attribute,
            immediate: opts.immediate,
            bidiReadLength: bidi ? readLength : undefined,
            data: immLen > 0 ? dataOut!.subarray(0, immLen) : undefined,
          }),
        ];
        if (unsolicitedEnd > immLen)
          pdus.push(...this.#dataOutPdus(task, st, RESERVED_TAG, immLen, unsolicitedEnd));
        this.#writePdus(pdus);
      });
    });
    return observed(promise);
  }

  #onScsiPdu(
    task: Task,
    st: ScsiTask,
    pdu: TargetPdu,
    resolve: (r: ScsiResult) => void,
    reject: (e: Error) => void,
  ): void {
    switch (pdu.kind) {
      case 'DataIn':
        this.#onDataIn(task, st, pdu);
        if (pdu.hasStatus) this.#finishScsi(task, st, pdu, resolve, reject);
        return;
      case 'R2T':
        this.#onR2T(task, st, pdu);
        return;
      case 'ScsiResponse':
        this.#finishScsi(task, st, pdu, resolve, reject);
        return;
      default:
        st.violations.push(`unexpected ${pdu.kind} for a SCSI task`);
    }
  }

  #onDataIn(task: Task, st: ScsiTask, pdu: DataInPdu): void {
    st.dataInPdus++;
    if (pdu.dataSN !== st.expectedDataSN)
      st.violations.push(`Data-In DataSN ${pdu.dataSN}, expected ${st.expectedDataSN}`);
    st.expectedDataSN = snAdd(pdu.dataSN, 1);
    if (pdu.hasStatus && !pdu.final) st.violations.push('Data-In with S bit but without F bit');
    const p = this.params;
    if (pdu.data.length > p.initiatorMaxRecvDataSegmentLength) {
      st.violations.push(
        `Data-In segment ${pdu.data.length} exceeds our MaxRecvDataSegmentLength ${p.initiatorMaxRecvDataSegmentLength}`,
      );
    }
    if (!st.readBuf) {
      if (pdu.data.length > 0)
        st.violations.push(
          `Data-In with ${pdu.data.length} bytes for task 0x${task.itt.toString(16)} without read data`,
        );
      return;
    }
    if (
      p.dataPduInOrder &&
      p.dataSequenceInOrder &&
      pdu.data.length > 0 &&
      pdu.bufferOffset !== st.received
    ) {
      st.violations.push(
        `Data-In BufferOffset ${pdu.bufferOffset}, expected ${st.received} (DataPDUInOrder=Yes)`,
      );
    }
    const end = pdu.bufferOffset + pdu.data.length;
    if (end > st.readBuf.length) {
      st.violations.push(
        `Data-In [${pdu.bufferOffset}, ${end}) beyond the expected length ${st.readBuf.length}`,
      );
    }
    if (pdu.bufferOffset < st.readBuf.length) pdu.data.copy(st.readBuf, pdu.bufferOffset);
    st.received += pdu.data.length;
    st.highWater = Math.max(st.highWater, Math.min(end, st.readBuf.length));
  }

  #onR2T(task: Task, st: ScsiTask, pdu: R2tPdu): void {
    st.r2ts++;
    if (pdu.r2tSN !== st.expectedR2TSN)
      st.violations.push(`R2TSN ${pdu.r2tSN}, expected ${st.expectedR2TSN}`);
    st.expectedR2TSN = snAdd(pdu.r2tSN, 1);
    const p = this.params;
    if (pdu.desiredLength === 0) st.violations.push('R2T with Desired Data Transfer Length 0');
    if (pdu.desiredLength > p.maxBurstLength) {
      st.violations.push(
        `R2T desires ${pdu.desiredLength} bytes, more than MaxBurstLength ${p.maxBurstLength}`,
      );
    }
    if (pdu.ttt === RESERVED_TAG) st.violations.push('R2T with the reserved Target Transfer Tag');
    if (!st.dataOut) {
      st.violations.push('R2T for a command without Data-Out');
      return;
    }
    const end = pdu.bufferOffset + pdu.desiredLength;
    if (end > st.dataOutLength) {
      st.violations.push(`R2T [${pdu.bufferOffset}, ${end}) beyond the expected length ${st.dataOutLength}`);
    }
    this.#writePdus(this.#dataOutPdus(task, st, pdu.ttt, pdu.bufferOffset, Math.min(end, st.dataOutLength)));
  }

  /** One sequence of Data-Out PDUs for [from, to), each within the target's MaxRecvDataSegmentLength. */
  #dataOutPdus(task: Task, st: ScsiTask, ttt: number, from: number, to: number): OutgoingPdu[] {
    const max = this.params.targetMaxRecvDataSegmentLength;
    const out: OutgoingPdu[] = [];
    let dataSN = 0;
    for (let off = from; off < to; off += max) {
      const end = Math.min(to, off + max);
      out.push(
        buildDataOut({
          lun: task.lun,
          itt: task.itt,
          ttt,
          expStatSN: this.#expStatSN,
          dataSN: dataSN++,
          bufferOffset: off,
          final: end === to,
          data: st.dataOut!.subarray(off, end),
        }),
      );
    }
    st.dataOutPdus += out.length;
    return out;
  }

  #finishScsi(
    task: Task,
    st: ScsiTask,
    pdu: DataInPdu | ScsiResponsePdu,
    resolve: (r: ScsiResult) => void,
    reject: (e: Error) => void,
  ): void {
    this.#complete(task.itt);
    const isResp = pdu.kind === 'ScsiResponse';
    let sense: SenseData | undefined;
    if (isResp) {
      if (
        !this.#relaxed('ExpDataSN') &&
        pdu.response === 0 &&
        pdu.expDataSN !== (st.dataInPdus + st.r2ts) >>> 0
      ) {
        st.violations.push(`SCSI Response ExpDataSN ${pdu.expDataSN}, expected ${st.dataInPdus + st.r2ts}`);
      }
      if (pdu.senseData.length > 0) {
        sense = parseSense(pdu.senseData);
        if (!sense)
          st.violations.push(`unparsable sense data (response code 0x${pdu.senseData[0]!.toString(16)})`);
      } else if (pdu.status === Status.CHECK_CONDITION) {
        st.violations.push('CHECK CONDITION without sense data (RFC 7143 11.4.7.2 autosense)');
      }
    }
    if (pdu.overflow && pdu.underflow) st.violations.push('both residual overflow and underflow set');
    if (st.violations.length > 0) {
      for (const v of st.violations) this.#violation(`task 0x${task.itt.toString(16)} (${task.what}): ${v}`);
      reject(new ProtocolViolationError(task.itt, st.violations));
      return;
    }
    resolve({
      itt: task.itt,
      status: pdu.status,
      response: isResp ? pdu.response : 0,
      sense,
      data: st.readBuf ? st.readBuf.subarray(0, st.highWater) : Buffer.alloc(0),
      residualOverflow: pdu.overflow,
      residualUnderflow: pdu.underflow,
      residualCount: pdu.residualCount,
      bidiResidualOverflow: isResp ? pdu.bidiOverflow : false,
      bidiResidualUnderflow: isResp ? pdu.bidiUnderflow : false,
      bidiResidualCount: isResp ? pdu.bidiResidualCount : 0,
      statusInDataIn: !isResp,
      dataInPdus: st.dataInPdus,
      r2ts: st.r2ts,
      dataOutPdus: st.dataOutPdus,
    });
  }

  // -------------------------------------------------------------------------------------------
  // Task management, NOP, Text, Logout

  /**
   * Sends a task management request (immediate) and returns the TMF response code. On FUNCTION
   * COMPLETE the affected tasks still pending here are rejected with TaskAbortedError, since the
   * target will not answer them (RFC 7143 4.2.3.3).
   */
  async tmf(
    fn: TmfFunctionName,
    lun: number,
    refItt?: number,
    opts: { immediate?: boolean; timeoutMs?: number } = {},
  ): Promise<number> {
    const ref = refItt === undefined ? undefined : this.#tasks.get(refItt);
    const affected = [...this.#tasks.values()].filter((t) => {
      if (!t.scsi) return false;
      switch (fn) {
        case 'ABORT_TASK':
          return t.itt === refItt;
        case 'ABORT_TASK_SET':
        case 'CLEAR_TASK_SET':
        case 'LUN_RESET':
          return t.lun === lun;
        case 'TARGET_WARM_RESET':
        case 'TARGET_COLD_RESET':
          return true;
        default:
          return false;
      }
    });
    const itt = this.nextItt();
    const immediate = opts.immediate ?? true;
    const req = { immediate, timeoutMs: opts.timeoutMs };
    const resp = await this.#request<'TmfResponse'>(itt, lun, 'TmfResponse', `TMF ${fn}`, req, (cmdSN) =>
      buildTmfRequest({
        fn,
        lun,
        itt,
        referencedTaskTag: refItt,
        cmdSN,
        expStatSN: this.#expStatSN,
        refCmdSN: ref?.cmdSN ?? cmdSN,
        immediate,
      }),
    );
    if (resp.response === TmfResponse.FUNCTION_COMPLETE) {
      for (const t of affected) {
        if (this.#tasks.get(t.itt) !== t) continue;
        this.#complete(t.itt, true);
        t.fail(new TaskAbortedError(t.itt, fn));
      }
    }
    return resp.response;
  }

  /** NOP-Out ping (ITT valid, TTT reserved); resolves with the NOP-In's data. */
  async nop(
    data?: Buffer,
    opts: { immediate?: boolean; lun?: number; timeoutMs?: number } = {},
  ): Promise<Buffer> {
    const itt = this.nextItt();
    const lun = opts.lun ?? 0;
    const immediate = opts.immediate ?? true;
    const req = { immediate, timeoutMs: opts.timeoutMs };
    const resp = await this.#request<'NopIn'>(itt, lun, 'NopIn', 'NOP-Out ping', req, (cmdSN) =>
      buildNopOut({ itt, lun, cmdSN, expStatSN: this.#expStatSN, immediate, data }),
    );
    if (resp.ttt !== RESERVED_TAG)
      this.#violation(`NOP-In answering a ping has TTT 0x${resp.ttt.toString(16)}`);
    return resp.data;
  }

  /**
   * Text negotiation (RFC 7143 11.10/11.11). Splits a long request with the C bit and follows the
   * target's continuation (F=0 or C=1) until the final response; returns all pairs in order.
   */
  async text(
    pairs: ReadonlyArray<readonly [string, string]> | Record<string, string>,
    opts: { immediate?: boolean; timeoutMs?: number } = {},
  ): Promise<KeyValuePairs> {
    const list = Array.isArray(pairs) ? pairs : Object.entries(pairs);
    const itt = this.nextItt();
    const payload = encodeTextKeys(list);
    const max = this.#params?.targetMaxRecvDataSegmentLength ?? LOGIN_MAX_SEGMENT;
    const pieces: Buffer[] = [];
    for (let off = 0; off < payload.length; off += max) pieces.push(payload.subarray(off, off + max));
    if (pieces.length === 0) pieces.push(Buffer.alloc(0));
    let ttt = RESERVED_TAG;
    const got: Buffer[] = [];
    for (let i = 0; ; i++) {
      const piece = pieces[i] ?? Buffer.alloc(0);
      const more = i < pieces.length - 1;
      const req = { immediate: opts.immediate ?? false, timeoutMs: opts.timeoutMs };
      const resp = await this.#request<'TextResponse'>(itt, 0, 'TextResponse', 'Text', req, (cmdSN) =>
        buildTextRequest({
          itt,
          ttt,
          cmdSN,
          expStatSN: this.#expStatSN,
          final: !more,
          cont: more,
          immediate: req.immediate,
          data: piece,
        }),
      );
      if (more) {
        if (resp.data.length > 0) this.#violation('Text Response to a C-bit Text Request carries data');
      } else {
        got.push(resp.data);
      }
      if (!more && resp.final && !resp.cont) break;
      if (resp.final && resp.cont) this.#violation('Text Response with both F and C set');
      ttt = resp.ttt;
      if (i > 10_000) throw new ProtocolError('Text Response continuation does not end');
    }
    try {
      return decodeTextKeys(Buffer.concat(got));
    } catch (err) {
      throw new ProtocolError(`bad Text Response data: ${(err as Error).message}`);
    }
  }

  /** SendTargets (RFC 7143 Appendix C); works in Discovery and Normal sessions. */
  async sendTargets(value = 'All'): Promise<TargetEntry[]> {
    const pairs = await this.text([['SendTargets', value]]);
    const out: TargetEntry[] = [];
    for (const [k, v] of pairs) {
      if (k === 'TargetName') out.push({ targetName: v, addresses: [] });
      else if (k === 'TargetAddress') {
        const last = out.at(-1);
        if (last) last.addresses.push(v);
        else this.#violation(`SendTargets: TargetAddress ${v} before any TargetName`);
      }
    }
    return out;
  }

  /** Logout (reason 0 close session, 1 close connection, 2 remove connection for recovery). */
  async logout(
    reason = 0,
    opts: { immediate?: boolean; timeoutMs?: number; cid?: number } = {},
  ): Promise<LogoutResult> {
    const itt = this.nextItt();
    const immediate = opts.immediate ?? true;
    const req = { immediate, timeoutMs: opts.timeoutMs };
    const resp = await this.#request<'LogoutResponse'>(itt, 0, 'LogoutResponse', 'Logout', req, (cmdSN) =>
      buildLogoutRequest({
        reason,
        itt,
        cid: opts.cid ?? this.cid,
        cmdSN,
        expStatSN: this.#expStatSN,
        immediate,
      }),
    );
    if (resp.response === 0 && (reason === 0 || (reason === 1 && (opts.cid ?? this.cid) === this.cid))) {
      this.#loggedOut = true;
      // The target closes the connection (RFC 7143 11.15); half-close our side so it can.
      this.socket.end();
    }
    return { response: resp.response, time2Wait: resp.time2Wait, time2Retain: resp.time2Retain };
  }

  /** Destroys the connection; pending requests reject with ConnectionClosedError. */
  close(): void {
    this.#closedLocally = true;
    this.socket.destroy();
  }

  // -------------------------------------------------------------------------------------------
  // Login (RFC 7143 6.3, 11.12, 11.13)

  async #login(): Promise<void> {
    const o = this.#opts;
    const deadline = setTimeout(() => {
      this.#fatal(new TimeoutError('login', this.#timeoutMs));
    }, this.#timeoutMs);
    try {
      const itt = this.nextItt();
      const leading: Array<[string, string]> = [
        ['InitiatorName', o.initiatorName],
        ['SessionType', o.sessionType],
      ];
      if (o.targetName !== undefined) leading.push(['TargetName', o.targetName]);
      let firstOperational: Array<[string, string]> = [];
      if (o.skipSecurityPhase) firstOperational = leading;
      else if (o.chap) await this.#chapPhase(itt, leading, o.chap);
      else await this.#noAuthPhase(itt, leading);
      const last = await this.#operationalPhase(itt, firstOperational);
      this.tsih = last.tsih;
      if (o.tsih && o.tsih !== last.tsih)
        this.#violation(`login answered TSIH ${last.tsih}, we asked ${o.tsih}`);
      if (o.tsih === undefined || o.tsih === 0) {
        if (last.tsih === 0) this.#violation('final Login Response carries TSIH 0');
      }
      this.#params = this.#computeParams();
      this.#digests = { header: this.#params.headerDigest, data: this.#params.dataDigest };
    } finally {
      clearTimeout(deadline);
    }
  }

  async #noAuthPhase(itt: number, leading: Array<[string, string]>): Promise<void> {
    const auth = this.#opts.params?.['AuthMethod'] ?? 'None';
    let { resp, keys } = await this.#loginStep(itt, Stage.Security, Stage.Operational, true, [
      ...leading,
      ['AuthMethod', auth],
    ]);
    const answer = keys.find(([k]) => k === 'AuthMethod')?.[1];
    if (answer !== undefined && answer !== 'None' && auth === 'None') {
      throw new LoginProtocolError(`target wants AuthMethod=${answer}; give chap credentials`);
    }
    for (let round = 0; !resp.transit; round++) {
      if (round > MAX_LOGIN_ROUNDS) throw new LoginProtocolError('security stage does not end');
      ({ resp } = await this.#loginStep(itt, Stage.Security, Stage.Operational, true, []));
    }
    this.#checkTransit(resp, Stage.Operational);
  }

  async #chapPhase(itt: number, leading: Array<[string, string]>, chap: ChapCredentials): Promise<void> {
    const r1 = await this.#loginStep(itt, Stage.Security, Stage.Operational, false, [
      ...leading,
      ['AuthMethod', 'CHAP'],
    ]);
    const method = r1.keys.find(([k]) => k === 'AuthMethod')?.[1];
    if (method !== 'CHAP')
      throw new LoginProtocolError(`target answered AuthMethod=${method ?? '(nothing)'} to CHAP`);
    const r2 = await this.#loginStep(itt, Stage.Security, Stage.Operational, false, [
      ['CHAP_A', String(CHAP_MD5)],
    ]);
    const get = (keys: KeyValuePairs, k: string): string | undefined => keys.find(([key]) => key === k)?.[1];
    const alg = get(r2.keys, 'CHAP_A');
    const id = get(r2.keys, 'CHAP_I');
    const challenge = get(r2.keys, 'CHAP_C');
    if (alg !== String(CHAP_MD5) || id === undefined || challenge === undefined) {
      throw new LoginProtocolError(`bad CHAP challenge: CHAP_A=${alg} CHAP_I=${id} CHAP_C=${challenge}`);
    }
    const idNum = parseNumber(id);
    if (idNum === undefined || idNum > 255) throw new LoginProtocolError(`bad CHAP_I ${id}`);
    const reply: Array<[string, string]> = [
      ['CHAP_N', chap.user],
      ['CHAP_R', encodeChapBinary(chapResponse(idNum, chap.secret, decodeChapBinary(challenge)))],
    ];
    const mine = newChapChallenge();
    if (chap.mutual)
      reply.push(['CHAP_I', String(mine.identifier)], ['CHAP_C', encodeChapBinary(mine.challenge)]);
    let { resp, keys } = await this.#loginStep(itt, Stage.Security, Stage.Operational, true, reply);
    if (chap.mutual) {
      const n = get(keys, 'CHAP_N');
      const r = get(keys, 'CHAP_R');
      const want = chapResponse(mine.identifier, chap.mutual.secret, mine.challenge);
      if (n !== chap.mutual.user || r === undefined || !decodeChapBinary(r).equals(want)) {
        throw new LoginProtocolError(`mutual CHAP failed: target answered CHAP_N=${n} CHAP_R=${r}`);
      }
    }
    for (let round = 0; !resp.transit; round++) {
      if (round > MAX_LOGIN_ROUNDS) throw new LoginProtocolError('security stage does not end');
      ({ resp } = await this.#loginStep(itt, Stage.Security, Stage.Operational, true, []));
    }
    this.#checkTransit(resp, Stage.Operational);
  }

  /** Offers every operational key at once, then answers whatever the target offers back. */
  async #operationalPhase(itt: number, leading: Array<[string, string]>): Promise<LoginResponsePdu> {
    const offers = this.#operationalOffers();
    const unanswered = new Set(offers.keys());
    let pairs: Array<[string, string]> = [...leading, ...offers];
    for (let round = 0; ; round++) {
      if (round > MAX_LOGIN_ROUNDS) throw new LoginProtocolError('operational stage does not end');
      const { resp, keys } = await this.#loginStep(itt, Stage.Operational, Stage.FullFeature, true, pairs);
      pairs = [];
      for (const [k, v] of keys) {
        if (k === 'MaxRecvDataSegmentLength' || DECLARATIVE_KEYS.has(k)) {
          this.negotiated.set(k, v);
          unanswered.delete(k);
        } else if (unanswered.has(k)) {
          unanswered.delete(k);
          const j = judgeAnswer(k, offers.get(k)!, v);
          if (j.violation) this.#violation(`login: ${j.violation}`);
          this.negotiated.set(k, j.value);
        } else {
          const answer = answerOffer(k, v, offers.get(k));
          if (answer === undefined) {
            this.negotiated.set(k, v);
          } else {
            pairs.push([k, answer]);
            if (answer !== 'NotUnderstood' && answer !== 'Reject') this.negotiated.set(k, answer);
          }
        }
      }
      if (resp.transit && pairs.length === 0) {
        this.#checkTransit(resp, Stage.FullFeature);
        for (const k of unanswered) {
          // MaxRecvDataSegmentLength is declarative: no answer is due (RFC 7143 13.12).
          if (k !== 'MaxRecvDataSegmentLength' && k in OPERATIONAL_KEYS) {
            this.#violation(`login: target did not answer ${k}`);
          }
        }
        return resp;
      }
    }
  }

  #checkTransit(resp: LoginResponsePdu, nsg: number): void {
    if (resp.nsg !== nsg) {
      throw new LoginProtocolError(`target transited to stage ${resp.nsg}, we asked for ${nsg}`);
    }
  }

  #operationalOffers(): Map<string, string> {
    const o = this.#opts;
    const defaults: Record<string, string> = {
      HeaderDigest: o.headerDigest ?? 'None',
      DataDigest: o.dataDigest ?? 'None',
      MaxRecvDataSegmentLength: '262144',
      MaxBurstLength: '16776192',
      FirstBurstLength: '262144',
      InitialR2T: 'No',
      ImmediateData: 'Yes',
      MaxOutstandingR2T: '1',
      DataPDUInOrder: 'Yes',
      DataSequenceInOrder: 'Yes',
      DefaultTime2Wait: '2',
      DefaultTime2Retain: '0',
      MaxConnections: '1',
      ErrorRecoveryLevel: '0',
    };
    const out = new Map<string, string>(Object.entries(defaults));
    for (const [k, v] of Object.entries(o.params ?? {})) {
      if (k === 'AuthMethod') continue;
      if (v === null) out.delete(k);
      else out.set(k, v);
    }
    return out;
  }

  /**
   * One login exchange: sends `pairs` (split with the C bit when over 8192 bytes), follows the
   * target's C bit, and returns the final response with all keys it carried.
   */
  async #loginStep(
    itt: number,
    csg: number,
    nsg: number,
    transit: boolean,
    pairs: ReadonlyArray<readonly [string, string]>,
  ): Promise<{ resp: LoginResponsePdu; keys: KeyValuePairs }> {
    const payload = encodeTextKeys(pairs);
    const pieces: Buffer[] = [];
    for (let off = 0; off < payload.length; off += LOGIN_MAX_SEGMENT) {
      pieces.push(payload.subarray(off, off + LOGIN_MAX_SEGMENT));
    }
    if (pieces.length === 0) pieces.push(Buffer.alloc(0));
    const send = (data: Buffer, t: boolean, c: boolean): Promise<LoginResponsePdu> =>
      this.#request<'LoginResponse'>(itt, 0, 'LoginResponse', 'Login', { immediate: true }, (cmdSN) =>
        buildLoginRequest({
          transit: t,
          cont: c,
          csg,
          nsg,
          isid: this.isid,
          tsih: this.#opts.tsih ?? 0,
          itt,
          cid: this.cid,
          cmdSN,
          expStatSN: this.#expStatSN,
          data,
        }),
      );
    let resp: LoginResponsePdu | undefined;
    for (let i = 0; i < pieces.length; i++) {
      const more = i < pieces.length - 1;
      resp = await send(pieces[i]!, transit && !more, more);
      this.#checkLoginStatus(resp);
      if (more && (resp.data.length > 0 || resp.transit)) {
        this.#violation('Login Response to a C-bit Login Request is not empty');
      }
    }
    const got: Buffer[] = [resp!.data];
    // RFC 7143 11.13.3: with C set the target has more text; we ask for it with empty requests.
    while (resp!.cont) {
      if (got.length > 10_000) throw new LoginProtocolError('Login Response continuation does not end');
      if (resp!.transit) this.#violation('Login Response with both T and C set');
      resp = await send(Buffer.alloc(0), false, false);
      this.#checkLoginStatus(resp);
      got.push(resp.data);
    }
    let keys: KeyValuePairs;
    try {
      keys = decodeTextKeys(Buffer.concat(got));
    } catch (err) {
      throw new LoginProtocolError(`bad Login Response data: ${(err as Error).message}`);
    }
    this.targetLoginKeys.push(...keys);
    for (const [k, v] of keys) if (DECLARATIVE_KEYS.has(k)) this.negotiated.set(k, v);
    if (resp!.csg !== csg) this.#violation(`Login Response CSG ${resp!.csg}, request CSG ${csg}`);
    return { resp: resp!, keys };
  }

  #checkLoginStatus(resp: LoginResponsePdu): void {
    this.loginStatus = { statusClass: resp.statusClass, statusDetail: resp.statusDetail };
    if (resp.statusClass !== 0) {
      let keys: KeyValuePairs = [];
      try {
        keys = decodeTextKeys(resp.data);
      } catch {
        keys = [];
      }
      throw new LoginError(resp.statusClass, resp.statusDetail, keys);
    }
    if (resp.versionActive !== 0) this.#violation(`Login Response Version-active ${resp.versionActive}`);
  }

  #computeParams(): SessionParams {
    const n = this.negotiated;
    const offers = this.#operationalOffers();
    const num = (k: keyof typeof OPERATIONAL_KEYS): number => {
      const rule = OPERATIONAL_KEYS[k];
      const v = parseNumber(n.get(k) ?? '');
      return v ?? Number(rule.default);
    };
    const bool = (k: keyof typeof OPERATIONAL_KEYS): boolean =>
      (n.get(k) ?? OPERATIONAL_KEYS[k].default) === 'Yes';
    return {
      headerDigest: n.get('HeaderDigest') === 'CRC32C',
      dataDigest: n.get('DataDigest') === 'CRC32C',
      initiatorMaxRecvDataSegmentLength: parseNumber(offers.get('MaxRecvDataSegmentLength') ?? '') ?? 8192,
      targetMaxRecvDataSegmentLength: parseNumber(n.get('MaxRecvDataSegmentLength') ?? '') ?? 8192,
      maxBurstLength: num('MaxBurstLength'),
      firstBurstLength: num('FirstBurstLength'),
      initialR2T: bool('InitialR2T'),
      immediateData: bool('ImmediateData'),
      maxOutstandingR2T: num('MaxOutstandingR2T'),
      dataPduInOrder: bool('DataPDUInOrder'),
      dataSequenceInOrder: bool('DataSequenceInOrder'),
      defaultTime2Wait: num('DefaultTime2Wait'),
      defaultTime2Retain: num('DefaultTime2Retain'),
      maxConnections: num('MaxConnections'),
      errorRecoveryLevel: num('ErrorRecoveryLevel'),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Task table, CmdSN window, sending

  #request<K extends TargetPdu['kind']>(
    itt: number,
    lun: number,
    expect: K,
    what: string,
    opts: { immediate: boolean; timeoutMs?: number },
    build: (cmdSN: number) => OutgoingPdu,
  ): Promise<PduOf<K>> {
    return new Promise<PduOf<K>>((resolve, reject) => {
      const task: Task = {
        itt,
        lun,
        what,
        onPdu: (pdu) => {
          if (pdu.kind !== expect) {
            this.#violation(`${what}: got ${pdu.kind} for ITT 0x${itt.toString(16)}, expected ${expect}`);
            return;
          }
          this.#complete(itt);
          resolve(pdu as PduOf<K>);
        },
        fail: reject,
      };
      this.#register(task, opts.timeoutMs);
      this.#submit(task, opts.immediate, (cmdSN) => this.#writePdus([build(cmdSN)]));
    });
  }

  #register(task: Task, timeoutMs = this.#timeoutMs): void {
    if (this.#isClosed) {
      task.fail(this.#fatalError ?? new ConnectionClosedError('connection closed'));
      return;
    }
    this.#tasks.set(task.itt, task);
    this.#retired.delete(task.itt);
    const timer = setTimeout(() => {
      if (this.#tasks.get(task.itt) !== task) return;
      this.#complete(task.itt, true);
      task.fail(new TimeoutError(`${task.what} (ITT 0x${task.itt.toString(16)})`, timeoutMs));
    }, timeoutMs);
    this.#timers.set(task.itt, timer);
  }

  /**
   * Removes a task. Only tasks ended here without the target's final answer (timeout, abort,
   * reject) are remembered, so their late PDUs are ignored; any PDU after a task's final answer
   * is reported as a violation.
   */
  #complete(itt: number, abnormal = false): void {
    const task = this.#tasks.get(itt);
    if (task?.queued) task.queued.cancelled = true;
    this.#tasks.delete(itt);
    const timer = this.#timers.get(itt);
    if (timer) clearTimeout(timer);
    this.#timers.delete(itt);
    if (!abnormal) return;
    this.#retired.add(itt);
    if (this.#retired.size > RETIRED_LIMIT) this.#retired.delete(this.#retired.values().next().value!);
  }

  /**
   * Immediate PDUs go out now carrying the next CmdSN without taking it; others wait in CmdSN order
   * until CmdSN <= MaxCmdSN (RFC 7143 4.2.2.1).
   */
  #submit(task: Task, immediate: boolean, send: (cmdSN: number) => void): void {
    if (this.#tasks.get(task.itt) !== task) return;
    if (immediate) {
      task.cmdSN = this.#cmdSN;
      send(this.#cmdSN);
      return;
    }
    const entry: QueueEntry = {
      cancelled: false,
      send: (cmdSN) => {
        task.queued = undefined;
        task.cmdSN = cmdSN;
        send(cmdSN);
      },
    };
    task.queued = entry;
    this.#queue.push(entry);
    this.#drain();
  }

  #drain(): void {
    while (this.#queue.length > 0 && !this.#isClosed) {
      const head = this.#queue[0]!;
      if (head.cancelled) {
        this.#queue.shift();
        continue;
      }
      if (!snLte(this.#cmdSN, this.#maxCmdSN)) return;
      this.#queue.shift();
      head.send(this.allocCmdSN());
    }
  }

  #writePdus(pdus: OutgoingPdu[]): void {
    const framing = { headerDigest: this.#digests.header, dataDigest: this.#digests.data };
    if (pdus.length === 1) this.#write(encodePdu(pdus[0]!, framing));
    else this.#write(Buffer.concat(pdus.map((p) => encodePdu(p, framing))));
  }

  #write(buf: Buffer): void {
    if (this.#isClosed || this.socket.destroyed) return;
    this.socket.write(buf);
  }

  // -------------------------------------------------------------------------------------------
  // Receive path

  #onData(chunk: Buffer): void {
    this.#reader.push(chunk);
    try {
      for (;;) {
        const raw = this.#reader.next();
        if (!raw) return;
        let pdu: TargetPdu;
        try {
          pdu = decodeTargetPdu(raw);
        } catch (err) {
          throw new ProtocolError(
            `malformed PDU opcode 0x${(raw.bhs[0]! & 0x3f).toString(16)}: ${(err as Error).message}`,
          );
        }
        this.#dispatch(pdu);
        if (this.#isClosed || this.socket.destroyed) return;
      }
    } catch (err) {
      this.#fatal(err instanceof Error ? err : new ProtocolError(String(err)));
    }
  }

  #dispatch(pdu: TargetPdu): void {
    this.emit('pdu', pdu);
    this.#trackSequence(pdu);
    const w = this.#waiters.findIndex((x) => x.pred(pdu));
    if (w >= 0) {
      this.#waiters.splice(w, 1)[0]!.resolve(pdu);
      return;
    }
    switch (pdu.kind) {
      case 'NopIn':
        if (pdu.itt === RESERVED_TAG) {
          this.#onTargetNopIn(pdu);
          return;
        }
        this.#toTask(pdu, pdu.itt);
        return;
      case 'ScsiResponse':
      case 'DataIn':
      case 'R2T':
      case 'TmfResponse':
      case 'LoginResponse':
      case 'TextResponse':
      case 'LogoutResponse':
        this.#toTask(pdu, pdu.itt);
        return;
      case 'AsyncMessage':
        this.asyncMessages.push(pdu);
        this.emit('asyncMessage', pdu);
        return;
      case 'Reject':
        this.#onReject(pdu);
        return;
      case 'Unknown':
        this.#violation(`unknown target opcode 0x${pdu.opcode.toString(16)}`);
        return;
    }
  }

  #toTask(pdu: TargetPdu, itt: number): void {
    const task = this.#tasks.get(itt);
    if (task) task.onPdu(pdu);
    else if (!this.#retired.has(itt)) this.#violation(`${pdu.kind} for unknown ITT 0x${itt.toString(16)}`);
  }

  #onTargetNopIn(pdu: NopInPdu): void {
    if (pdu.ttt === RESERVED_TAG) {
      this.#nopInUnsolicited++;
      return;
    }
    this.#nopInPings++;
    this.emit('nopInPing', pdu);
    if (!this.answerNopIn) return;
    // RFC 7143 11.18: answer with ITT reserved, TTT and LUN copied, as an immediate PDU.
    this.#writePdus([
      buildNopOut({
        itt: RESERVED_TAG,
        ttt: pdu.ttt,
        lun: pdu.lun,
        cmdSN: this.#cmdSN,
        expStatSN: this.#expStatSN,
        immediate: true,
      }),
    ]);
  }

  #onReject(pdu: RejectPdu): void {
    this.rejects.push(pdu);
    this.emit('reject', pdu);
    if (!TERMINAL_REJECT_OPCODES.has(pdu.rejectedOpcode) || pdu.rejectedItt === RESERVED_TAG) return;
    const task = this.#tasks.get(pdu.rejectedItt);
    if (!task) return;
    this.#complete(task.itt, true);
    task.fail(new RejectedError(pdu.reason, task.itt));
  }

  /** StatSN, ExpCmdSN, MaxCmdSN bookkeeping (RFC 7143 4.2.2.1, 4.2.2.2). */
  #trackSequence(pdu: TargetPdu): void {
    if (pdu.kind === 'Unknown') return;
    const advancing =
      pdu.kind === 'ScsiResponse' ||
      (pdu.kind === 'DataIn' && pdu.hasStatus) ||
      (pdu.kind === 'NopIn' && pdu.itt !== RESERVED_TAG) ||
      pdu.kind === 'TmfResponse' ||
      pdu.kind === 'LoginResponse' ||
      pdu.kind === 'TextResponse' ||
      pdu.kind === 'LogoutResponse' ||
      pdu.kind === 'AsyncMessage' ||
      pdu.kind === 'Reject';
    const noStatus = pdu.kind === 'DataIn' && !pdu.hasStatus;
    if (!noStatus) {
      if (!this.#statSNKnown) {
        this.#statSNKnown = true;
      } else if (pdu.statSN !== this.#expStatSN) {
        this.#violation(`${pdu.kind} StatSN ${pdu.statSN}, expected ${this.#expStatSN}`);
      }
      if (advancing) this.#expStatSN = snAdd(pdu.statSN, 1);
      else if (!snLt(pdu.statSN, this.#expStatSN)) this.#expStatSN = pdu.statSN;
    }
    if (snLt(pdu.maxCmdSN, snAdd(pdu.expCmdSN, -1))) return; // RFC 7143 4.2.2.1: ignore both
    if (snLt(this.#expCmdSN, pdu.expCmdSN)) this.#expCmdSN = pdu.expCmdSN;
    if (snLt(this.#maxCmdSN, pdu.maxCmdSN)) this.#maxCmdSN = pdu.maxCmdSN;
    if (pdu.kind === 'LoginResponse') {
      // Login sets the window outright: the first response defines it.
      this.#expCmdSN = pdu.expCmdSN;
      this.#maxCmdSN = pdu.maxCmdSN;
    }
    this.#drain();
  }

  #relaxed(check: RelaxedCheck): boolean {
    return this.#opts.relax?.includes(check) ?? false;
  }

  #violation(msg: string): void {
    this.violations.push(msg);
    this.emit('violation', msg);
  }

  #fatal(err: Error): void {
    this.#fatalError ??= err;
    this.#failAll(err);
    this.socket.destroy();
  }

  #failAll(err: Error): void {
    const tasks = [...this.#tasks.values()];
    for (const t of tasks) this.#complete(t.itt, true);
    this.#queue.length = 0;
    for (const t of tasks) t.fail(err);
  }
}

/**
 * Marks a promise as observed so that a test which fires commands and tears the connection down
 * without awaiting them does not crash the run with an unhandled rejection; whoever awaits the
 * promise still gets the rejection.
 */
function observed<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

function normaliseIsid(isid: Buffer | string | undefined): Buffer {
  if (isid === undefined) {
    // RFC 7143 11.12.5: type 2 ("random"): T=10b, 6-bit A reserved, 24-bit random B and C, D=0.
    const b = Buffer.alloc(6);
    b[0] = 0x80;
    randomBytes(3).copy(b, 1);
    return b;
  }
  const b = typeof isid === 'string' ? Buffer.from(isid.replace(/^0x/i, ''), 'hex') : isid;
  if (b.length !== 6) throw new RangeError('ISID must be 6 bytes');
  return b;
}
