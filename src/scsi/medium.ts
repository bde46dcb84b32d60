import type { BlockDevice } from '../backstore/block-device.js';
import { assert } from '../util/errors.js';
import type { LbaRange } from './cdb.js';
import type { RangeLock } from './range-lock.js';

/** What a Medium needs of its logical unit (LogicalUnit has it; handlers never see it). */
export interface MediumOwner {
  readonly device: BlockDevice;
  readonly blockSize: number;
  readonly mode: { readonly wce: boolean };
  readonly rangeLock: RangeLock;
}

/**
 * How a command may change the medium (DESIGN.md safety rule 5: overlapping writes are
 * serialized, the replicas apply them concurrently on that promise):
 * - a range: the gate holds the range lock over it for the whole execution (the opcode row's
 *   `writes` column, from the parsed CDB); every change must lie inside it.
 * - 'per-write': the ranges are in the parameter list (UNMAP, EXTENDED COPY): each change
 *   takes the lock over its own range.
 * - 'none': the row declares no range; any change is a broken invariant.
 */
export type MediumGrant = LbaRange | 'per-write' | 'none';

/** Stands for the LU of a command that addresses none: never reached past the 'none' assert. */
const NO_LU: MediumOwner = {
  get device(): never {
    throw new Error('unreachable');
  },
  blockSize: 512,
  mode: { wce: true },
  get rangeLock(): never {
    throw new Error('unreachable');
  },
};

/** The largest single write a pattern fill issues. */
const FILL_CHUNK = 1 << 20;

/**
 * The one way the engine changes an LU's medium. Handlers get one through ExecContext.medium,
 * so a write can only happen under the range lock; the write-cache rule lives here too.
 */
export class Medium {
  readonly #lu: MediumOwner;
  readonly #grant: MediumGrant;

  /** `lu` undefined: the command addresses no LU (its grant is 'none'). */
  constructor(lu: MediumOwner | undefined, grant: MediumGrant) {
    assert(lu !== undefined || grant === 'none', 'a medium without a logical unit');
    this.#lu = lu ?? NO_LU;
    this.#grant = grant;
  }

  /**
   * Writes whole blocks at `lba`. With WCE = 0 in the caching mode page every write is
   * written through, as if FUA were set (SBC-3 6.4.5): the initiator turned the cache off.
   */
  write(lba: number, data: Buffer, fua: boolean): Promise<void> {
    return this.#locked(lba, data.length / this.#lu.blockSize, () => this.#write(lba, data, fua));
  }

  /** Writes one block's data to every block of a range (WRITE SAME), in 1 MiB writes. */
  writePattern(lba: number, blocks: number, block: Buffer, fua: boolean): Promise<void> {
    return this.#locked(lba, blocks, () => this.#writePattern(lba, blocks, block, fua));
  }

  /**
   * Deallocates blocks (UNMAP, WRITE SAME with UNMAP): afterwards they read back as zeroes
   * (LBPRZ = 1). A device that cannot deallocate gets zeroes written instead.
   */
  deallocate(lba: number, blocks: number): Promise<void> {
    if (blocks === 0) return Promise.resolve();
    return this.#locked(lba, blocks, async () => {
      const lu = this.#lu;
      if (lu.device.discard) await lu.device.discard(lba * lu.blockSize, blocks * lu.blockSize);
      else await this.#writePattern(lba, blocks, Buffer.alloc(lu.blockSize), false);
      if (!lu.mode.wce) await lu.device.flush();
    });
  }

  async #locked(lba: number, blocks: number, change: () => Promise<void>): Promise<void> {
    const g = this.#grant;
    if (g === 'per-write') {
      const release = await this.#lu.rangeLock.acquire(lba, blocks);
      try {
        await change();
      } finally {
        release();
      }
      return;
    }
    assert(g !== 'none', 'a command changed the medium without declaring its LBA range (rule 5)');
    assert(
      lba >= g.lba && lba + blocks <= g.lba + g.blocks,
      `a change of [${lba}, +${blocks}) outside the locked range [${g.lba}, +${g.blocks})`,
    );
    await change();
  }

  #write(lba: number, data: Buffer, fua: boolean): Promise<void> {
    const lu = this.#lu;
    return lu.device.write(lba * lu.blockSize, data, fua || !lu.mode.wce);
  }

  async #writePattern(lba: number, blocks: number, block: Buffer, fua: boolean): Promise<void> {
    const bs = this.#lu.blockSize;
    const perChunk = Math.max(1, Math.floor(FILL_CHUNK / bs));
    const chunk = Buffer.alloc(Math.min(blocks, perChunk) * bs);
    chunk.fill(block);
    for (let done = 0; done < blocks; ) {
      const n = Math.min(perChunk, blocks - done);
      await this.#write(lba + done, n * bs === chunk.length ? chunk : chunk.subarray(0, n * bs), fua);
      done += n;
    }
  }
}
