// A multipath client for cluster tests, over the test initiator (./initiator): one iSCSI session
// per path (one path per node), implicit ALUA like Linux dm-multipath with `prio alua` and
// scsi_dh_alua. It reads each path's target port group from VPD page 83h and the groups' states
// with REPORT TARGET PORT GROUPS through that path; sends I/O to the best usable path
// (Active/Optimized > Active/Non-optimized > Standby; Unavailable, Transitioning, Offline and
// failed paths are not used); re-reads the states on ASYMMETRIC ACCESS STATE CHANGED; and when a
// path fails (connection loss, timeout, NOT READY 04h/0Ah|0Bh|0Ch) re-reads the states and
// retries the command on the next best path until its retry window ends. Every path state
// transition, unit attention, RTPG answer and I/O attempt is recorded with its time
// (performance.now(), the clock tests measure with), so tests can assert sequences.
//
// The pure parts (RTPG and VPD 83h decoding, priorities, path choice, outcome classification)
// are exported on their own and unit-tested in test/unit/helpers/multipath/.
import { EventEmitter } from 'node:events';
import { afterAll } from 'vitest';
import {
  ConnectionClosedError,
  type ConnectOptions,
  IscsiInitiator,
  inquiryVpd,
  PrInAction,
  persistentReserveIn,
  persistentReserveOut,
  persistentReserveOutParams,
  read16,
  reportTargetPortGroups,
  type ScsiResult,
  TimeoutError,
  testUnitReady,
  write16,
} from './initiator/index.js';
import { SenseKey, Status } from './wire.js';

// ---------------------------------------------------------------------------------------------
// REPORT TARGET PORT GROUPS (SPC-4 6.36)

/** SPC-4 6.36.2 asymmetric access states (the Coordinator's names, src/cluster/coordinator.ts). */
export type AccessState =
  | 'active-optimized'
  | 'active-non-optimized'
  | 'standby'
  | 'unavailable'
  | 'lba-dependent'
  | 'offline'
  | 'transitioning'
  | 'reserved';

export function accessStateOf(code: number): AccessState {
  switch (code & 0x0f) {
    case 0x0:
      return 'active-optimized';
    case 0x1:
      return 'active-non-optimized';
    case 0x2:
      return 'standby';
    case 0x3:
      return 'unavailable';
    case 0x4:
      return 'lba-dependent';
    case 0xe:
      return 'offline';
    case 0xf:
      return 'transitioning';
    default:
      return 'reserved';
  }
}

/** Short labels for messages: A/O, A/NO, S, U, LBA, O, T. */
export function shortState(s: PathState): string {
  const labels: Record<PathState, string> = {
    'active-optimized': 'A/O',
    'active-non-optimized': 'A/NO',
    standby: 'S',
    unavailable: 'U',
    'lba-dependent': 'LBA',
    offline: 'O',
    transitioning: 'T',
    reserved: '?',
    unknown: 'unknown',
    failed: 'failed',
  };
  return labels[s];
}

export interface TargetPortGroupDescriptor {
  state: AccessState;
  /** The raw ASYMMETRIC ACCESS STATE field. */
  stateCode: number;
  /** PREF bit. */
  preferred: boolean;
  /** The supported-states byte (T_SUP O_SUP … AO_SUP). */
  supportedStates: number;
  targetPortGroupId: number;
  statusCode: number;
  vendorSpecific: number;
  relativeTargetPortIds: number[];
}

export interface RtpgData {
  format: 'length-only' | 'extended';
  /** RETURN DATA LENGTH: the bytes after the 4-byte length field the target had to give. */
  returnDataLength: number;
  /** The data ended before RETURN DATA LENGTH (allocation length too small): groups may be missing. */
  truncated: boolean;
  /** Extended header only: IMPLICIT TRANSITION TIME in seconds (0: unspecified). */
  implicitTransitionTime?: number;
  groups: TargetPortGroupDescriptor[];
}

/**
 * Decodes REPORT TARGET PORT GROUPS parameter data. With `requestedExtended` (PARAMETER DATA
 * FORMAT 001b sent) the header is extended when its FORMAT TYPE is 001b; a device server that
 * answers length-only instead is decoded as such (byte 4 is then a descriptor, whose bits 6:4 are
 * reserved, so the two cannot be confused). Only whole descriptors within the data are decoded.
 */
