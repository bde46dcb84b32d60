// A loopback transport for the SCSI engine: builds TransportCommands the way a fabric would
// (nexus, LUN, tag, 16-byte CDB, task attribute, EDTL, R/W bits, abort signal, data-out) and
// runs them through a ScsiTarget with MemoryDevice LUs. Status and sense are read with
// test/helpers/wire.ts, which decodes the bytes itself (SPC-4 4.5).

import type { BlockDevice } from '../../src/backstore/block-device.js';
import { MemoryDevice } from '../../src/backstore/memory.js';
import type {
  Completion,
  ItNexus,
  TargetPort,
  TmfFunctionCode,
  TmfResponseCode,
  TransportCommand,
} from '../../src/scsi/command.js';
import { createOpcodeTable } from '../../src/scsi/commands.js';
import { LogicalUnit, type LogicalUnitConfig } from '../../src/scsi/logical-unit.js';
import { ScsiTarget } from '../../src/scsi/target.js';
import { silentLogger } from '../../src/util/logger.js';
import { kcq, Status } from './wire.js';

/** SAM-5 8.6 task attributes as iSCSI carries them (RFC 7143 11.3.1). */
export const Attr = { UNTAGGED: 0, SIMPLE: 1, ORDERED: 2, HEAD_OF_QUEUE: 3, ACA: 4 } as const;

/** SAM-5 7 / RFC 7143 11.5.1 task management function codes. */
export const Tmf = {
  ABORT_TASK: 1,
  ABORT_TASK_SET: 2,
  CLEAR_TASK_SET: 4,
  LOGICAL_UNIT_RESET: 5,
  TARGET_WARM_RESET: 6,
} as const;
export const TmfResult = {
  FUNCTION_COMPLETE: 0,
  TASK_DOES_NOT_EXIST: 1,
  LUN_DOES_NOT_EXIST: 2,
  NOT_SUPPORTED: 5,
} as const;

// ---------------------------------------------------------------------------------------------
// The transport
// ---------------------------------------------------------------------------------------------

export const TARGET_NAME = 'iqn.2024-01.org.tandem:loopback';

export function targetPort(relativePortId = 1): TargetPort {
  const tpgt = relativePortId;
  return {
    relativePortId,
    targetPortGroupId: 1,
    name: `${TARGET_NAME},t,0x${tpgt.toString(16).padStart(4, '0')}`,
    targetName: TARGET_NAME,
  };
}

export function makeNexus(
  initiator = 'iqn.2024-01.org.tandem:init',
  isid = '400001370000',
  port = targetPort(),
): ItNexus {
  const initiatorPortName = `${initiator},i,0x${isid}`;
  return {
    id: `${initiatorPortName}|${port.relativePortId}`,
    initiatorPortName,
    initiatorName: initiator,
    isid,
    targetPort: port,
  };
}

export interface CommandOptions {
  cdb: Buffer | readonly number[];
  nexus?: ItNexus;
  lun?: number;
  tag?: number;
  attribute?: number;
  /** EDTL; defaults to dataOut's length when writing, else 1 MiB. */
  expectedLength?: number;
  read?: boolean;
  write?: boolean;
  /** Data-out the "initiator" has for this command. */
  dataOut?: Buffer;
  /** Holds every receiveDataOut until release() (or rejects it on abort). */
  hold?: boolean;
}

/** A TransportCommand plus what the test wants to observe about it. */
export class LoopbackCommand implements TransportCommand {
  readonly nexus: ItNexus;
  readonly lun: number;
  readonly tag: number;
  readonly cdb: Buffer;
  readonly attribute: TransportCommand['attribute'];
  readonly expectedLength: number;
  readonly readExpected: boolean;
  readonly writeExpected: boolean;
  readonly #controller = new AbortController();
  readonly #dataOut: Buffer;
  /** Lengths the engine asked for, in order. */
  readonly dataOutRequests: number[] = [];
  /** Resolves when the engine first calls receiveDataOut. */
  readonly dataOutRequested: Promise<number>;
  #onRequested!: (n: number) => void;
  #held: boolean;
  #releaseHold: (() => void) | undefined;
  #holdReleased: Promise<void>;

