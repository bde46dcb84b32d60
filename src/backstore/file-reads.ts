import fs from 'node:fs';
import os from 'node:os';
import { ioBuffers } from '../util/buffer-pool.js';
import { ColdCachePolicy, type ColdCachePolicyOptions } from './cold-cache.js';
import { DeviceError } from './device-error.js';
import { InlineWritePolicy, type InlineWritePolicyOptions, SlowIoWarnings } from './inline-writes.js';
import { ioStats } from './io-stats.js';
import {
  MAPPED_CHUNK_BYTES,
  type MappedChunks,
  type MappedResidency,
  mappedResidency,
} from './mapped-residency.js';
import type { NativeHelper } from './native.js';

const { EAGAIN, EINVAL, EOPNOTSUPP } = os.constants.errno;

/** A larger read goes to the pool whole: copying it on the loop would hold up every session. */
export const INLINE_READ_MAX_BYTES = 1 << 20;

/** The inline read policy: the slow-call backoff (InlineWritePolicy) and the cold-cache probe. */
export type InlineReadOptions = InlineWritePolicyOptions &
  ColdCachePolicyOptions & {
    /**
     * Copy cached reads out of a read-only mapping of the file (the default where the helper
     * and the file system allow it); false: preadv2(RWF_NOWAIT) with the cold-cache probe.
     */
    mapped?: boolean;
    /** Whose budget the mapped pages count against (default: the process's, mappedResidency). */
    residency?: MappedResidency;
  };

/**
 * A FileDevice's reads (see FileDevice.read): inline from the page cache while that is fast,
 * through the thread pool for what is not cached.
 */
export class FileReads implements MappedChunks {
  readonly #fd: number;
  readonly #path: string;
  readonly #native: NativeHelper | undefined;
  readonly #warn: (message: string) => void;
  /** Whether a read tries the page cache on the event loop first; undefined: always the pool. */
  #policy: InlineWritePolicy | undefined;
  readonly #cache: ColdCachePolicy;
  readonly #slow: SlowIoWarnings;
  /** The read-only mapping cached reads are copied from (native mapFile), when there is one. */
  #map: unknown;
  /** The bytes #map covers: reads past it (the file grew) use preadv2 until remapped. */
  #mapLength = 0;
  readonly #mapWanted: boolean;
  readonly #residency: MappedResidency;
  /** Per chunk of #map (MAPPED_CHUNK_BYTES): 1 while a copy has mapped pages of it. */
  #touched = new Uint8Array(0);

  constructor(
    fd: number,
    file: string,
    native: NativeHelper | undefined,
    opts: boolean | InlineReadOptions,
    warn: (message: string) => void,
    size: number,
  ) {
    this.#fd = fd;
    this.#path = file;
    this.#native = native;
    this.#warn = warn;
    const o = opts === true ? {} : opts;
    this.#policy =
      o === false || !native?.readNoWait ? undefined : new InlineWritePolicy({ slowInRow: 2, ...o });
    this.#cache = new ColdCachePolicy(typeof native?.isCached === 'function', o === false ? {} : o);
    this.#slow = new SlowIoWarnings('read', warn);
    this.#mapWanted = o !== false && o.mapped !== false && typeof native?.mapFile === 'function';
    this.#residency = (o !== false && o.residency) || mappedResidency;
    this.resized(size);
  }