export function decodeRtpg(data: Buffer, requestedExtended = false): RtpgData {
  if (data.length < 4) throw new RangeError(`RTPG data of ${data.length} bytes: no RETURN DATA LENGTH`);
  const returnDataLength = data.readUInt32BE(0);
  const extended = requestedExtended && data.length >= 8 && ((data[4]! >> 4) & 0x07) === 1;
  const end = Math.min(data.length, 4 + returnDataLength);
  let truncated = data.length < 4 + returnDataLength;
  const out: RtpgData = {
    format: extended ? 'extended' : 'length-only',
    returnDataLength,
    truncated,
    groups: [],
  };
  if (extended) out.implicitTransitionTime = data[5]!;
  let off = extended ? 8 : 4;
  while (off < end) {
    if (off + 8 > end) {
      truncated = true;
      break;
    }
    const count = data[off + 7]!;
    if (off + 8 + 4 * count > end) {
      truncated = true;
      break;
    }
    const ids: number[] = [];
    for (let i = 0; i < count; i++) ids.push(data.readUInt16BE(off + 8 + 4 * i + 2));
    out.groups.push({
      state: accessStateOf(data[off]!),
      stateCode: data[off]! & 0x0f,
      preferred: (data[off]! & 0x80) !== 0,
      supportedStates: data[off + 1]!,
      targetPortGroupId: data.readUInt16BE(off + 2),
      statusCode: data[off + 5]!,
      vendorSpecific: data[off + 6]!,
      relativeTargetPortIds: ids,
    });
    off += 8 + 4 * count;
  }
  out.truncated = truncated;
  return out;
}

// ---------------------------------------------------------------------------------------------
// VPD page 83h (SPC-4 7.8.6): which target port and port group a path is

export interface Designator {
  codeSet: number;
  piv: boolean;
  /** 0 logical unit, 1 target port, 2 SCSI target device. */
  association: number;
  type: number;
  value: Buffer;
}

export interface DeviceIdentification {
  designators: Designator[];
  /** Type 4 with association 1: the port the command arrived on. */
  relativeTargetPortId?: number;
  /** Type 5 with association 1: that port's target port group. */
  targetPortGroupId?: number;
}