  constructor(opts: CommandOptions, defaults: { nexus: ItNexus; lun: number; tag: number }) {
    const cdb = Buffer.from(opts.cdb as readonly number[]);
    // iSCSI always carries at least 16 CDB bytes (RFC 7143 11.3.5); shorter CDBs are zero-padded.
    this.cdb = cdb.length >= 16 ? cdb : Buffer.concat([cdb, Buffer.alloc(16 - cdb.length)]);
    this.nexus = opts.nexus ?? defaults.nexus;
    this.lun = opts.lun ?? defaults.lun;
    this.tag = opts.tag ?? defaults.tag;
    this.attribute = (opts.attribute ?? Attr.SIMPLE) as TransportCommand['attribute'];
    this.#dataOut = opts.dataOut ?? Buffer.alloc(0);
    this.writeExpected = opts.write ?? opts.dataOut !== undefined;
    this.readExpected = opts.read ?? !this.writeExpected;
    this.expectedLength = opts.expectedLength ?? (this.writeExpected ? this.#dataOut.length : 1 << 20);
    this.dataOutRequested = new Promise((r) => {
      this.#onRequested = r;
    });
    this.#held = opts.hold ?? false;
    this.#holdReleased = new Promise((r) => {
      this.#releaseHold = r;
    });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#controller.signal.aborted;
  }

  abort(): void {
    this.#controller.abort();
  }

  /** Lets held receiveDataOut calls complete. */
  release(): void {
    this.#held = false;
    this.#releaseHold?.();
  }

  async receiveDataOut(length: number): Promise<Buffer> {
    this.dataOutRequests.push(length);
    this.#onRequested(length);
    if (length > this.expectedLength || !this.writeExpected) {
      throw new Error(`engine asked for ${length} bytes of data-out; EDTL is ${this.expectedLength}`);
    }
    if (this.#held) {
      const signal = this.#controller.signal;
      await new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(new Error('task aborted'));
        signal.addEventListener('abort', () => reject(new Error('task aborted')), { once: true });
        this.#holdReleased.then(resolve);
      });
    }
    if (this.#controller.signal.aborted) throw new Error('task aborted');
    const out = Buffer.alloc(length);
    this.#dataOut.copy(out, 0, 0, Math.min(length, this.#dataOut.length));
    return out;
  }
}

/** What a test sees of a completed command: the completion, with data copied out. */
export type Result = Completion;

export interface LoopbackOptions {
  blockSize?: number;
  /** Capacity of LUN 0 in logical blocks. */
  blocks?: number;
  /** LUN number of the first LU. */
  lun?: number;
  readOnly?: boolean;
  /** Backing device of the first LU (default: a MemoryDevice of blocks × blockSize). */
  device?: BlockDevice;
}

export class Loopback {
  readonly target: ScsiTarget;
  readonly lu: LogicalUnit;
  readonly lun: number;
  readonly nexus: ItNexus;
  /** The first LU's backing device, for reading and writing the medium behind the engine. */
  readonly device: BlockDevice;
  #tag = 1;

  constructor(opts: LoopbackOptions = {}) {
    const blockSize = opts.blockSize ?? 512;
    const blocks = opts.blocks ?? 2048;
    this.target = new ScsiTarget(createOpcodeTable(), silentLogger());
    this.lun = opts.lun ?? 0;
    const config: LogicalUnitConfig = {
      volumeId: 'vol-loopback-0',
      blockSize,
      readOnly: opts.readOnly ?? false,
    };
    this.device = opts.device ?? new MemoryDevice(blocks * blockSize);
    this.lu = new LogicalUnit(this.device, config);
    this.target.addLun(this.lun, this.lu);
    this.nexus = makeNexus();
  }

  get blockSize(): number {
    return this.lu.blockSize;
  }

  get blocks(): number {
    return this.lu.blocks;
  }

  addLun(lun: number, blocks = 1024, blockSize = 512): LogicalUnit {
    const lu = new LogicalUnit(new MemoryDevice(blocks * blockSize), {
      volumeId: `vol-loopback-${lun}`,
      blockSize,
    });
    this.target.addLun(lun, lu);
    return lu;
  }

