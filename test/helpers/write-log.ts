// Stamped writes for HA tests (issue #5): every 4 KiB block a writer sends names itself (LBA,
// writer, sequence, CRC32C), and the writers keep a log of what was acknowledged and what was
// sent without an answer. After faults, `verify` reads every slot back and checks that it holds
// its last acknowledged write, or a later write that was sent but never acknowledged (SCSI allows
// either), and never anything older: a lost acknowledged write fails it.
import { crc32c } from '../../src/util/crc32c.js';
import { read16, write16 } from './initiator/index.js';
import { describeResult, type MultipathClient } from './multipath.js';
import { Status } from './wire.js';

export const STAMP_BYTES = 4096;
const BLOCK = 512;

export function stamp(lba: number, writer: number, seq: number): Buffer {
  const b = Buffer.alloc(STAMP_BYTES);
  b.write('TNDM', 0, 'latin1');
  b.writeUInt32BE(lba, 4);
  b.writeUInt16BE(writer, 8);
  b.writeUInt32BE(seq, 10);
  for (let i = 16; i < STAMP_BYTES - 4; i += 4)
    b.writeUInt32BE((lba * 2654435761 + seq * 40503 + i) >>> 0, i);
  b.writeUInt32BE(crc32c(b.subarray(0, STAMP_BYTES - 4)), STAMP_BYTES - 4);
  return b;
}

export function decodeStamp(
  b: Buffer,
): { lba: number; writer: number; seq: number; intact: boolean } | undefined {
  if (b.length < STAMP_BYTES || b.subarray(0, 4).toString('latin1') !== 'TNDM') return undefined;
  return {
    lba: b.readUInt32BE(4),
    writer: b.readUInt16BE(8),
    seq: b.readUInt32BE(10),
    intact: crc32c(b.subarray(0, STAMP_BYTES - 4)) === b.readUInt32BE(STAMP_BYTES - 4),
  };
}

/** One acknowledged write: when (performance.now()), through which path. */
export interface AckRecord {
  slot: number;
  seq: number;
  path: string;
  start: number;
  end: number;
}

export interface StampedWritersOptions {
  writers: number;
  slotsPerWriter: number;
  /** First LBA of slot 0. Default 0. */
  baseLba?: number;
}

/** Queue-depth-N stamped writers through a multipath client; each writer owns its slots. */
export class StampedWriters {
  readonly acks: AckRecord[] = [];
  readonly failures: string[] = [];
  readonly #mp: MultipathClient;
  readonly #o: Required<StampedWritersOptions>;
  /** Per slot: last acknowledged sequence. */
  readonly #acked = new Map<number, number>();
  /** Per slot: sequences sent after the last acknowledged one (not acknowledged). */
  readonly #pending = new Map<number, Set<number>>();
  #stop = false;
  #running: Promise<void>[] = [];

  constructor(mp: MultipathClient, opts: StampedWritersOptions) {
    this.#mp = mp;
    this.#o = { baseLba: 0, ...opts };
  }

  lbaOf(slot: number): number {
    return this.#o.baseLba + slot * (STAMP_BYTES / BLOCK);
  }

  start(): void {
    this.#stop = false;
    this.#running = Array.from({ length: this.#o.writers }, (_, w) => this.#writer(w));
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#running);
  }

  async #writer(w: number): Promise<void> {
    for (let seq = 1; !this.#stop; seq++) {
      const slot = w * this.#o.slotsPerWriter + (seq % this.#o.slotsPerWriter);
      const lba = this.lbaOf(slot);
      const pending = this.#pending.get(slot) ?? new Set<number>();
      pending.add(seq);
      this.#pending.set(slot, pending);
      const start = performance.now();
      try {
        const r = await this.#mp.execute(write16(lba, STAMP_BYTES / BLOCK), {
          op: 'WRITE',
          lba,
          blocks: STAMP_BYTES / BLOCK,
          dataOut: stamp(lba, w, seq),
        });
        if (r.result.status === Status.GOOD) {
          this.#acked.set(slot, seq);
          this.#pending.set(slot, new Set());
          this.acks.push({ slot, seq, path: r.path, start, end: performance.now() });
        } else this.failures.push(`${r.path}: ${describeResult(r.result)}`);
      } catch (err) {
        this.failures.push((err as Error).message.split('\n')[0]!);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /**
   * Reads every written slot back; returns the problems found (empty: no acknowledged write lost).
   * `floor`: after a fault that may lose acknowledged but unflushed writes (a power cut of every
   * replica), a slot may hold any of its writes from floor(slot) on (0: or none at all), not
   * only its last acknowledged one.
   */
  async verify(
    opts: { floor?: (slot: number) => number } = {},
  ): Promise<{ checked: number; problems: string[] }> {
    const problems: string[] = [];
    let checked = 0;
    for (const [slot, want] of this.#acked) {
      const lba = this.lbaOf(slot);
      const r = await this.#mp.execute(read16(lba, STAMP_BYTES / BLOCK), {
        op: 'READ',
        expectedDataIn: STAMP_BYTES,
      });
      if (r.result.status !== Status.GOOD) {
        problems.push(`slot ${slot}: READ ${describeResult(r.result)}`);
        continue;
      }
      checked++;
      const got = decodeStamp(r.result.data);
      const allowed = new Set([want, ...(this.#pending.get(slot) ?? [])]);
      const floor = opts.floor?.(slot);
      if (floor !== undefined) {
        // Writes of a slot are issued in order, so every sequence of it up to `want` was written.
        const mine = (seq: number) => seq % this.#o.slotsPerWriter === slot % this.#o.slotsPerWriter;
        const older = (seq: number) => seq >= floor && seq <= want && mine(seq);
        if (!got && floor === 0) continue;
        if (got?.intact && got.lba === lba && (older(got.seq) || allowed.has(got.seq))) continue;
        if (got?.intact && got.lba === lba) {
          problems.push(`slot ${slot}: read seq ${got.seq}, flushed ${floor}, last acknowledged ${want}`);
          continue;
        }
      }
      if (!got) problems.push(`slot ${slot}: no stamp where seq ${want} was acknowledged`);
      else if (!got.intact) problems.push(`slot ${slot}: torn or corrupt block (seq ${got.seq})`);
      else if (got.lba !== lba) problems.push(`slot ${slot}: block of LBA ${got.lba} at LBA ${lba}`);
      else if (!allowed.has(got.seq)) {
        problems.push(
          `slot ${slot}: read seq ${got.seq}, last acknowledged ${want}, unacknowledged later: ${[...(this.#pending.get(slot) ?? [])].join(',') || 'none'}`,
        );
      }
    }
    return { checked, problems };
  }
}