export function decodeDeviceIdentification(data: Buffer): DeviceIdentification {
  if (data.length < 4 || data[1] !== 0x83) throw new RangeError('not VPD page 83h');
  const end = Math.min(data.length, 4 + data.readUInt16BE(2));
  const out: DeviceIdentification = { designators: [] };
  for (let off = 4; off + 4 <= end; ) {
    const len = data[off + 3]!;
    if (off + 4 + len > end) break;
    const d: Designator = {
      codeSet: data[off]! & 0x0f,
      piv: (data[off + 1]! & 0x80) !== 0,
      association: (data[off + 1]! >> 4) & 0x03,
      type: data[off + 1]! & 0x0f,
      value: Buffer.from(data.subarray(off + 4, off + 4 + len)),
    };
    out.designators.push(d);
    if (d.association === 1 && d.type === 4 && len >= 4) out.relativeTargetPortId = d.value.readUInt16BE(2);
    if (d.association === 1 && d.type === 5 && len >= 4) out.targetPortGroupId = d.value.readUInt16BE(2);
    off += 4 + len;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Path priority and choice (multipath-tools libmultipath/prioritizers/alua.c)

/** A path's state as the client sees it: an ALUA state, not read yet, or its session is down. */
export type PathState = AccessState | 'unknown' | 'failed';

/**
 * dm-multipath `prio alua`: A/O 50, A/NO 10, LBA-dependent 5, Standby 1, anything else 0; with
 * `exclusive_pref_bit` a group with PREF set gets 80 more.
 */
export function aluaPriority(state: PathState, preferred = false, exclusivePrefBit = false): number {
  const base =
    state === 'active-optimized'
      ? 50
      : state === 'active-non-optimized'
        ? 10
        : state === 'lba-dependent'
          ? 5
          : state === 'standby'
            ? 1
            : 0;
  return base + (exclusivePrefBit && preferred ? 80 : 0);
}

/**
 * Whether I/O may be sent down a path in this state. Standby is usable but last (it answers
 * NOT READY 04h/0Bh, which moves the command on); Unavailable, Transitioning and Offline are not
 * (scsi_dh_alua fails I/O to them); `unknown` (states not read yet) is tried, last of all.
 */
export function isUsable(state: PathState): boolean {
  return !['unavailable', 'transitioning', 'offline', 'failed', 'reserved'].includes(state);
}

export interface PathCandidate {
  readonly name: string;
  readonly state: PathState;
  readonly preferred?: boolean;
}

/**
 * The path the next command goes to: the usable path of highest priority, ties broken by the
 * order given (dm-multipath's failover policy within the highest priority group); `exclude`
 * names paths already tried for this command.
 */
export function choosePath<T extends PathCandidate>(
  paths: readonly T[],
  exclude: ReadonlySet<string> = new Set(),
  exclusivePrefBit = false,
): T | undefined {
  let best: T | undefined;
  let bestPrio = -1;
  for (const p of paths) {
    if (!isUsable(p.state) || exclude.has(p.name)) continue;
    // `unknown` ranks below Standby: try a path whose state is known first.
    const prio = p.state === 'unknown' ? 0.5 : aluaPriority(p.state, p.preferred, exclusivePrefBit);
    if (prio > bestPrio) {
      best = p;
      bestPrio = prio;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Outcome classification

export interface SenseTriple {
  key: number;
  asc: number;
  ascq: number;
}

/** '02h/04h/0Bh' for assertion messages. */
export function senseString(s: SenseTriple | undefined): string {
  if (!s) return '(no sense)';
  const h = (n: number) => `${n.toString(16).padStart(2, '0').toUpperCase()}h`;
  return `${h(s.key)}/${h(s.asc)}/${h(s.ascq)}`;
}

/** `GOOD`, `CHECK CONDITION 02h/04h/0Bh`, `RESERVATION CONFLICT`, … */
export function describeResult(r: { status: number; sense?: SenseTriple }): string {
  const names: Record<number, string> = {
    0: 'GOOD',
    2: 'CHECK CONDITION',
    4: 'CONDITION MET',
    8: 'BUSY',
    24: 'RESERVATION CONFLICT',
    40: 'TASK SET FULL',
    48: 'ACA ACTIVE',
    64: 'TASK ABORTED',
  };
  const name = names[r.status] ?? `status 0x${r.status.toString(16)}`;
  return r.status === Status.CHECK_CONDITION ? `${name} ${senseString(r.sense)}` : name;
}

export type Outcome =
  | 'good'
  | 'check-condition'
  | 'reservation-conflict'
  | 'busy'
  | 'task-aborted'
  | 'other-status'
  | 'connection-lost'
  | 'timeout'
  | 'error';

/**
 * What the client does next after one attempt:
 * - done: hand the result to the caller (GOOD, or an answer that is not about the path:
 *   RESERVATION CONFLICT, ILLEGAL REQUEST, MEDIUM ERROR, …)
 * - retry-same: the command was not executed and the same path may take it (unit attention,
 *   BUSY, TASK SET FULL, becoming ready); `refresh` when the states must be re-read first
 *   (ASYMMETRIC ACCESS STATE CHANGED, implicit transition failed)
 * - path-failed: this path cannot do I/O now (connection lost, timeout, Standby, Unavailable,
 *   Transitioning, ABORTED COMMAND): mark it, re-read the states, try the next best path;
 *   `state` is what the sense says the path's group is in.
 */
export type Verdict =
  | { kind: 'done'; outcome: Outcome }
  | { kind: 'retry-same'; outcome: Outcome; refresh: boolean; unitAttention?: SenseTriple; delayMs: number }
  | { kind: 'path-failed'; outcome: Outcome; state: PathState; reason: string };

export function classify(r: ScsiResult | Error): Verdict {
  if (r instanceof Error) {
    if (r instanceof TimeoutError)
      return { kind: 'path-failed', outcome: 'timeout', state: 'failed', reason: 'timeout' };
    if (r instanceof ConnectionClosedError)
      return { kind: 'path-failed', outcome: 'connection-lost', state: 'failed', reason: 'connection lost' };
    return { kind: 'path-failed', outcome: 'error', state: 'failed', reason: r.message };
  }
  switch (r.status) {
    case Status.GOOD:
    case Status.CONDITION_MET:
      return { kind: 'done', outcome: 'good' };
    case Status.RESERVATION_CONFLICT:
      return { kind: 'done', outcome: 'reservation-conflict' };
    case Status.BUSY:
    case Status.TASK_SET_FULL:
      return { kind: 'retry-same', outcome: 'busy', refresh: false, delayMs: 50 };
    case Status.TASK_ABORTED:
      return { kind: 'done', outcome: 'task-aborted' };
    case Status.CHECK_CONDITION:
      break;
    default:
      return { kind: 'done', outcome: 'other-status' };
  }
  const s = r.sense;
  if (!s) return { kind: 'done', outcome: 'check-condition' };
  const t: SenseTriple = { key: s.key, asc: s.asc, ascq: s.ascq };
  if (s.key === SenseKey.UNIT_ATTENTION) {
    // 2Ah/06h ASYMMETRIC ACCESS STATE CHANGED, 2Ah/07h IMPLICIT ASYMMETRIC ACCESS STATE TRANSITION FAILED
    const refresh = s.asc === 0x2a && (s.ascq === 0x06 || s.ascq === 0x07);
    return { kind: 'retry-same', outcome: 'check-condition', refresh, unitAttention: t, delayMs: 0 };
  }
  if (s.key === SenseKey.NOT_READY && s.asc === 0x04) {
    const byAscq: Record<number, PathState> = { 10: 'transitioning', 11: 'standby', 12: 'unavailable' };
    const state = byAscq[s.ascq];
    if (state) return { kind: 'path-failed', outcome: 'check-condition', state, reason: senseString(t) };
    // 04h/01h LOGICAL UNIT IS IN PROCESS OF BECOMING READY
    if (s.ascq === 0x01)
      return { kind: 'retry-same', outcome: 'check-condition', refresh: false, delayMs: 100 };
  }
  if (s.key === SenseKey.ABORTED_COMMAND)
    return { kind: 'path-failed', outcome: 'check-condition', state: 'unknown', reason: senseString(t) };
  return { kind: 'done', outcome: 'check-condition' };
}

// ---------------------------------------------------------------------------------------------
// The client

export interface PathSpec {
  /** Usually the node name. */
  name: string;
  host: string;
  port: number;
}

export interface MultipathOptions {
  paths: PathSpec[];
  target: string;
  initiatorName: string;
  lun?: number;
  /** Per-path ISID (6 bytes or 12 hex digits). Default: a random one per session. */
  isid?: (path: string) => Buffer | string | undefined;
  /** One attempt's time limit. Default 5 s. */
  commandTimeoutMs?: number;
  /** How long a command keeps being retried on other paths. Default 30 s. */
  retryWindowMs?: number;
  /** TCP connect + login limit when (re)connecting a path. Default 3 s. */
  connectTimeoutMs?: number;
  /** Pause between rounds when no path is usable. Default 100 ms. */
  noPathDelayMs?: number;
  /** Which RTPG format the client reads the states with. Default extended. */
  rtpgFormat?: 'length-only' | 'extended';
  /** multipathd's path checker: TEST UNIT READY on every path every N ms (0: off, the default). */
  checkerIntervalMs?: number;
  /** Passed to every session (e.g. relax: ['ExpDataSN']). */
  connect?: Partial<ConnectOptions>;
}

export interface Transition {
  at: number;
  wall: number;
  path: string;
  from: PathState;
  to: PathState;
  cause: string;
}

export interface IoRecord {
  /** One id per execute() call; attempts of the same command share it. */
  command: number;
  attempt: number;
  op: string;
  path: string;
  start: number;
  end: number;
  wall: number;
  outcome: Outcome;
  status?: number;
  sense?: SenseTriple;
  error?: string;
  lba?: number;
  blocks?: number;
  tag?: string;
}

export interface UnitAttentionRecord {
  at: number;
  path: string;
  asc: number;
  ascq: number;
  op: string;
}

export interface RtpgRecord {
  at: number;
  path: string;
  data: RtpgData;
  raw: Buffer;
}

export interface PathInfo {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly state: PathState;
  readonly preferred: boolean;
  readonly connected: boolean;
  /** From VPD 83h on this path (undefined until read). */
  readonly targetPortGroupId?: number;
  readonly relativeTargetPortId?: number;
}

export interface ExecuteOptions {
  dataOut?: Buffer;
  expectedDataIn?: number;
  /** For the records: READ, WRITE, … (default: the opcode in hex). */
  op?: string;
  lba?: number;
  blocks?: number;
  tag?: string;
  timeoutMs?: number;
  retryWindowMs?: number;
}

export interface MultipathResult {
  result: ScsiResult;
  path: string;
  attempts: number;
  /** Start of the first attempt to the end of the last (ms). */
  ms: number;
}

/** Every path failed for the whole retry window: the last attempts say why. */
export class AllPathsFailedError extends Error {
  constructor(
    readonly op: string,
    readonly attempts: IoRecord[],
    readonly states: string,
  ) {
    const last = attempts
      .slice(-6)
      .map((a) => `${a.path}: ${a.error ?? describeResult({ status: a.status ?? -1, sense: a.sense })}`);
    super(
      `${op}: no path took the command (paths ${states}; ${attempts.length} attempts; last: ${last.join('; ') || 'none'})`,
    );
  }
}

type MultipathEvents = {
  transition: [Transition];
  io: [IoRecord];
  unitAttention: [UnitAttentionRecord];
};

interface PathEntry {
  spec: PathSpec;
  state: PathState;
  preferred: boolean;
  session?: IscsiInitiator;
  connecting?: Promise<void>;
  targetPortGroupId?: number;
  relativeTargetPortId?: number;
}

const clients = new Set<MultipathClient>();
afterAll(async () => {
  await Promise.all([...clients].map((c) => c.close()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let commandIds = 0;

export class MultipathClient extends EventEmitter<MultipathEvents> {
  readonly transitions: Transition[] = [];
  readonly io: IoRecord[] = [];
  readonly unitAttentions: UnitAttentionRecord[] = [];
  readonly rtpgReads: RtpgRecord[] = [];
  readonly lun: number;
  readonly #o: Required<Omit<MultipathOptions, 'isid' | 'connect' | 'lun'>> & MultipathOptions;
  readonly #paths: PathEntry[];
  #refreshing: Promise<void> | undefined;
  #checker: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(opts: MultipathOptions) {
    super();
    this.#o = {
      commandTimeoutMs: 5000,
      retryWindowMs: 30_000,
      connectTimeoutMs: 3000,
      noPathDelayMs: 100,
      rtpgFormat: 'extended',
      checkerIntervalMs: 0,
      ...opts,
    };
    this.lun = opts.lun ?? 0;
    this.#paths = opts.paths.map((spec) => ({ spec, state: 'unknown', preferred: false }));
  }

  /** Logs in on every path (at least one must work), then reads VPD 83h and the ALUA states. */
  static async connect(opts: MultipathOptions): Promise<MultipathClient> {
    if (opts.paths.length === 0) throw new Error('MultipathClient: no paths');
    const c = new MultipathClient(opts);
    clients.add(c);
    await Promise.all(c.#paths.map((p) => c.#connectPath(p)));
    if (!c.#paths.some((p) => p.session)) {
      await c.close();
      throw new Error(
        `MultipathClient: no path could log in (${opts.paths.map((p) => `${p.host}:${p.port}`).join(', ')})`,
      );
    }
    await c.refresh();
    if (c.#o.checkerIntervalMs > 0) c.#startChecker();
    return c;
  }

  get paths(): PathInfo[] {
    return this.#paths.map((p) => ({
      name: p.spec.name,
      host: p.spec.host,
      port: p.spec.port,
      state: p.state,
      preferred: p.preferred,
      connected: p.session !== undefined && !p.session.isClosed,
      targetPortGroupId: p.targetPortGroupId,
      relativeTargetPortId: p.relativeTargetPortId,
    }));
  }

  state(path: string): PathState {
    return this.#path(path).state;
  }

  /** `a=A/O b=A/NO` */
  describeStates(): string {
    return this.#paths.map((p) => `${p.spec.name}=${shortState(p.state)}`).join(' ');
  }

  /** The path the next command would use. */
  bestPath(): string | undefined {
    return choosePath(this.#candidates())?.name;
  }

  /** The session of one path (undefined while it is down), for raw commands. */
  session(path: string): IscsiInitiator | undefined {
    return this.#path(path).session;
  }

  /** Transitions of one path, as `from->to` strings, for sequence assertions. */
  sequence(path: string): string[] {
    return this.transitions
      .filter((t) => t.path === path)
      .map((t) => `${shortState(t.from)}->${shortState(t.to)}`);
  }

  /**
   * Re-reads the states: reconnects failed paths, then RTPG through every connected path (each
   * path takes its state from its own answer, as dm-multipath's prioritizer does). Concurrent
   * callers share one refresh.
   */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#doRefresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /** REPORT TARGET PORT GROUPS through one path (unit attentions consumed and recorded). */
  async rtpg(path: string, format: 'length-only' | 'extended' = this.#o.rtpgFormat): Promise<RtpgRecord> {
    const p = this.#path(path);
    const extended = format === 'extended';
    const r = await this.#executeOn(
      path,
      reportTargetPortGroups(4096, extended),
      { expectedDataIn: 4096, op: extended ? 'RTPG(ext)' : 'RTPG' },
      true,
    );
    if (r.status !== Status.GOOD) throw new Error(`RTPG through ${path}: ${describeResult(r)}`);
    const rec: RtpgRecord = { at: performance.now(), path, data: decodeRtpg(r.data, extended), raw: r.data };
    this.rtpgReads.push(rec);
    this.#applyRtpg(p, rec.data, `RTPG through ${path}`);
    return rec;
  }

  /**
   * One command with failover: the best usable path; on a path failure the states are re-read
   * and the next best path takes it, until the retry window ends (then AllPathsFailedError).
   */
  async execute(cdb: Buffer, opts: ExecuteOptions = {}): Promise<MultipathResult> {
    const command = ++commandIds;
    const op = opts.op ?? `0x${cdb[0]!.toString(16)}`;
    const t0 = performance.now();
    const deadline = t0 + (opts.retryWindowMs ?? this.#o.retryWindowMs);
    const attempts: IoRecord[] = [];
    let tried = new Set<string>();
    let uaRetries = 0;
    for (let attempt = 1; ; attempt++) {
      if (this.#closed) throw new Error('MultipathClient closed');
      if (performance.now() > deadline) throw new AllPathsFailedError(op, attempts, this.describeStates());
      const p = choosePath(this.#candidates(), tried);
      if (!p) {
        // Every usable path was tried (or none is usable): re-read the states, start over.
        await sleep(this.#o.noPathDelayMs);
        await this.refresh();
        tried = new Set();
        continue;
      }
      const entry = this.#path(p.name);
      const { rec, outcome } = await this.#attempt(entry, cdb, opts, command, attempt, op);
      attempts.push(rec);
      const v = classify(outcome);
      if (v.kind === 'done') {
        return { result: outcome as ScsiResult, path: p.name, attempts: attempt, ms: performance.now() - t0 };
      }
      if (v.kind === 'retry-same') {
        if (v.unitAttention && ++uaRetries > 16) {
          return {
            result: outcome as ScsiResult,
            path: p.name,
            attempts: attempt,
            ms: performance.now() - t0,
          };
        }
        if (v.refresh) await this.refresh();
        if (v.delayMs > 0) await sleep(v.delayMs);
        continue;
      }
      // path-failed
      this.#fail(entry, v.state, `${op}: ${v.reason}`);
      tried.add(p.name);
      await this.refresh();
    }
  }

  /**
   * One command down one path, no failover: unit attentions are recorded and the command is
   * sent again (at most 16 times) until another answer comes. Errors (connection lost,
   * timeout) are thrown after being recorded, and mark the path failed.
   */
  async executeOn(path: string, cdb: Buffer, opts: ExecuteOptions = {}): Promise<ScsiResult> {
    return this.#executeOn(path, cdb, opts, false);
  }

  /**
   * `internal`: called from a refresh or a login (which must neither log in again nor start a
   * refresh: they would wait for themselves). Otherwise a down path is logged in first, and after
   * ASYMMETRIC ACCESS STATE CHANGED the states are re-read before returning.
   */
  async #executeOn(path: string, cdb: Buffer, opts: ExecuteOptions, internal: boolean): Promise<ScsiResult> {
    const entry = this.#path(path);
    const command = ++commandIds;
    const op = opts.op ?? `0x${cdb[0]!.toString(16)}`;
    let stale = false;
    for (let attempt = 1; ; attempt++) {
      if (!internal && (!entry.session || entry.session.isClosed)) await this.#connectPath(entry);
      const { outcome } = await this.#attempt(entry, cdb, opts, command, attempt, op);
      if (outcome instanceof Error) {
        this.#fail(entry, 'failed', `${op}: ${outcome.message}`);
        throw outcome;
      }
      const v = classify(outcome);
      if (v.kind === 'retry-same' && v.refresh) stale = true;
      if (v.kind === 'retry-same' && v.unitAttention && attempt <= 16) continue;
      if (stale && !internal) await this.refresh();
      return outcome;
    }
  }

  read(lba: number, blocks: number, blockSize = 512, opts: ExecuteOptions = {}): Promise<MultipathResult> {
    return this.execute(read16(lba, blocks), {
      op: 'READ',
      lba,
      blocks,
      expectedDataIn: blocks * blockSize,
      ...opts,
    });
  }

  write(lba: number, data: Buffer, blockSize = 512, opts: ExecuteOptions = {}): Promise<MultipathResult> {
    const blocks = data.length / blockSize;
    return this.execute(write16(lba, blocks), { op: 'WRITE', lba, blocks, dataOut: data, ...opts });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clients.delete(this);
    if (this.#checker) clearInterval(this.#checker);
    await Promise.all(
      this.#paths.map(async (p) => {
        const s = p.session;
        p.session = undefined;
        if (!s || s.isClosed) return;
        s.close();
        await s.closed;
      }),
    );
  }

  // -------------------------------------------------------------------------------------------

  #path(name: string): PathEntry {
    const p = this.#paths.find((x) => x.spec.name === name);
    if (!p) throw new Error(`no path ${name} (paths: ${this.#paths.map((x) => x.spec.name).join(', ')})`);
    return p;
  }

  #candidates(): PathCandidate[] {
    return this.#paths.map((p) => ({
      name: p.spec.name,
      // A path whose session is down is failed whatever its group's state.
      state: p.session && !p.session.isClosed ? p.state : 'failed',
      preferred: p.preferred,
    }));
  }

  #transition(p: PathEntry, to: PathState, cause: string): void {
    if (p.state === to) return;
    const t: Transition = {
      at: performance.now(),
      wall: Date.now(),
      path: p.spec.name,
      from: p.state,
      to,
      cause,
    };
    p.state = to;
    this.transitions.push(t);
    this.emit('transition', t);
  }

  #fail(p: PathEntry, state: PathState, cause: string): void {
    if (state === 'failed' && p.session) {
      // A path that timed out or broke is dropped, like the SCSI error handler does; its
      // pending commands fail with it, and the next refresh logs in again.
      const s = p.session;
      p.session = undefined;
      s.close();
    }
    this.#transition(p, state, cause);
  }

  async #attempt(
    p: PathEntry,
    cdb: Buffer,
    opts: ExecuteOptions,
    command: number,
    attempt: number,
    op: string,
  ): Promise<{ rec: IoRecord; outcome: ScsiResult | Error }> {
    const start = performance.now();
    const wall = Date.now();
    let outcome: ScsiResult | Error;
    const s = p.session;
    if (!s || s.isClosed) {
      outcome = new ConnectionClosedError(`path ${p.spec.name} is not connected`);
    } else {
      try {
        outcome = await s.scsi(this.lun, cdb, {
          dataOut: opts.dataOut,
          expectedDataIn: opts.expectedDataIn,
          timeoutMs: opts.timeoutMs ?? this.#o.commandTimeoutMs,
        });
      } catch (err) {
        outcome = err as Error;
      }
    }
    const v = classify(outcome);
    const rec: IoRecord = {
      command,
      attempt,
      op,
      path: p.spec.name,
      start,
      end: performance.now(),
      wall,
      outcome: v.outcome,
      lba: opts.lba,
      blocks: opts.blocks,
      tag: opts.tag,
    };
    if (outcome instanceof Error) rec.error = `${outcome.name}: ${outcome.message}`;
    else {
      rec.status = outcome.status;
      if (outcome.sense)
        rec.sense = { key: outcome.sense.key, asc: outcome.sense.asc, ascq: outcome.sense.ascq };
    }
    this.io.push(rec);
    this.emit('io', rec);
    if (v.kind === 'retry-same' && v.unitAttention) {
      const ua: UnitAttentionRecord = {
        at: rec.end,
        path: p.spec.name,
        asc: v.unitAttention.asc,
        ascq: v.unitAttention.ascq,
        op,
      };
      this.unitAttentions.push(ua);
      this.emit('unitAttention', ua);
    }
    return { rec, outcome };
  }

  /** Logs in (once at a time per path); failures leave the path failed. */
  #connectPath(p: PathEntry): Promise<void> {
    p.connecting ??= (async () => {
      try {
        const s = await IscsiInitiator.connect({
          host: p.spec.host,
          port: p.spec.port,
          initiatorName: this.#o.initiatorName,
          sessionType: 'Normal',
          targetName: this.#o.target,
          isid: this.#o.isid?.(p.spec.name),
          timeoutMs: this.#o.connectTimeoutMs,
          ...this.#o.connect,
        });
        if (this.#closed) {
          s.close();
          return;
        }
        p.session = s;
        void s.closed.then(() => {
          if (p.session === s) {
            p.session = undefined;
            this.#transition(p, 'failed', 'connection closed');
          }
        });
        await this.#identify(p);
      } catch (err) {
        const s = p.session;
        p.session = undefined;
        s?.close();
        this.#transition(p, 'failed', `login: ${(err as Error).message}`);
      }
    })().finally(() => {
      p.connecting = undefined;
    });
    return p.connecting;
  }

  /** VPD 83h through the path: which relative port and target port group it is. */
  async #identify(p: PathEntry): Promise<void> {
    const r = await this.#executeOn(
      p.spec.name,
      inquiryVpd(0x83, 1024),
      { expectedDataIn: 1024, op: 'INQUIRY(83h)' },
      true,
    );
    if (r.status !== Status.GOOD) throw new Error(`VPD 83h through ${p.spec.name}: ${describeResult(r)}`);
    const id = decodeDeviceIdentification(r.data);
    p.targetPortGroupId = id.targetPortGroupId;
    p.relativeTargetPortId = id.relativeTargetPortId;
  }

  #applyRtpg(p: PathEntry, d: RtpgData, cause: string): void {
    const g =
      d.groups.find(
        (x) => p.targetPortGroupId !== undefined && x.targetPortGroupId === p.targetPortGroupId,
      ) ??
      d.groups.find(
        (x) =>
          p.relativeTargetPortId !== undefined && x.relativeTargetPortIds.includes(p.relativeTargetPortId),
      );
    p.preferred = g?.preferred ?? false;
    this.#transition(p, g ? g.state : 'unknown', cause);
  }

  async #doRefresh(): Promise<void> {
    await Promise.all(
      this.#paths.map(async (p) => {
        if (!p.session || p.session.isClosed) await this.#connectPath(p);
        if (!p.session || p.session.isClosed) return;
        try {
          await this.rtpg(p.spec.name);
        } catch (err) {
          if (err instanceof ConnectionClosedError || err instanceof TimeoutError) return; // executeOn marked it
          this.#transition(p, 'unknown', (err as Error).message);
        }
      }),
    );
  }

  #startChecker(): void {
    let busy = false;
    this.#checker = setInterval(() => {
      if (busy || this.#closed) return;
      busy = true;
      void (async () => {
        let stale = false;
        await Promise.all(
          this.#paths.map(async (p) => {
            if (!p.session || p.session.isClosed) {
              stale = true;
              return;
            }
            try {
              const uas = this.unitAttentions.length;
              const r = await this.#executeOn(p.spec.name, testUnitReady(), { op: 'TUR(checker)' }, true);
              const v = classify(r);
              if (this.unitAttentions.length > uas) stale = true;
              if (v.kind === 'path-failed' && p.state !== v.state) stale = true;
              if (v.kind === 'done' && !isUsable(p.state)) stale = true;
            } catch {
              stale = true;
            }
          }),
        );
        if (stale) await this.refresh();
      })().finally(() => {
        busy = false;
      });
    }, this.#o.checkerIntervalMs);
    this.#checker.unref();
  }
}

