import type { Socket } from 'node:net';
import { type Completion, TmfFunction } from '../scsi/command.js';
import { Limits } from '../scsi/limits.js';
import type { CommandObserver } from '../scsi/observer.js';
import { ScsiStatus, type TaskAttributeCode } from '../scsi/spec/status.js';
import { taskSetFullStatus } from '../scsi/task-set.js';
import { ProtocolError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { snAdd } from '../util/serial.js';
import { StateMachine } from '../util/state-machine.js';
import { CommandWindow } from './command-window.js';
import { decodeLoginRequest, LoginNegotiation, LoginStatus, type LoginStep } from './login.js';
import type { BudgetAccount } from './memory-budget.js';
import {
  BHS_LENGTH,
  decodeLun,
  field32,
  finalBit,
  InitiatorOpcode,
  isImmediate,
  itt as ittOf,
  opcodeOf,
  type Pdu,
  RESERVED_TAG,
  RejectReason,
} from './pdu/bhs.js';
import * as out from './pdu/target-pdus.js';
import { PduReader } from './pdu-reader.js';
import { PduWriter } from './pdu-writer.js';
import type { PortalOptions, TargetDirectory } from './portal-interface.js';
import type { Session } from './session.js';
import type { SessionRegistry } from './session-registry.js';
import { DataSequenceError, IscsiTask, type R2tSender } from './task.js';
import { TextExchange } from './text-exchange.js';

const EMPTY = Buffer.alloc(0);

/** What a command holds besides its data: task, closures, CDB, response (a round figure). */
const COMMAND_OVERHEAD = 1024;

/** What a PDU admitted to dispatch holds of the connection's memory budget until it is done. */
interface Admitted {
  readonly bytes: number;
  /** An immediate SCSI command (counted against the window, RFC 7143 4.2.2.1). */
  readonly immediate: boolean;
}
type HeldPdu = Pdu & { admitted?: Admitted | undefined };
/** A PDU waiting in #deferred: what it holds as received bytes, and whether it is immediate. */
type DeferredPdu = HeldPdu & { readonly deferredBytes: number; readonly deferredImmediate: boolean };

/** Bytes a PDU occupies while it waits (header, AHS, data). */
function pduBytes(pdu: Pdu): number {
  return BHS_LENGTH + pdu.ahs.length + pdu.data.length;
}

/**
 * A SCSI command's reservation: its data-out assembly and its Data-In, each at most the largest
 * transfer the device server accepts (a larger EDTL can never be filled).
 */
function commandCharge(bhs: Buffer): number {
  const edtl = Math.min(field32(bhs, 20), Limits.maxTransferBytes);
  const read = (bhs[1]! & 0x40) !== 0;
  const write = (bhs[1]! & 0x20) !== 0;
  return COMMAND_OVERHEAD + (read ? edtl : 0) + (write ? edtl : 0);
}

type ConnState = 'login' | 'full-feature' | 'logged-out' | 'closed';

/**
 * One iSCSI connection: the receive state machine (header → AHS → header digest → data →
 * data digest, STYLE.md), login, and full feature phase dispatch. A protocol violation closes
 * this connection and nothing else.
 */
export class Connection implements R2tSender {
  readonly id: number;
  readonly #socket: Socket;
  readonly #opts: PortalOptions;
  readonly #directory: TargetDirectory;
  readonly #sessions: SessionRegistry;
  #log: Logger;
  readonly #phase: StateMachine<ConnState>;
  #login: LoginNegotiation;
  #session: Session | undefined;
  #statSN = 0;
  #cid = 0;
  readonly #reader = new PduReader(() => {
    this.#headerAt = this.#rxAt;
  });
  // digests of what this side sends (the reader checks what it receives)
  readonly #writer: PduWriter;
  #pumping = false;
  // tasks
  readonly #tasks = new Map<number, IscsiTask>();
  readonly #window = new CommandWindow(
    (pdu, cmdSN) => this.#execute(pdu, cmdSN),
    () => this.#log,
    (pdu) => this.#unadmit(pdu),
  );
  // memory budget (DESIGN.md "Trust"): past it new commands wait, in order, in #deferred
  readonly #account: BudgetAccount;
  /** PDUs received while a command waits for memory; replayed in order once it frees. */
  #deferred: DeferredPdu[] = [];
  /** The socket is paused because what waits exceeds the connection's budget. */
  #pausedForBudget = false;
  /** Immediate SCSI commands received and not yet answered. */
  #immediateHeld = 0;
  /** Commands whose Data-In is queued and not yet handed to the kernel. */
  #sendingDataIn = 0;
  #nextTtt = 1;
  readonly #text = new TextExchange({
    send: (hdr, data) => this.#send(hdr, data),
    reject: (reason, bhs) => this.#reject(reason, bhs),
    seq: () => this.#seq(true),
    allocateTtt: () => this.allocateTtt(),
    session: () => this.#session!,
    settings: () => this.#opts.settings,
    directory: () => this.#directory,
    localAddress: () => this.#socket.localAddress ?? '127.0.0.1',
  });
  // NOP-In pings
  readonly #startedAt = Date.now();
  #lastRx = Date.now();
  #pingTtt: number | undefined;
  #pingSentAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closeReason = '';
  // per-stage latency (set at login when the target keeps statistics)
  #observer: CommandObserver | undefined;
  /** performance.now() of the latest socket read, and of the one that completed #header. */
  #rxAt = 0;
  #headerAt = 0;
  /** Tasks whose response is queued in the current write batch (transmit stage). */
  #transmitting: IscsiTask[] = [];
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;

  constructor(
    id: number,
    socket: Socket,
    opts: PortalOptions,
    directory: TargetDirectory,
    sessions: SessionRegistry,
    log: Logger,
  ) {
    this.id = id;
    this.#socket = socket;
    this.#writer = new PduWriter(
      socket,
      () => this.#state === 'closed',
      () => this.#flushTransmitting(),
    );
    this.#opts = opts;
    this.#directory = directory;
    this.#sessions = sessions;
    this.#account = sessions.memory.account(() => this.#resume());
    this.#log = log.child({ conn: id, peer: `${socket.remoteAddress}:${socket.remotePort}` });
    this.#login = new LoginNegotiation(opts, directory, this.#log);
    this.#phase = new StateMachine<ConnState>('connection', 'login', this.#log);
    this.closed = new Promise((r) => {
      this.#resolveClosed = r;
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#log.debug({ err: err.message }, 'socket error'));
    socket.on('close', () => this.#onClose());
    socket.on('drain', () => {
      if (this.#state !== 'closed' && !this.#pausedForBudget) socket.resume();
    });
    this.#timer = setInterval(
      () => this.#tick(),
      Math.max(250, Math.min(1000, opts.nopInIntervalMs || 1000)),
    );
    this.#timer.unref();
  }

  get cid(): number {
    return this.#cid;
  }

  get session(): Session | undefined {
    return this.#session;
  }

  get state(): ConnState {
    return this.#phase.state;
  }

  get #state(): ConnState {
    return this.#phase.state;
  }

  #toClosed(reason: string): void {
    this.#phase.transition(['login', 'full-feature', 'logged-out'], 'closed', { reason });
  }

  /** Closes this connection (reinstatement, shutdown or a protocol error). */
  close(reason: string): void {
    if (this.#state === 'closed') return;
    this.#closeReason ||= reason;
    this.#log.info({ reason }, 'closing connection');
    this.#toClosed(reason);
    this.#socket.destroy();
  }

  /** Ends the connection after the output queued so far is sent. */
  #end(reason: string): void {
    if (this.#state === 'closed') return;
    this.#closeReason ||= reason;
    this.#toClosed(reason);
    this.#socket.end();
    // A peer that never closes its side must not keep the socket forever.
    setTimeout(() => this.#socket.destroy(), 2000).unref();
  }

  #onClose(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#state !== 'closed') this.#toClosed(this.#closeReason || 'peer closed');
    for (const t of this.#tasks.values()) {
      t.abort();
      t.release();
    }
    this.#tasks.clear();
    this.#window.clear();
    this.#deferred = [];
    this.#reader.clear();
    this.#account.close();
    const s = this.#session;
    if (s && !s.closed) {
      // ERL 0: the loss of the only connection ends the session (RFC 7143 7.1.1).
      s.closed = true;
      this.#sessions.remove(s);
      if (s.nexus && s.target) {
        s.target.engine.nexusLost(s.nexus, this.#closeReason === 'logout' ? 'logout' : 'connection-loss');
      }
    }
    this.#log.debug({ reason: this.#closeReason || 'peer closed' }, 'connection closed');
    this.#resolveClosed();
  }

  // ---- receive state machine ------------------------------------------------------------

  #onData(chunk: Buffer): void {
    if (this.#state === 'closed') return;
    this.#lastRx = Date.now();
    if (this.#observer) this.#rxAt = performance.now();
    this.#reader.push(chunk);
    this.#pump();
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#state !== 'closed') {
        const ev = this.#reader.next();
        if (ev === undefined) break;
        if (ev.kind === 'pdu') this.#admit(ev.pdu);
        else this.#onDataDigestError(ev.bhs);
      }
    } catch (err) {
      this.#onPumpError(err);
    } finally {
      this.#pumping = false;
    }
  }

  #onPumpError(err: unknown): void {
    if (err instanceof ProtocolError) {
      this.#log.warn({ err: err.message, code: err.code }, 'protocol error from initiator');
      this.close(`protocol error: ${err.message}`);
    } else {
      this.#log.error({ err }, 'internal error while handling a PDU');
      this.close('internal error');
    }
  }

  #onDataDigestError(bhs: Buffer): void {
    this.#log.warn({ opcode: opcodeOf(bhs) }, 'data digest mismatch');
    this.#reject(RejectReason.DATA_DIGEST_ERROR, bhs);
    // ERL 0 cannot ask for the data again (RFC 7143 7.8): a data-carrying SCSI PDU is lost,
    // and with it the task; close the connection so the initiator recovers the session.
    const op = opcodeOf(bhs);
    if (op === InitiatorOpcode.SCSI_COMMAND || op === InitiatorOpcode.SCSI_DATA_OUT) {
      this.#end('data digest error on SCSI data');
    }
  }

  // ---- dispatch ---------------------------------------------------------------------------

  #dispatch(pdu: Pdu): void {
    const op = opcodeOf(pdu.bhs);
    if (this.#state === 'login') {
      if (op !== InitiatorOpcode.LOGIN_REQUEST) {
        throw new ProtocolError(`opcode 0x${op.toString(16)} before login completed`);
      }
      this.#onLogin(pdu);
      return;
    }
    if (this.#state !== 'full-feature') return;
    if (op === InitiatorOpcode.SCSI_DATA_OUT) {
      this.#onDataOut(pdu);
      return;
    }
    if (op === InitiatorOpcode.LOGIN_REQUEST) {
      throw new ProtocolError('login request in full feature phase');
    }
    if (op === InitiatorOpcode.SNACK_REQUEST) {
      // ErrorRecoveryLevel 0: SNACK is not supported (RFC 7143 11.16).
      this.#reject(RejectReason.PROTOCOL_ERROR, pdu.bhs);
      return;
    }
    const known =
      op === InitiatorOpcode.NOP_OUT ||
      op === InitiatorOpcode.SCSI_COMMAND ||
      op === InitiatorOpcode.TASK_MANAGEMENT_REQUEST ||
      op === InitiatorOpcode.TEXT_REQUEST ||
      op === InitiatorOpcode.LOGOUT_REQUEST;
    if (!known) {
      this.#reject(RejectReason.COMMAND_NOT_SUPPORTED, pdu.bhs);
      return;
    }
    const held = pdu as HeldPdu;
    if (op === InitiatorOpcode.SCSI_COMMAND) {
      if (!this.#chargeCommand(held)) return;
    } else if (pdu.data.length > 0 || pdu.ahs.length > 0) {
      // Held only while it waits in the window for an earlier CmdSN.
      const bytes = pduBytes(pdu);
      this.#account.force(bytes);
      held.admitted = { bytes, immediate: false };
    }
    this.#window.offer(this.#session!, held);
  }

  // ---- memory budget ------------------------------------------------------------------------

  /**
   * Full feature phase: a PDU goes to dispatch unless a command waits for memory; then
   * everything after it waits too, in order, except what lets the commands already running
   * finish (Data-Out) and answers to our pings.
   */
  #admit(pdu: Pdu): void {
    if (this.#deferred.length === 0 || this.#state !== 'full-feature') {
      this.#dispatch(pdu);
      return;
    }
    const op = opcodeOf(pdu.bhs);
    if (
      op === InitiatorOpcode.SCSI_DATA_OUT ||
      (op === InitiatorOpcode.NOP_OUT && ittOf(pdu.bhs) === RESERVED_TAG)
    ) {
      this.#dispatch(pdu);
      return;
    }
    if (op === InitiatorOpcode.SCSI_COMMAND && !this.#immediateAllowed(pdu)) return;
    this.#defer(pdu);
  }

  /**
   * An immediate command counts against the window: past it (RFC 7143 4.2.2.1 guarantees one
   * immediate non-TMF request per connection) it is refused with Reject 0x06, which tells the
   * initiator the PDU may be sent again (RFC 7143 11.17.1).
   */
  #immediateAllowed(pdu: Pdu): boolean {
    const s = this.#session!;
    if (!isImmediate(pdu.bhs) || this.#immediateHeld === 0 || s.inFlight < s.window) return true;
    this.#sessions.refused('immediate-command-reject');
    this.#reject(RejectReason.IMMEDIATE_COMMAND_REJECT, pdu.bhs);
    return false;
  }

  /** Reserves a SCSI command's memory, or defers the command until memory frees. */
  #chargeCommand(pdu: HeldPdu): boolean {
    if (pdu.admitted) return true; // replayed: reserved when it left #deferred
    if (!this.#immediateAllowed(pdu)) return false;
    const immediate = isImmediate(pdu.bhs);
    const bytes = commandCharge(pdu.bhs);
    const refusal = this.#account.tryCharge(bytes);
    if (refusal) {
      this.#defer(pdu);
      this.#checkStuck(refusal);
      return false;
    }
    if (immediate) this.#immediateHeld++;
    pdu.admitted = { bytes, immediate };
    return true;
  }

  /** Holds a received PDU until memory frees; past twice the budget, stops reading too. */
  #defer(pdu: Pdu): void {
    const isCommand = opcodeOf(pdu.bhs) === InitiatorOpcode.SCSI_COMMAND;
    const immediate = isCommand && isImmediate(pdu.bhs);
    const bytes = pduBytes(pdu);
    this.#account.force(bytes);
    // Deferred SCSI commands hold window slots: they are received, not yet answered.
    if (isCommand) this.#session!.inFlight++;
    if (immediate) this.#immediateHeld++;
    this.#deferred.push({
      bhs: pdu.bhs,
      ahs: pdu.ahs,
      data: pdu.data,
      deferredBytes: bytes,
      deferredImmediate: immediate,
    });
    if (!this.#pausedForBudget && this.#account.used > 2 * this.#sessions.memory.limits.connection) {
      this.#pausedForBudget = true;
      this.#socket.pause();
    }
  }

  /**
   * Refused by its own limit while nothing of its own is running: only commands waiting in the
   * window for an earlier CmdSN hold the memory, and that CmdSN is behind this command in the
   * stream. A single-connection session never needs that (commands arrive in CmdSN order).
   */
  #checkStuck(refusal: 'connection' | 'node'): void {
    if (refusal === 'connection' && this.#tasks.size === 0 && this.#sendingDataIn === 0) {
      this.#log.warn(
        { waiting: this.#window.waiting, held: this.#account.used },
        'out-of-order commands exceed the connection memory budget',
      );
      this.close('out-of-order commands exceed the connection memory budget');
    }
  }

  /** Memory was freed somewhere on the node: replay what waits, in order, while it fits. */
  #resume(): void {
    if (this.#state !== 'full-feature') return;
    try {
      while (this.#deferred.length > 0 && this.#state === 'full-feature') {
        const pdu = this.#deferred[0]!;
        if (opcodeOf(pdu.bhs) === InitiatorOpcode.SCSI_COMMAND) {
          const bytes = commandCharge(pdu.bhs);
          // Counted once, when it was first held back (#chargeCommand).
          const refusal = this.#account.tryCharge(bytes, false);
          if (refusal) {
            this.#checkStuck(refusal);
            return;
          }
          pdu.admitted = { bytes, immediate: pdu.deferredImmediate };
          this.#session!.inFlight--;
        }
        this.#deferred.shift();
        this.#account.release(pdu.deferredBytes);
        this.#dispatch(pdu);
      }
    } catch (err) {
      this.#onPumpError(err);
      return;
    }
    if (this.#pausedForBudget) {
      this.#pausedForBudget = false;
      this.#socket.resume();
    }
    this.#pump();
  }

  /** Gives back what a PDU reserved when it was admitted (it ran, or will never run). */
  #unadmit(pdu: HeldPdu): void {
    const a = pdu.admitted;
    if (!a) return;
    pdu.admitted = undefined;
    this.#account.release(a.bytes);
    if (a.immediate) this.#immediateHeld--;
  }

  #execute(pdu: HeldPdu, cmdSN: number): void {
    const op = opcodeOf(pdu.bhs);
    // Only a SCSI command keeps its reservation beyond this point (until its response is sent).
    if (op !== InitiatorOpcode.SCSI_COMMAND) this.#unadmit(pdu);
    switch (op) {
      case InitiatorOpcode.SCSI_COMMAND:
        this.#onScsiCommand(pdu, cmdSN);
        break;
      case InitiatorOpcode.NOP_OUT:
        this.#onNopOut(pdu);
        break;
      case InitiatorOpcode.TASK_MANAGEMENT_REQUEST:
        this.#onTmf(pdu);
        break;
      case InitiatorOpcode.TEXT_REQUEST:
        this.#text.onText(pdu);
        break;
      case InitiatorOpcode.LOGOUT_REQUEST:
        this.#onLogout(pdu);
        break;
      default:
        break;
    }
  }

  // ---- login ------------------------------------------------------------------------------

  #onLogin(pdu: Pdu): void {
    const req = decodeLoginRequest(pdu.bhs, pdu.data);
    if (this.#statSN === 0 && req.expStatSN !== 0) this.#statSN = req.expStatSN;
    this.#cid = req.cid;
    let step: LoginStep = this.#login.step(req);
    if (
      step.kind === 'complete' &&
      step.tsih === 0 &&
      !this.#sessions.checkSessionCap(step.initiatorName, step.isid, step.target)
    ) {
      step = { kind: 'fail', status: 'OUT_OF_RESOURCES', csg: step.csg, why: 'sessions per initiator cap' };
    }
    if (step.kind === 'complete' && step.tsih !== 0) {
      const refusal = this.#sessions.checkJoin(
        step.tsih,
        step.initiatorName,
        step.isid,
        req.cid,
        step.target,
      );
      if (refusal)
        step = { kind: 'fail', status: refusal, csg: step.csg, why: `TSIH ${step.tsih}: ${refusal}` };
    }
    const seq = (): out.SeqFields => {
      const cmd = this.#session?.expCmdSN ?? req.cmdSN;
      return { statSN: this.#statSN++, expCmdSN: cmd, maxCmdSN: this.#session?.maxCmdSN ?? cmd };
    };
    switch (step.kind) {
      case 'fail': {
        const [cls, detail] = LoginStatus[step.status];
        this.#log.warn(
          { status: step.status, why: step.why, initiator: this.#login.initiatorName },
          'login failed',
        );
        this.#send(
          out.loginResponse(
            {
              transit: false,
              continue: false,
              csg: step.csg,
              nsg: 0,
              isid: req.isid,
              tsih: 0,
              itt: req.itt,
              statusClass: cls,
              statusDetail: detail,
            },
            seq(),
          ),
        );
        this.#end(`login failed: ${step.why}`);
        return;
      }
      case 'respond':
        this.#send(
          out.loginResponse(
            {
              transit: step.transit,
              continue: false,
              csg: step.csg,
              nsg: step.nsg,
              isid: req.isid,
              tsih: 0,
              itt: req.itt,
              statusClass: 0,
              statusDetail: 0,
            },
            seq(),
          ),
          step.data,
        );
        return;
      case 'complete': {
        const session = this.#sessions.open(this, {
          isid: step.isid,
          tsih: step.tsih,
          initiatorName: step.initiatorName,
          type: step.sessionType,
          target: step.target,
          params: step.params,
          cmdSN: step.cmdSN,
          window: this.#opts.commandWindow,
        });
        this.#session = session;
        this.#log = this.#log.child({
          initiator: step.initiatorName,
          isid: step.isid.toString('hex'),
          tsih: session.tsih,
          ...(step.target ? { target: step.target.name } : {}),
        });
        this.#send(
          out.loginResponse(
            {
              transit: true,
              continue: false,
              csg: step.csg,
              nsg: 3,
              isid: step.isid,
              tsih: session.tsih,
              itt: req.itt,
              statusClass: 0,
              statusDetail: 0,
            },
            seq(),
          ),
          step.data,
        );
        // Digests and the receive limit apply from the first PDU after the final login
        // response (RFC 7143 13.1, 13.12).
        this.#writer.configure(step.params.headerDigest, step.params.dataDigest);
        this.#reader.configure({
          headerDigest: step.params.headerDigest,
          dataDigest: step.params.dataDigest,
          maxDataSegment: step.params.targetMaxRecvDataSegmentLength,
        });
        this.#observer = session.target?.engine.observer;
        if (this.#observer) this.#rxAt = performance.now();
        this.#phase.transition(['login'], 'full-feature');
        this.#log.info(
          {
            type: step.sessionType,
            headerDigest: step.params.headerDigest,
            dataDigest: step.params.dataDigest,
            immediateData: step.params.immediateData,
            initialR2T: step.params.initialR2T,
            maxBurst: step.params.maxBurstLength,
            firstBurst: step.params.firstBurstLength,
            mrdsl: step.params.initiatorMaxRecvDataSegmentLength,
          },
          'login complete',
        );
        return;
      }
    }
  }

  // ---- SCSI commands ------------------------------------------------------------------------

  #onScsiCommand(pdu: HeldPdu, cmdSN: number): void {
    const s = this.#session!;
    const bhs = pdu.bhs;
    const admitted = pdu.admitted;
    pdu.admitted = undefined;
    const refuse = (reason: number) => {
      this.#release(admitted);
      this.#reject(reason, bhs);
    };
    if (s.type !== 'Normal' || !s.target || !s.nexus) {
      // RFC 7143 4.3: a discovery session carries only Text, NOP and Logout.
      refuse(RejectReason.PROTOCOL_ERROR);
      return;
    }
    const itt = ittOf(bhs);
    const read = (bhs[1]! & 0x40) !== 0;
    const write = (bhs[1]! & 0x20) !== 0;
    const edtl = field32(bhs, 20);
    const p = s.params;
    if (this.#tasks.has(itt)) {
      refuse(RejectReason.TASK_IN_PROGRESS);
      return;
    }
    if (
      pdu.data.length > 0 &&
      (!write || !p.immediateData || pdu.data.length > Math.min(p.firstBurstLength, edtl))
    ) {
      // Immediate data the negotiation did not allow (RFC 7143 11.3.2, 13.12).
      refuse(RejectReason.PROTOCOL_ERROR);
      return;
    }
    let cdb = bhs.subarray(32, 48);
    if (pdu.ahs.length > 0) {
      const ext = extendedCdb(pdu.ahs);
      if (ext === undefined) {
        refuse(RejectReason.INVALID_PDU_FIELD);
        return;
      }
      cdb = Buffer.concat([cdb, ext]);
    }
    if (this.#tasks.size >= this.#sessions.limits.commandsPerSession) {
      // The session's share of the task set is full (SAM-5 5.3.3): the command does not run.
      // MaxConnections=1: this connection's tasks are the session's.
      this.#sessions.refused('task-set-full');
      this.#release(admitted);
      this.#send(
        out.scsiResponse(
          {
            itt,
            status: taskSetFullStatus(this.#tasks.size),
            overflow: false,
            underflow: edtl > 0,
            residual: edtl,
            expDataSN: 0,
          },
          this.#seq(true),
        ),
      );
      return;
    }
    const lunBytes = Buffer.from(bhs.subarray(8, 16));
    const task = new IscsiTask(
      {
        itt,
        cmdSN,
        lun: decodeLun(bhs),
        lunBytes,
        cdb: Buffer.from(cdb),
        attribute: (bhs[1]! & 0x07) as TaskAttributeCode,
        expectedLength: edtl,
        read,
        write,
        nexus: s.nexus,
        // Received bytes are never reused by the socket: the data can be kept without a copy.
        immediateData: pdu.data,
        immediatePooled: pdu.pooled ?? false,
        // F = 1 says no unsolicited Data-Out follows the immediate data (RFC 7143 11.3.1).
        unsolicitedLimit: write
          ? p.initialR2T || finalBit(bhs)
            ? pdu.data.length
            : Math.min(p.firstBurstLength, edtl)
          : 0,
        maxBurstLength: p.maxBurstLength,
        maxOutstandingR2T: p.maxOutstandingR2T,
      },
      this,
    );
    // A command held back for CmdSN order keeps the stamp of the PDU that released it.
    if (this.#observer) task.arrivedAt = this.#headerAt;
    this.#tasks.set(itt, task);
    s.inFlight++;
    s.target.engine.execute(task).then(
      (c) => this.#complete(task, c, admitted),
      (err) => {
        this.#log.error({ err }, 'engine rejected a command');
        this.#complete(task, { status: ScsiStatus.CHECK_CONDITION, transferLength: 0 }, admitted);
      },
    );
  }

  /** Gives back a command's reservation (its response is with the kernel, or never will be). */
  #release(admitted: Admitted | undefined): void {
    if (!admitted) return;
    this.#account.release(admitted.bytes);
    if (admitted.immediate) this.#immediateHeld--;
  }

  #complete(task: IscsiTask, c: Completion, admitted: Admitted | undefined): void {
    const s = this.#session;
    task.release();
    if (this.#tasks.get(task.itt) === task) this.#tasks.delete(task.itt);
    if (s) {
      s.inFlight--;
      s.refreshWindow();
    }
    if (this.#state !== 'full-feature' || c.aborted || s?.closed || c.outcomeUnknown) {
      c.release?.();
      this.#release(admitted);
      // No answer is the truth: the initiator recovers as after a connection loss (finding 7).
      if (c.outcomeUnknown) this.close('command outcome unknown');
      return;
    }
    if (task.arrivedAt) {
      task.readyAt = performance.now();
      this.#transmitting.push(task);
    }
    const edtl = task.expectedLength;
    const xfer = c.transferLength;
    const overflow = xfer > edtl;
    const underflow = xfer < edtl;
    const residual = overflow ? xfer - edtl : underflow ? edtl - xfer : 0;
    const data = c.data;
    const sendLen = data ? Math.min(data.length, edtl) : 0;
    const collapse = c.status === ScsiStatus.GOOD && !c.sense;
    let dataIns = 0;
    if (sendLen > 0) {
      // The reservation covers the Data-In until the kernel has it (a peer that does not read
      // keeps it in the socket's queue, and in this budget).
      this.#sendingDataIn++;
      dataIns = this.#sendDataIn(
        task,
        data!,
        sendLen,
        collapse ? { status: c.status, overflow, underflow, residual } : undefined,
        () => {
          this.#sendingDataIn--;
          c.release?.();
          this.#release(admitted);
        },
      );
      if (collapse) return;
    } else {
      c.release?.();
      this.#release(admitted);
    }
    let sense = EMPTY;
    if (c.sense) {
      // RFC 7143 11.4.7: SenseLength (2 bytes) then the sense data.
      sense = Buffer.allocUnsafe(2 + c.sense.length);
      sense.writeUInt16BE(c.sense.length, 0);
      c.sense.copy(sense, 2);
    }
    this.#send(
      out.scsiResponse(
        // ExpDataSN: the R2T and Data-In PDUs this task produced (RFC 7143 11.4.8).
        {
          itt: task.itt,
          status: c.status,
          overflow,
          underflow,
          residual,
          expDataSN: dataIns + task.r2tCount,
        },
        this.#seq(true),
      ),
      sense,
    );
  }

  #sendDataIn(
    task: IscsiTask,
    data: Buffer,
    length: number,
    status: { status: number; overflow: boolean; underflow: boolean; residual: number } | undefined,
    release?: () => void,
  ): number {
    const p = this.#session!.params;
    const mrdsl = p.initiatorMaxRecvDataSegmentLength;
    const burst = p.maxBurstLength;
    let dataSN = 0;
    let inBurst = 0;
    this.#writer.batch();
    for (let off = 0; off < length; ) {
      const n = Math.min(mrdsl, length - off, burst - inBurst);
      const last = off + n === length;
      inBurst += n;
      const endOfBurst = inBurst === burst;
      if (endOfBurst) inBurst = 0;
      const withStatus = last && status !== undefined;
      const hdr = out.dataIn(
        {
          itt: task.itt,
          lunBytes: task.lunBytes,
          final: last || endOfBurst,
          dataSN: dataSN++,
          offset: off,
          ...(withStatus ? status : {}),
        },
        this.#seq(withStatus),
      );
      off += n;
      this.#writer.write(hdr, data.subarray(off - n, off), off === length ? release : undefined);
    }
    return dataSN;
  }

  #onDataOut(pdu: Pdu): void {
    const bhs = pdu.bhs;
    const itt = ittOf(bhs);
    const task = this.#tasks.get(itt);
    if (!task) {
      // Late data for a task that already ended (aborted, or answered early with CHECK
      // CONDITION): RFC 7143 allows the target to discard it.
      return;
    }
    try {
      task.onDataOut(field32(bhs, 20), field32(bhs, 36), field32(bhs, 40), pdu.data, pdu.pooled ?? false);
      if (task.arrivedAt) task.dataOutAt = this.#rxAt;
    } catch (err) {
      if (!(err instanceof DataSequenceError)) throw err;
      this.#log.warn({ itt, err: err.message }, 'Data-Out out of sequence: PDU rejected, task fails');
      this.#reject(RejectReason.PROTOCOL_ERROR, bhs);
    }
  }

  // R2tSender
  allocateTtt(): number {
    const t = this.#nextTtt;
    this.#nextTtt = this.#nextTtt >= 0x7fffffff ? 1 : this.#nextTtt + 1;
    return t;
  }

  sendR2t(task: IscsiTask, ttt: number, r2tSN: number, offset: number, length: number): void {
    if (this.#state !== 'full-feature') return;
    this.#send(
      out.r2t({ itt: task.itt, ttt, lunBytes: task.lunBytes, r2tSN, offset, length }, this.#seq(false)),
    );
  }

  // ---- NOP, TMF, text, logout -------------------------------------------------------------

  #onNopOut(pdu: Pdu): void {
    const bhs = pdu.bhs;
    const itt = ittOf(bhs);
    const ttt = field32(bhs, 20);
    if (itt === RESERVED_TAG) {
      // An answer to our ping (or a ping that wants no answer).
      if (ttt === this.#pingTtt) this.#pingTtt = undefined;
      return;
    }
    if (ttt !== RESERVED_TAG) {
      this.#reject(RejectReason.PROTOCOL_ERROR, bhs);
      return;
    }
    this.#send(
      out.nopIn({ itt, ttt: RESERVED_TAG, lunBytes: bhs.subarray(8, 16) }, this.#seq(true)),
      Buffer.from(pdu.data),
    );
  }

  #onTmf(pdu: Pdu): void {
    const s = this.#session!;
    const bhs = pdu.bhs;
    const itt = ittOf(bhs);
    const fn = bhs[1]! & 0x7f;
    const respond = (response: number) => {
      if (this.#state !== 'full-feature') return;
      this.#send(out.tmfResponse({ itt, response }, this.#seq(true)));
    };
    if (!s.target || !s.nexus) {
      this.#reject(RejectReason.PROTOCOL_ERROR, bhs);
      return;
    }
    // TASK REASSIGN needs ERL 2 (RFC 7143 11.5.1).
    if (fn === 8) {
      respond(4);
      return;
    }
    const lun = decodeLun(bhs);
    const referencedTag = field32(bhs, 20);
    if (fn === TmfFunction.ABORT_TASK && !this.#tasks.has(referencedTag)) {
      respond(this.#window.abortUnseen(s, field32(bhs, 24), field32(bhs, 32)));
      return;
    }
    s.target.engine
      .taskManagement({ nexus: s.nexus, fn: fn as never, lun, referencedTag })
      .then(respond, (err) => {
        this.#log.error({ err }, 'task management failed');
        respond(255);
      });
  }

  #onLogout(pdu: Pdu): void {
    const bhs = pdu.bhs;
    const itt = ittOf(bhs);
    const reasonCode = bhs[1]! & 0x7f;
    const cid = bhs.readUInt16BE(20);
    const s = this.#session!;
    let response = 0;
    if (reasonCode === 2)
      response = 2; // connection recovery needs ERL 2
    else if (reasonCode === 1 && cid !== this.#cid) response = 1; // CID not found
    // Answer after the outstanding tasks have answered (RFC 7143 11.14).
    const pending = [...this.#tasks.values()];
    // RFC 7143 11.14: commands still waiting for data cannot finish; logout terminates them.
    if (response === 0) for (const t of pending) if (t.awaitingDataOut) t.abort();
    const send = () => {
      if (this.#state !== 'full-feature') return;
      this.#send(
        out.logoutResponse(
          { itt, response, time2wait: s.params.defaultTime2Wait, time2retain: 0 },
          this.#seq(true),
        ),
      );
      if (response === 0) {
        this.#phase.transition(['full-feature'], 'logged-out');
        this.#closeReason = 'logout';
        this.#end('logout');
      }
    };
    if (pending.length === 0 || response !== 0) send();
    else void waitForTasks(this, pending).then(send);
  }

  /** Whether a task of this connection is still outstanding. */
  hasTask(task: IscsiTask): boolean {
    return this.#tasks.get(task.itt) === task;
  }

  // ---- send path ----------------------------------------------------------------------------

  /** StatSN/ExpCmdSN/MaxCmdSN for an outgoing PDU; `advance` consumes a StatSN. */
  #seq(advance: boolean): out.SeqFields {
    const s = this.#session!;
    s.refreshWindow();
    const statSN = this.#statSN;
    if (advance) this.#statSN = snAdd(this.#statSN, 1);
    return { statSN, expCmdSN: s.expCmdSN, maxCmdSN: s.maxCmdSN };
  }

  #reject(reasonCode: number, rejected: Buffer): void {
    if (!this.#session || this.#state !== 'full-feature') {
      this.close('protocol error before full feature phase');
      return;
    }
    this.#log.info({ reason: reasonCode, opcode: opcodeOf(rejected) }, 'PDU rejected');
    this.#send(
      out.reject({ reason: reasonCode }, this.#seq(true)),
      Buffer.from(rejected.subarray(0, BHS_LENGTH)),
    );
  }

  #send(hdr: Buffer, data: Buffer = EMPTY): void {
    this.#writer.batch();
    this.#writer.write(hdr, data);
  }

  /** End of a write batch: its tasks' transmit stage ends once the kernel has the bytes. */
  #flushTransmitting(): void {
    const batch = this.#transmitting;
    if (batch.length === 0 || this.#socket.destroyed) return;
    this.#transmitting = [];
    this.#writer.whenSent(() => this.#transmitted(batch));
  }

  #transmitted(batch: IscsiTask[]): void {
    const obs = this.#observer;
    if (!obs) return;
    const now = performance.now();
    for (const t of batch) obs.stage(t.lun, 'transmit', (now - t.readyAt) / 1000);
  }

  // ---- timers -------------------------------------------------------------------------------

  #tick(): void {
    if (this.#state === 'closed') return;
    const now = Date.now();
    if (this.#state === 'login') {
      if (now - this.#startedAt > this.#opts.loginTimeoutMs) this.close('login timed out');
      return;
    }
    if (this.#state !== 'full-feature' || this.#opts.nopInIntervalMs <= 0) return;
    if (this.#pingTtt !== undefined) {
      if (now - this.#pingSentAt > this.#opts.nopInTimeoutMs) this.close('NOP-In ping unanswered');
      return;
    }
    if (now - this.#lastRx >= this.#opts.nopInIntervalMs) {
      this.#pingTtt = this.allocateTtt();
      this.#pingSentAt = now;
      // RFC 7143 11.19: a target ping has ITT 0xffffffff and does not advance StatSN.
      this.#send(out.nopIn({ itt: RESERVED_TAG, ttt: this.#pingTtt }, this.#seq(false)));
    }
  }
}

/** Resolves when none of `tasks` is outstanding on `conn` any more. */
function waitForTasks(conn: Connection, tasks: IscsiTask[]): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (conn.state !== 'full-feature' || tasks.every((t) => !conn.hasTask(t))) resolve();
      else setTimeout(check, 5);
    };
    check();
  });
}

/** The Extended CDB AHS (RFC 7143 11.3.4.2, type 1) holds CDB bytes 16 and up. */
function extendedCdb(ahs: Buffer): Buffer | undefined {
  let off = 0;
  let ext: Buffer | undefined = EMPTY;
  while (off + 4 <= ahs.length) {
    const len = ahs.readUInt16BE(off);
    const type = ahs[off + 2]!;
    if (off + 3 + len > ahs.length) return undefined;
    if (type === 1) ext = Buffer.from(ahs.subarray(off + 4, off + 3 + len));
    else if (type !== 2) return undefined;
    off += 4 + ((len - 1 + 3) & ~3);
  }
  return ext;
}
