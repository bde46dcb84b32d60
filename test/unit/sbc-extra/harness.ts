// A minimal in-test transport for the SBC tests: TransportCommands built by hand, run through
// ScsiTarget.execute with one LU. Sense bytes are decoded here from SPC-4 4.5 directly, so
// the tests never trust src/scsi/sense-reason.ts to check itself.
import type { BlockDevice } from '../../../src/backstore/block-device.js';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import type { Completion, ItNexus, TargetPort, TransportCommand } from '../../../src/scsi/command.js';
import { createOpcodeTable } from '../../../src/scsi/commands.js';
import { LogicalUnit } from '../../../src/scsi/logical-unit.js';
import { ScsiTarget } from '../../../src/scsi/target.js';
import { silentLogger } from '../../../src/util/logger.js';

export const GOOD = 0x00;
export const CHECK_CONDITION = 0x02;
export const CONDITION_MET = 0x04;

const PORT: TargetPort = {
  relativePortId: 1,
  targetPortGroupId: 1,
  name: 'iqn.2026-11.org.tandem:sbc,t,0x0001',
  targetName: 'iqn.2026-11.org.tandem:sbc',
};

export function nexus(initiator: string): ItNexus {
  const initiatorPortName = `${initiator},i,0x400001370000`;
  return {
    id: `${initiatorPortName}|1`,
    initiatorPortName,
    initiatorName: initiator,
    isid: '400001370000',
    targetPort: PORT,
  };
}

export interface RunOptions {
  dataOut?: Buffer;
  /** EDTL; defaults to the data-out's length for writes, else 16 MiB for reads. */
  edtl?: number;
  nexus?: ItNexus;
}

export interface Sense {
  key: number;
  asc: number;
  ascq: number;
  information?: bigint;
  field?: { inCdb: boolean; byte: number; bit?: number };
  descriptor: boolean;
}

export function decodeSense(b: Buffer): Sense {
  const sks = (x: Buffer) =>
    (x[0]! & 0x80) === 0
      ? undefined
      : {
          inCdb: (x[0]! & 0x40) !== 0,
          byte: x.readUInt16BE(1),
          ...((x[0]! & 0x08) !== 0 ? { bit: x[0]! & 7 } : {}),
        };
  if ((b[0]! & 0x7f) === 0x70) {
    const s: Sense = { key: b[2]! & 0x0f, asc: b[12]!, ascq: b[13]!, descriptor: false };
    if ((b[0]! & 0x80) !== 0) s.information = BigInt(b.readUInt32BE(3));
    const f = sks(b.subarray(15, 18));
    if (f) s.field = f;
    return s;
  }
  const s: Sense = { key: b[1]! & 0x0f, asc: b[2]!, ascq: b[3]!, descriptor: true };
  for (let off = 8; off < 8 + b[7]!; off += 2 + b[off + 1]!) {
    if (b[off] === 0x00) s.information = b.readBigUInt64BE(off + 4);
    if (b[off] === 0x02) {
      const f = sks(b.subarray(off + 4, off + 7));
      if (f) s.field = f;
    }
  }
  return s;
}

/** "05/24/00" for a CHECK CONDITION, "GOOD" / "CONDITION MET" otherwise. */
export function kcq(c: Completion): string {
  if (c.status === GOOD) return 'GOOD';
  if (c.status === CONDITION_MET) return 'CONDITION MET';
  if (c.status !== CHECK_CONDITION || !c.sense) return `status ${c.status}`;
  const s = decodeSense(c.sense);
  const h = (n: number) => n.toString(16).padStart(2, '0');
  return `${h(s.key)}/${h(s.asc)}/${h(s.ascq)}`;
}

/** One ScsiTarget with one LU at LUN 0, and a default nexus whose power-on UA is cleared. */
export class Harness {
  readonly target: ScsiTarget;
  readonly lu: LogicalUnit;
  readonly device: BlockDevice;
  readonly me = nexus('iqn.2026-11.test:me');
  #tag = 1;

  constructor(opts: { blocks?: number; blockSize?: number; readOnly?: boolean; device?: BlockDevice } = {}) {
    const bs = opts.blockSize ?? 512;
    this.device = opts.device ?? new MemoryDevice((opts.blocks ?? 8192) * bs);
    this.lu = new LogicalUnit(this.device, {
      volumeId: 'sbc-extra',
      blockSize: bs,
      readOnly: opts.readOnly ?? false,
    });
    this.target = new ScsiTarget(createOpcodeTable(), silentLogger());
    this.target.addLun(0, this.lu);
  }

  /** Logs a nexus in: its first command reports POWER ON, RESET; this consumes it. */
  async login(n: ItNexus = this.me): Promise<ItNexus> {
    await this.run([0x00, 0, 0, 0, 0, 0], { nexus: n });
    return n;
  }

  run(cdbBytes: readonly number[] | Buffer, opts: RunOptions = {}): Promise<Completion> {
    const cdb = Buffer.alloc(16);
    Buffer.from(cdbBytes as number[]).copy(cdb);
    const out = opts.dataOut;
    const write = out !== undefined;
    const edtl = opts.edtl ?? (write ? out.length : 16 << 20);
    let aborted = false;
    const cmd: TransportCommand = {
      nexus: opts.nexus ?? this.me,
      lun: 0,
      tag: this.#tag++,
      cdb,
      attribute: 1, // SIMPLE
      expectedLength: edtl,
      readExpected: !write,
      writeExpected: write,
      signal: {
        get aborted() {
          return aborted;
        },
      },
      abort() {
        aborted = true;
      },
      async receiveDataOut(length: number) {
        if (!out || length > out.length)
          throw new Error(`data-out of ${length} bytes requested, ${out?.length ?? 0} sent`);
        return out.subarray(0, length);
      },
    };
    return this.target.execute(cmd);
  }

  read(lba: number, blocks: number): Promise<Buffer> {
    return this.device.read(lba * this.lu.blockSize, blocks * this.lu.blockSize);
  }

  write(lba: number, data: Buffer): Promise<void> {
    return this.device.write(lba * this.lu.blockSize, data, false);
  }
}

// CDB builders, big-endian fields written out from SBC-3 / SPC-4.
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

export function pattern(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + seed * 7 + 1) & 0xff;
  return b;
}