// ---------------------------------------------------------------------------------------------
// Single sessions (one I_T nexus), for reservation tests

/**
 * Logs in through one portal and consumes the unit attentions a new I_T nexus starts with
 * (POWER ON, RESET, …) with TEST UNIT READY, returning them. A TUR that answers anything but a
 * unit attention or GOOD is left to the caller (e.g. Standby's NOT READY).
 */
export async function openSession(opts: {
  host: string;
  port: number;
  target: string;
  initiatorName: string;
  isid?: Buffer | string;
  lun?: number;
  timeoutMs?: number;
  connect?: Partial<ConnectOptions>;
}): Promise<{ session: IscsiInitiator; unitAttentions: SenseTriple[] }> {
  const session = await IscsiInitiator.connect({
    host: opts.host,
    port: opts.port,
    initiatorName: opts.initiatorName,
    sessionType: 'Normal',
    targetName: opts.target,
    isid: opts.isid,
    timeoutMs: opts.timeoutMs ?? 10_000,
    ...opts.connect,
  });
  const unitAttentions: SenseTriple[] = [];
  for (let i = 0; i < 8; i++) {
    const r = await session.scsi(opts.lun ?? 0, testUnitReady());
    if (r.status === Status.CHECK_CONDITION && r.sense?.key === SenseKey.UNIT_ATTENTION) {
      unitAttentions.push({ key: r.sense.key, asc: r.sense.asc, ascq: r.sense.ascq });
      continue;
    }
    break;
  }
  return { session, unitAttentions };
}

