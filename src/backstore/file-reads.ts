import fs from 'node:fs';
import os from 'node:os';
import { ioBuffers } from '../util/buffer-pool.js';
import { ColdCachePolicy, type ColdCachePolicyOptions } from './cold-cache.js';
import { DeviceError } from './device-error.js';
import { InlineWritePolicy, type InlineWritePolicyOptions, SlowIoWarnings } from './inline-writes.js';
import { ioStats } from './io-stats.js';
import type { NativeHelper } from './native.js';

const { EINVAL, EOPNOTSUPP } = os.constants.errno;

/** A larger read goes to the pool whole: copying it on the loop would hold up every session. */
export const INLINE_READ_MAX_BYTES = 1 << 20;

/** The inline read policy: the slow-call backoff (InlineWritePolicy) and the cold-cache probe. */
export type InlineReadOptions = InlineWritePolicyOptions & ColdCachePolicyOptions;

/**
 * A FileDevice's reads (see FileDevice.read): inline from the page cache while that is fast and
 * the cache is warm, through the thread pool otherwise.
 */
export class FileReads {
  readonly #fd: number;
  readonly #path: string;
  readonly #native: NativeHelper | undefined;
  readonly #warn: (message: string) => void;
  /** Whether a read tries the page cache on the event loop first; undefined: always the pool. */
  #policy: InlineWritePolicy | undefined;
  readonly #cache: ColdCachePolicy;
  readonly #slow: SlowIoWarnings;

  constructor(
    fd: number,
    file: string,
    native: NativeHelper | undefined,
    opts: boolean | InlineReadOptions,
    warn: (message: string) => void,
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
  }

  /**
   * A read is first tried inline: preadv2(RWF_NOWAIT) copies what the page cache holds without
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
    if (inline?.inline && length > 0 && length <= INLINE_READ_MAX_BYTES) {
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
        const startedAt = inline.now();
        const n = this.#native!.readNoWait(this.#fd, [buf], offset);
        const ms = inline.now() - startedAt;
        const backoffMs = inline.done(startedAt);
        if (ms > ioStats.longestInlineReadMs) ioStats.longestInlineReadMs = ms;
        if (backoffMs > 0) this.#slow.slow(length, ms, backoffMs, inline.now());
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

  /** Every later inline attempt would fail the same way: reads use the pool from now on. */
  #readNoWaitUnsupported(): void {
    this.#policy = undefined;
    this.#warn(
      `${this.#path}: the file system cannot read with RWF_NOWAIT: reads go through the thread pool`,
    );
  }

  /** Reads [offset + done, offset + length) into buf[done..] on the thread pool. */
  #poolRead(buf: Buffer, from: number, length: number, offset: number): Promise<Buffer> {
    ioStats.readsPool++;
    return new Promise((resolve, reject) => {
      const step = (done: number): void => {
        fs.read(this.#fd, buf, done, length - done, offset + done, (err, n) => {
          if (err) {
            return reject(new DeviceError('read', `read ${this.#path}: ${err.message}`, { cause: err }));
          }
          if (n === 0) {
            // Past the end of a file that shrank underneath us: zeroes, like a hole.
            buf.fill(0, done);
            return resolve(buf);
          }
          if (done + n < length) return step(done + n);
          resolve(buf);
        });
      };
      step(from);
    });
  }
}