  command(opts: CommandOptions): LoopbackCommand {
    return new LoopbackCommand(opts, { nexus: this.nexus, lun: this.lun, tag: this.#tag++ });
  }

  /** Starts a command; the promise settles with its completion (data copied, pool released). */
  start(cmd: LoopbackCommand): Promise<Result> {
    return this.target.execute(cmd).then((c) => {
      if (!c.data) return c;
      const data = Buffer.from(c.data);
      c.release?.();
      const { release: _r, ...rest } = c;
      return { ...rest, data };
    });
  }

  run(opts: CommandOptions): Promise<Result> {
    return this.start(this.command(opts));
  }

  /**
   * Consumes the POWER ON, RESET, OR BUS DEVICE RESET OCCURRED unit attention a nexus gets on
   * its first command (SAM-5 6.3.1) and fails loudly if something else shows up.
   */
  async ready(nexus: ItNexus = this.nexus, lun = this.lun): Promise<ItNexus> {
    const first = await this.run({ cdb: [0x00], nexus, lun });
    if (first.status !== Status.CHECK_CONDITION || kcq(first) !== '06/29/00') {
      throw new Error(`expected 06/29/00 on the first command, got status ${first.status}`);
    }
    const second = await this.run({ cdb: [0x00], nexus, lun });
    if (second.status !== Status.GOOD)
      throw new Error(`TEST UNIT READY after the UA: status ${second.status}`);
    return nexus;
  }

  /** Reads the first LU's medium directly, bypassing the engine. */
  readMedium(lba: number, blocks: number): Promise<Buffer> {
    return this.device.read(lba * this.lu.blockSize, blocks * this.lu.blockSize);
  }

  /** Writes the first LU's medium directly, bypassing the engine. */
  writeMedium(lba: number, data: Buffer): Promise<void> {
    return this.device.write(lba * this.lu.blockSize, data, false);
  }

  tmf(
    fn: number,
    opts: { nexus?: ItNexus; lun?: number; referencedTag?: number } = {},
  ): Promise<TmfResponseCode> {
    const req = {
      nexus: opts.nexus ?? this.nexus,
      fn: fn as TmfFunctionCode,
      lun: opts.lun ?? this.lun,
      ...(opts.referencedTag === undefined ? {} : { referencedTag: opts.referencedTag }),
    };
    return this.target.taskManagement(req);
  }
}

// ---------------------------------------------------------------------------------------------
// CDB builders (SPC-4 / SBC-3 layouts, written out here rather than taken from src)
// ---------------------------------------------------------------------------------------------

export const cdb = {
  testUnitReady: (): Buffer => Buffer.from([0x00, 0, 0, 0, 0, 0]),
  requestSense: (alloc: number, desc = false): Buffer => Buffer.from([0x03, desc ? 1 : 0, 0, 0, alloc, 0]),
  inquiry(alloc: number, page?: number): Buffer {
    const b = Buffer.alloc(6);
    b[0] = 0x12;
    if (page !== undefined) {
      b[1] = 0x01;
      b[2] = page;
    }
    b.writeUInt16BE(alloc, 3);
    return b;
  },
  reportLuns(alloc: number, select = 0): Buffer {
    const b = Buffer.alloc(12);
    b[0] = 0xa0;
    b[2] = select;
    b.writeUInt32BE(alloc, 6);
    return b;
  },
  modeSense6(o: { page: number; pc?: number; subpage?: number; dbd?: boolean; alloc?: number }): Buffer {
    return Buffer.from([
      0x1a,
      o.dbd ? 0x08 : 0,
      ((o.pc ?? 0) << 6) | o.page,
      o.subpage ?? 0,
      o.alloc ?? 255,
      0,
    ]);
  },
  modeSense10(o: {
    page: number;
    pc?: number;
    subpage?: number;
    dbd?: boolean;
    llbaa?: boolean;
    alloc?: number;
  }): Buffer {
    const b = Buffer.alloc(10);
    b[0] = 0x5a;
    b[1] = (o.dbd ? 0x08 : 0) | (o.llbaa ? 0x10 : 0);
    b[2] = ((o.pc ?? 0) << 6) | o.page;
    b[3] = o.subpage ?? 0;
    b.writeUInt16BE(o.alloc ?? 0xffff, 7);
    return b;
  },
  readCapacity10(lba = 0, pmi = false): Buffer {
    const b = Buffer.alloc(10);
    b[0] = 0x25;
    b.writeUInt32BE(lba, 2);
    b[8] = pmi ? 1 : 0;
    return b;
  },
  readCapacity16(alloc = 32, lba = 0n, pmi = false): Buffer {
    const b = Buffer.alloc(16);
    b[0] = 0x9e;
    b[1] = 0x10;
    b.writeBigUInt64BE(lba, 2);
    b.writeUInt32BE(alloc, 10);
    b[14] = pmi ? 1 : 0;
    return b;
  },
  /** READ/WRITE/VERIFY/SYNCHRONIZE CACHE of any size; `flags` goes to byte 1 (bits 7-5, 4, 3, 2-1). */
  rw(opcode: number, lba: number | bigint, blocks: number, flags = 0): Buffer {
    switch (opcode) {
      case 0x08:
      case 0x0a: {
        const n = Number(lba);
        return Buffer.from([opcode, (n >> 16) & 0x1f, (n >> 8) & 0xff, n & 0xff, blocks & 0xff, 0]);
      }
      case 0x28:
      case 0x2a:
      case 0x2f:
      case 0x35: {
        const b = Buffer.alloc(10);
        b[0] = opcode;
        b[1] = flags;
        b.writeUInt32BE(Number(lba), 2);
        b.writeUInt16BE(blocks, 7);
        return b;
      }
      case 0xa8:
      case 0xaa:
      case 0xaf: {
        const b = Buffer.alloc(12);
        b[0] = opcode;
        b[1] = flags;
        b.writeUInt32BE(Number(lba), 2);
        b.writeUInt32BE(blocks, 6);
        return b;
      }
      case 0x88:
      case 0x8a:
      case 0x8f:
      case 0x91: {
        const b = Buffer.alloc(16);
        b[0] = opcode;
        b[1] = flags;
        b.writeBigUInt64BE(BigInt(lba), 2);
        b.writeUInt32BE(blocks, 10);
        return b;
      }
      default:
        throw new Error(`not a read/write opcode: 0x${opcode.toString(16)}`);
    }
  },
};

// Generic 10/12/16-byte LBA + count layouts and the thin-provisioning commands (SBC-3).
export function cdb16(op: number, byte1: number, lba: number | bigint, count: number, byte14 = 0): number[] {
  const b = Buffer.alloc(16);
  b[0] = op;
  b[1] = byte1;
  b.writeBigUInt64BE(BigInt(lba), 2);
  b.writeUInt32BE(count, 10);
  b[14] = byte14;
  return [...b];
}

export function cdb10(op: number, byte1: number, lba: number, count: number, byte6 = 0): number[] {
  const b = Buffer.alloc(10);
  b[0] = op;
  b[1] = byte1;
  b.writeUInt32BE(lba >>> 0, 2);
  b[6] = byte6;
  b.writeUInt16BE(count, 7);
  return [...b];
}

export function cdb12(op: number, byte1: number, lba: number, count: number): number[] {
  const b = Buffer.alloc(12);
  b[0] = op;
  b[1] = byte1;
  b.writeUInt32BE(lba >>> 0, 2);
  b.writeUInt32BE(count, 6);
  return [...b];
}

/** COMPARE AND WRITE: NUMBER OF LOGICAL BLOCKS is byte 13 (SBC-3 5.2). */
export function caw(lba: number, blocks: number, byte1 = 0): number[] {
  const b = Buffer.alloc(16);
  b[0] = 0x89;
  b[1] = byte1;
  b.writeBigUInt64BE(BigInt(lba), 2);
  b[13] = blocks;
  return [...b];
}

/** UNMAP parameter list (SBC-3 5.28.2) from [lba, blocks] pairs. */
export function unmapList(ranges: [number, number][]): Buffer {
  const b = Buffer.alloc(8 + 16 * ranges.length);
  b.writeUInt16BE(b.length - 2, 0);
  b.writeUInt16BE(16 * ranges.length, 2);
  ranges.forEach(([lba, n], i) => {
    b.writeBigUInt64BE(BigInt(lba), 8 + 16 * i);
    b.writeUInt32BE(n, 16 + 16 * i);
  });
  return b;
}

export function unmapCdb(paramLength: number, byte1 = 0): number[] {
  return [0x42, byte1, 0, 0, 0, 0, 0, paramLength >> 8, paramLength & 0xff, 0];
}

export function getLbaStatusCdb(lba: number | bigint, alloc: number): number[] {
  const b = Buffer.alloc(16);
  b[0] = 0x9e;
  b[1] = 0x12;
  b.writeBigUInt64BE(BigInt(lba), 2);
  b.writeUInt32BE(alloc, 10);
  return [...b];
}

/** GET LBA STATUS descriptors: [lba, blocks, provisioning status]. */
export function lbaStatusDescriptors(data: Buffer): [number, number, number][] {
  const out: [number, number, number][] = [];
  const end = Math.min(data.length, 4 + data.readUInt32BE(0));
  for (let at = 8; at + 16 <= end; at += 16) {
    out.push([Number(data.readBigUInt64BE(at)), data.readUInt32BE(at + 8), data[at + 12]! & 0x0f]);
  }
  return out;
}

/** A recognisable pattern: every byte depends on its absolute position and a seed. */
export function pattern(length: number, seed = 1): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed * 7 + (i >> 9)) & 0xff;
  return b;
}

/** Lets queued promise callbacks and I/O callbacks run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Whether a promise has settled after letting the event loop run. */
export async function isSettled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await settle();
  return done;
}

/** A MemoryDevice that records FUA writes and flushes (what a test can see of the medium). */
export class RecordingDevice extends MemoryDevice {
  readonly writes: Array<{ offset: number; length: number; fua: boolean }> = [];
  flushes = 0;

  override async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    this.writes.push({ offset, length: data.length, fua });
    return super.write(offset, data, fua);
  }

  override async flush(): Promise<void> {
    this.flushes++;
    return super.flush();
  }
}