// ---------------------------------------------------------------------------------------------
// Persistent reservations over one session (SPC-4 6.15, 6.16)

/** PERSISTENT RESERVE OUT with the basic 24-byte parameter list. */
export function prOut(
  s: IscsiInitiator,
  action: number,
  p: { key?: bigint; serviceActionKey?: bigint; type?: number; aptpl?: boolean; lun?: number } = {},
): Promise<ScsiResult> {
  return s.scsi(p.lun ?? 0, persistentReserveOut(action, p.type ?? 0, 24), {
    dataOut: persistentReserveOutParams({ key: p.key, serviceActionKey: p.serviceActionKey, aptpl: p.aptpl }),
  });
}

export interface ReadKeys {
  result: ScsiResult;
  generation: number;
  keys: bigint[];
}

/** PERSISTENT RESERVE IN / READ KEYS (keys empty unless GOOD). */
export async function readKeys(s: IscsiInitiator, lun = 0): Promise<ReadKeys> {
  const result = await s.scsi(lun, persistentReserveIn(PrInAction.READ_KEYS, 1024), { expectedDataIn: 1024 });
  if (result.status !== Status.GOOD || result.data.length < 8) return { result, generation: -1, keys: [] };
  const d = result.data;
  const len = d.readUInt32BE(4);
  const keys: bigint[] = [];
  for (let off = 8; off + 8 <= Math.min(d.length, 8 + len); off += 8) keys.push(d.readBigUInt64BE(off));
  return { result, generation: d.readUInt32BE(0), keys };
}