  /** The file is now `size` bytes (opened, grown): map all of it. */
  resized(size: number): void {
    if (!this.#mapWanted || this.#policy === undefined || size <= this.#mapLength) return;
    const native = this.#native!;
    const map = native.mapFile!(this.#fd, size);
    if (typeof map === 'number') {
      // Keep the old mapping, if any: reads past it go through preadv2.
      if (this.#map === undefined) {
        this.#warn(
          `${this.#path}: cannot map the file (errno ${-map}): cached reads use preadv2(RWF_NOWAIT)`,
        );
      }
      return;
    }
    if (this.#map !== undefined) native.unmapFile!(this.#map);
    this.#map = map;
    this.#mapLength = size;
    // The old mapping's pages went with it; chunks still queued in the budget drop nothing.
    this.#touched = new Uint8Array(Math.ceil(size / MAPPED_CHUNK_BYTES));
  }

  /** The budget wants `chunk` back: unmap its pages (they stay in the page cache). */
  dropChunk(chunk: number): void {
    if (this.#map === undefined || this.#touched[chunk] !== 1) return;
    this.#touched[chunk] = 0;
    this.#native!.dropMapped!(this.#map, chunk * MAPPED_CHUNK_BYTES, MAPPED_CHUNK_BYTES);
  }

  /** Releases the mapping (FileDevice.close, before the descriptor is closed). */
  close(): void {
    if (this.#map !== undefined) this.#native!.unmapFile!(this.#map);
    this.#map = undefined;
    this.#mapLength = 0;
    this.#touched = new Uint8Array(0);
  }

  /**
   * A read is first tried inline. With a mapping (the default), it is copied out of the mapping
   * when every page of it is cached (#readMapped); what is not goes to the pool untried.
   * Without one, preadv2(RWF_NOWAIT) copies what the page cache holds without
   * ever waiting for the device, costing a system call instead of a thread-pool round trip (a
   * futex wake, a context switch and a loop wake-up). What is not cached, or the rest of a range
   * cached only at its start, is read through the thread pool. After a miss the cache is taken
   * as cold and reads probe before they try (ColdCachePolicy). An inline read that was slow
   * anyway (page-cache lock contention, a huge copy, the thread descheduled) sends reads to the
   * pool for a backoff, as slow inline writes do.
   */
  read(offset: number, length: number): Promise<Buffer> {
    const buf = ioBuffers.take(length);
    const inline = this.#policy;
    let done = 0;
    if (
      this.#map !== undefined &&
      inline?.inline &&
      length > 0 &&
      length <= INLINE_READ_MAX_BYTES &&
      offset + length <= this.#mapLength
    ) {
      if (this.#readMapped(inline, buf, offset)) return Promise.resolve(buf);
    } else if (inline?.inline && length > 0 && length <= INLINE_READ_MAX_BYTES) {
      let route = this.#cache.route();
      if (route === 'probe') {
        const cached = this.#native!.isCached!(this.#fd, offset, length);
        if (cached === 1) route = 'inline';
        else if (cached === 0) {
          this.#cache.miss();
          ioStats.readsProbedCold++;
        } else {
          // No cachestat here (ENOSYS, EPERM): fall back to retrying after an interval.
          this.#cache.probeUnavailable();
          this.#cache.miss();
        }
      }
      if (route === 'inline') {
        const n = this.#timed(inline, length, () => this.#native!.readNoWait(this.#fd, [buf], offset));
        if (n === length) {
          this.#cache.hit();
          ioStats.readsInline++;
          return Promise.resolve(buf);
        }
        if (n === 0) {
          // End of file at `offset`: past the end of a file that shrank underneath us.
          buf.fill(0);
          return Promise.resolve(buf);
        }
        if (n > 0) done = n;
        else if (n === -EOPNOTSUPP || n === -EINVAL) this.#readNoWaitUnsupported();
        // -EAGAIN (not cached), a short read and real errors go to the pool, which reports
        // errors as they are.
        this.#cache.miss();
        ioStats.readsMissedInline++;
      }
    }
    return this.#poolRead(buf, done, length, offset);
  }

  /**
   * A read copied out of the mapping when mincore finds all of it cached and up to date. Never
   * starts I/O on the loop: not cached, being read in, or past the end of a file that shrank
   * underneath, it goes to the pool, which reads it (or returns zeroes past the end).
   */
  #readMapped(inline: InlineWritePolicy, buf: Buffer, offset: number): boolean {
    const n = this.#timed(inline, buf.length, () => this.#native!.readMapped!(this.#map, buf, offset));
    if (n !== buf.length) {
      if (n === -EAGAIN) ioStats.readsProbedCold++;
      else ioStats.readsMissedInline++;
      return false;
    }
    ioStats.readsInline++;
    const last = Math.floor((offset + n - 1) / MAPPED_CHUNK_BYTES);
    for (let c = Math.floor(offset / MAPPED_CHUNK_BYTES); c <= last; c++) {
      if (this.#touched[c] === 0) {
        this.#touched[c] = 1;
        this.#residency.touched(this, c);
      }
    }
    return true;
  }

  /**
   * An inline read call, timed: the longest is counted (ioStats), and a slow one goes to the
   * backoff policy, which may send reads to the pool for a while (warned of).
   */
  #timed(inline: InlineWritePolicy, length: number, call: () => number): number {
    const startedAt = inline.now();
    const n = call();
    const ms = inline.now() - startedAt;
    const backoffMs = inline.done(startedAt);
    if (ms > ioStats.longestInlineReadMs) ioStats.longestInlineReadMs = ms;
    if (backoffMs > 0) this.#slow.slow(length, ms, backoffMs, inline.now());
    return n;
  }

  /** Every later inline attempt would fail the same way: reads use the pool from now on. */
  #readNoWaitUnsupported(): void {
    this.#policy = undefined;
    this.#warn(
      `${this.#path}: the file system cannot read with RWF_NOWAIT: reads go through the thread pool`,
    );
  }

  /**
   * Reads [offset + done, offset + length) into buf[done..] off the loop: on the native helper's
   * reader threads (readPooled: submitting takes no lock), else, or when its ring is full,
   * libuv's thread pool (fs.read).
   */
  #poolRead(buf: Buffer, from: number, length: number, offset: number): Promise<Buffer> {
    ioStats.readsPool++;
    const readPooled = this.#native?.readPooled;
    return new Promise((resolve, reject) => {
      const fail = (err: Error) =>
        reject(new DeviceError('read', `read ${this.#path}: ${err.message}`, { cause: err }));
      const got = (done: number, n: number): void => {
        if (n === 0) {
          // Past the end of a file that shrank underneath us: zeroes, like a hole.
          buf.fill(0, done);
          resolve(buf);
        } else if (done + n < length) step(done + n);
        else resolve(buf);
      };
      const step = (done: number): void => {
        if (readPooled) {
          const pending = readPooled(this.#fd, buf.subarray(done, length), offset + done);
          if (typeof pending !== 'number') {
            pending.then((n) => got(done, n), fail);
            return;
          }
        }
        fs.read(this.#fd, buf, done, length - done, offset + done, (err, n) =>
          err ? fail(err) : got(done, n),
        );
      };
      step(from);
    });
  }
}
