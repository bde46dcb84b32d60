import type { Socket } from 'node:net';
import type { Completion } from '../scsi/command.js';
import { ScsiStatus } from '../scsi/spec/status.js';
import { ProtocolError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { type Admitted, CommandAdmission, type HeldPdu } from './admission.js';
import { ConnectionPhase, type ConnState } from './connection-phase.js';
import type { ConnectionPort } from './connection-port.js';
import { LoginDriver } from './login-driver.js';
import { onLogout } from './logout.js';
import { NopPing } from './nop-ping.js';
import { BHS_LENGTH, field32, InitiatorOpcode, itt as ittOf, opcodeOf, type Pdu } from './pdu/bhs.js';
import * as out from './pdu/target-pdus.js';
import { PduPump } from './pdu-pump.js';
import { PduReader, type RecvState, releasePduData } from './pdu-reader.js';
import { PduRouter } from './pdu-router.js';
import { PduWriter } from './pdu-writer.js';
import type { PortalOptions, TargetDirectory } from './portal-interface.js';
import { ReceiveFlow } from './receive-flow.js';
import { commandTask, onDataOut, TASK_SET_FULL } from './scsi-command.js';
import { dataInLength, ScsiResponder } from './scsi-response.js';
import type { Session } from './session.js';
import type { SessionRegistry } from './session-registry.js';
import { StageClock } from './stage-clock.js';
import { StatusNumbering } from './status-numbering.js';
import { dataOutPlacer, type IscsiTask, type R2tSender } from './task.js';
import { TextExchange } from './text-exchange.js';
import { onTmf } from './tmf.js';

export type { ConnState } from './connection-phase.js';

const EMPTY = Buffer.alloc(0);

/**
 * One iSCSI connection: it wires the receive state machine (pdu-reader), the phase machine
 * (connection-phase), login, the memory budget at the door (admission), the CmdSN window, the
 * SCSI command path and the send side, and dispatches each PDU to its handler. A protocol
 * violation closes this connection and nothing else.
 *
 * Buffer ownership: the data of a PDU the reader gathered into the pool is the transport's.
 * A SCSI command's data-out goes to its task (DataOut) and back to the pool when the task ends,
 * after the engine's completion; any other PDU's pooled data goes back once it was handled. A
 * completion's data-in is the engine's until `Completion.release`, which this connection calls
 * exactly once, after the kernel has the bytes (or at once when nothing is sent).
 */
export class Connection implements R2tSender {
  readonly id: number;
  readonly #socket: Socket;
  readonly #opts: PortalOptions;
  readonly #sessions: SessionRegistry;
  #log: Logger;
  readonly #phase: ConnectionPhase;
  readonly #login: LoginDriver;
  #session: Session | undefined;
  readonly #numbering = new StatusNumbering();
  readonly #stages: StageClock;
  readonly #reader = new PduReader(
    () => this.#stages.header(),
    dataOutPlacer((itt) => this.#tasks.get(itt)),
  );
  readonly #flow: ReceiveFlow;
  readonly #writer: PduWriter;
  readonly #responder: ScsiResponder;
  readonly #pump: PduPump;
  readonly #tasks = new Map<number, IscsiTask>();
  readonly #admission: CommandAdmission;
  readonly #router: PduRouter;
  /** Commands whose Data-In is queued and not yet handed to the kernel. */
  #sendingDataIn = 0;
  #nextTtt = 1;
  readonly #port: ConnectionPort;
  readonly #text: TextExchange;
  readonly #nop: NopPing;
  readonly #startedAt = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #closeReason = '';
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
    this.#opts = opts;
    this.#sessions = sessions;
    this.#log = log.child({ conn: id, peer: `${socket.remoteAddress}:${socket.remotePort}` });
    this.#phase = new ConnectionPhase(this.#log);
    this.#flow = new ReceiveFlow(socket);
    this.#writer = new PduWriter(
      socket,
      () => this.#state === 'closed',
      () => this.#stages.flush(socket.destroyed),
      () => this.#flow.pause('output'),
    );
    this.#stages = new StageClock((cb) => this.#writer.whenSent(cb));
    this.#responder = new ScsiResponder(
      this.#writer,
      (advance) => this.#seq(advance),
      () => this.#session!.params,
    );
    this.#login = new LoginDriver(
      opts,
      directory,
      sessions,
      this.#numbering,
      (hdr, data) => this.#send(hdr, data),
      this.#log,
    );
    const self = this;
    this.#port = {
      get closed() {
        return self.#state === 'closed';
      },
      get fullFeature() {
        return self.#state === 'full-feature';
      },
      get session() {
        return self.#session!;
      },
      get log() {
        return self.#log;
      },
      get cid() {
        return self.#login.cid;
      },
      get idle() {
        return self.#tasks.size === 0 && self.#sendingDataIn === 0;
      },
      get waiting() {
        return self.#router.window.waiting;
      },
      task: (itt) => this.#tasks.get(itt),
      tasks: () => this.#tasks.values(),
      hasTask: (task) => this.hasTask(task),
      send: (hdr, data) => this.#send(hdr, data),
      seq: (advance) => this.#seq(advance),
      reject: (reason, bhs) => this.#reject(reason, bhs),
      close: (reason) => this.close(reason),
      end: (reason) => this.#end(reason),
      dispatch: (pdu) => this.#dispatch(pdu),
      admit: (pdu) => this.#admission.admit(pdu),
      failed: (err) => this.#pump.failed(err),
      pump: () => this.#pump.pump(),
      endNexus: () => this.#endNexus('logout'),
    };
    this.#pump = new PduPump(this.#reader, this.#port);
    this.#admission = new CommandAdmission(this.#port, sessions, this.#flow);
    this.#router = new PduRouter(this.#port, this.#admission, {
      scsiCommand: (pdu, cmdSN) => this.#onScsiCommand(pdu, cmdSN),
      dataOut: (pdu) => onDataOut(this.#port, this.#stages, pdu),
      nopOut: (pdu) => this.#nop.onNopOut(pdu),
      tmf: (pdu, window) => onTmf(this.#port, window, pdu),
      text: (pdu) => this.#text.onText(pdu),
      logout: (pdu) =>
        onLogout(this.#port, pdu, () => {
          this.#phase.loggedOut();
          this.#closeReason = 'logout';
          this.#end('logout');
        }),
    });
    this.#nop = new NopPing(this.#port, opts, () => this.allocateTtt());
    this.#text = new TextExchange({
      send: (hdr, data) => this.#send(hdr, data),
      reject: (reason, bhs) => this.#reject(reason, bhs),
      seq: () => this.#seq(true),
      allocateTtt: () => this.allocateTtt(),
      session: () => this.#session!,
      settings: () => this.#opts.settings,
      directory: () => directory,
      localAddress: () => this.#socket.localAddress ?? '127.0.0.1',
    });
    this.closed = new Promise((r) => {
      this.#resolveClosed = r;
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#log.debug({ err: err.message }, 'socket error'));
    socket.on('close', () => this.#onClose());
    socket.on('drain', () => {
      if (this.#state !== 'closed') this.#flow.resume('output');
    });
    this.#timer = setInterval(
      () => this.#tick(),
      Math.max(250, Math.min(1000, opts.nopInIntervalMs || 1000)),
    );
    this.#timer.unref();
  }

  get cid(): number {
    return this.#login.cid;
  }

  get session(): Session | undefined {
    return this.#session;
  }

  get state(): ConnState {
    return this.#phase.state;
  }

  /** Where the reader is inside the current PDU (SPDK's iscsi_pdu_recv_state). */
  get receiveState(): RecvState {
    return this.#reader.state;
  }

  get #state(): ConnState {
    return this.#phase.state;
  }

  /** Closes this connection (reinstatement, shutdown or a protocol error). */
  close(reason: string): void {
    if (this.#state === 'closed') return;
    this.#closeReason ||= reason;
    this.#log.info({ reason }, 'closing connection');
    this.#phase.close(reason);
    this.#socket.destroy();
  }

  /** Ends the connection after the output queued so far is sent. */
  #end(reason: string): void {
    if (this.#state === 'closed') return;
    this.#closeReason ||= reason;
    this.#phase.close(reason);
    this.#socket.end();
    // A peer that never closes its side must not keep the socket forever.
    setTimeout(() => this.#socket.destroy(), 2000).unref();
  }

  #onClose(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#state !== 'closed') this.#phase.close(this.#closeReason || 'peer closed');
    // Each task's data-out goes back when its engine completion arrives (#complete): until
    // then the device may still be writing from it.
    for (const t of this.#tasks.values()) t.abort();
    this.#tasks.clear();
    this.#router.window.clear();
    this.#admission.close();
    this.#reader.clear();
    const s = this.#session;
    if (s && !s.closed) {
      // ERL 0: the loss of the only connection ends the session (RFC 7143 7.1.1).
      s.closed = true;
      this.#sessions.remove(s);
      void this.#endNexus(this.#closeReason === 'logout' ? 'logout' : 'connection-loss');
    }
    this.#log.debug({ reason: this.#closeReason || 'peer closed' }, 'connection closed');
    this.#resolveClosed();
  }

  #endNexus(why: 'logout' | 'connection-loss'): Promise<void> {
    const s = this.#session;
    if (!s?.nexus || !s.target || s.nexusEnded) return Promise.resolve();
    s.nexusEnded = true;
    return s.target.engine.nexusLost(s.nexus, why);
  }

  // ---- receive ------------------------------------------------------------------------------

  #onData(chunk: Buffer): void {
    if (this.#state === 'closed') return;
    this.#nop.received(Date.now());
    this.#stages.received();
    this.#reader.push(chunk);
    this.#pump.pump();
  }

  // ---- dispatch -----------------------------------------------------------------------------

  #dispatch(pdu: Pdu): void {
    const op = opcodeOf(pdu.bhs);
    if (this.#state === 'login') {
      if (op !== InitiatorOpcode.LOGIN_REQUEST) {
        throw new ProtocolError(`opcode 0x${op.toString(16)} before login completed`);
      }
      this.#onLogin(pdu);
      return;
    }
    if (this.#state !== 'full-feature') {
      releasePduData(pdu);
      return;
    }
    if (op === InitiatorOpcode.LOGIN_REQUEST) {
      throw new ProtocolError('login request in full feature phase');
    }
    this.#router.route(pdu);
  }

  // ---- login --------------------------------------------------------------------------------

  /** Login data stays the negotiation's (it joins continuations): not given back to the pool. */
  #onLogin(pdu: Pdu): void {
    const r = this.#login.onLogin(pdu, this);
    if (r.kind === 'failed') {
      this.#end(`login failed: ${r.why}`);
      return;
    }
    if (r.kind !== 'complete') return;
    this.#session = r.session;
    this.#log = r.log;
    // Digests and the receive limit apply from the first PDU after the final login response
    // (RFC 7143 13.1, 13.12).
    this.#writer.configure(r.params.headerDigest, r.params.dataDigest);
    this.#reader.configure({
      headerDigest: r.params.headerDigest,
      dataDigest: r.params.dataDigest,
      maxDataSegment: r.params.targetMaxRecvDataSegmentLength,
    });
    this.#stages.start(r.session.target?.engine.observer);
    this.#phase.loggedIn();
  }

  // ---- SCSI commands ------------------------------------------------------------------------

  #onScsiCommand(pdu: HeldPdu, cmdSN: number): void {
    const s = this.#session!;
    const admitted = pdu.admitted;
    pdu.admitted = undefined;
    const task = commandTask(pdu, cmdSN, s, this.#tasks, this.#sessions.limits.commandsPerSession, this);
    if (typeof task === 'number') {
      this.#release(admitted);
      releasePduData(pdu);
      if (task !== TASK_SET_FULL) {
        this.#reject(task, pdu.bhs);
        return;
      }
      // The session's share of the task set is full (SAM-5 5.3.3): the command does not run.
      this.#sessions.refused('task-set-full');
      this.#responder.taskSetFull(ittOf(pdu.bhs), field32(pdu.bhs, 20), this.#tasks.size);
      return;
    }
    this.#stages.arrived(task);
    this.#tasks.set(task.itt, task);
    s.inFlight++;
    s.target!.engine.execute(task).then(
      (c) => this.#complete(task, c, admitted),
      (err) => {
        this.#log.error({ err }, 'engine rejected a command');
        this.#complete(task, { status: ScsiStatus.CHECK_CONDITION, transferLength: 0 }, admitted);
      },
    );
  }

  /** Gives back a command's reservation (its response is with the kernel, or never will be). */
  #release(admitted: Admitted | undefined): void {
    this.#admission.release(admitted);
  }

  /**
   * The engine answered `task`: its data-out goes back (the device has it), then the response
   * goes out; the completion's data-in and the reservation go back once the kernel has them.
   */
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
    this.#stages.ready(task);
    if (dataInLength(task, c) === 0) {
      c.release?.();
      this.#release(admitted);
      this.#responder.respond(task, c, undefined);
      return;
    }
    // The reservation covers the Data-In until the kernel has it (a peer that does not read
    // keeps it in the socket's queue, and in this budget).
    this.#sendingDataIn++;
    this.#responder.respond(task, c, () => {
      this.#sendingDataIn--;
      c.release?.();
      this.#release(admitted);
    });
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

  /** Whether a task of this connection is still outstanding. */
  hasTask(task: IscsiTask): boolean {
    return this.#tasks.get(task.itt) === task;
  }

  // ---- send ---------------------------------------------------------------------------------

  #seq(advance: boolean): out.SeqFields {
    return this.#numbering.next(this.#session!, advance);
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

  // ---- timers -------------------------------------------------------------------------------

  #tick(): void {
    if (this.#state === 'closed') return;
    const now = Date.now();
    if (this.#state === 'login') {
      if (now - this.#startedAt > this.#opts.loginTimeoutMs) this.close('login timed out');
      return;
    }
    if (this.#state !== 'full-feature') return;
    const why = this.#nop.tick(now);
    if (why) this.close(why);
  }
}