export interface ReadReservation {
  result: ScsiResult;
  generation: number;
  /** undefined: no persistent reservation. */
  reservation?: { key: bigint; scope: number; type: number };
}

/** PERSISTENT RESERVE IN / READ RESERVATION. */
export async function readReservation(s: IscsiInitiator, lun = 0): Promise<ReadReservation> {
  const result = await s.scsi(lun, persistentReserveIn(PrInAction.READ_RESERVATION, 1024), {
    expectedDataIn: 1024,
  });
  if (result.status !== Status.GOOD || result.data.length < 8) return { result, generation: -1 };
  const d = result.data;
  const out: ReadReservation = { result, generation: d.readUInt32BE(0) };
  if (d.readUInt32BE(4) >= 16 && d.length >= 24)
    out.reservation = { key: d.readBigUInt64BE(8), scope: d[21]! >> 4, type: d[21]! & 0x0f };
  return out;
}

/** PERSISTENT RESERVE IN / REPORT CAPABILITIES: PTPL_C (can persist) and PTPL_A (persisting now). */
export async function reportCapabilities(
  s: IscsiInitiator,
  lun = 0,
): Promise<{ result: ScsiResult; ptplC: boolean; ptplA: boolean }> {
  const result = await s.scsi(lun, persistentReserveIn(PrInAction.REPORT_CAPABILITIES, 8), {
    expectedDataIn: 8,
  });
  const d = result.data;
  return { result, ptplC: d.length > 2 && (d[2]! & 0x01) !== 0, ptplA: d.length > 3 && (d[3]! & 0x01) !== 0 };
}
