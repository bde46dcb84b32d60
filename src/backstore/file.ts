import fs from 'node:fs';
import path from 'node:path';
import { ioBuffers } from '../util/buffer-pool.js';
import { TandemError } from '../util/errors.js';
import type { BlockDevice, Extent } from './block-device.js';
import { DeviceError, type DeviceErrorKind } from './device-error.js';
import { FileReads, type InlineReadOptions } from './file-reads.js';
import { InlineWritePolicy, type InlineWritePolicyOptions, SlowIoWarnings } from './inline-writes.js';
import { ioStats } from './io-stats.js';
import { type NativeHelper, nativeHelper } from './native.js';

/** What each device call failing means to the engine (its DeviceErrorKind). */
const OP_KIND = {
  read: 'read',
  'read allocation of': 'read',
  write: 'write',
  discard: 'write',
  fdatasync: 'flush',
} as const satisfies Record<string, DeviceErrorKind>;
type DeviceOp = keyof typeof OP_KIND;

/** A full file system or quota: the space a thin LU's writes allocate is gone. */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

function ioError(op: DeviceOp, file: string, err: NodeJS.ErrnoException): DeviceError {
  // A read never allocates; a write, discard (punching a hole can split an extent) or flush
  // (delayed allocation happens at writeback) that finds no space is not a medium error.
  const kind = OP_KIND[op] !== 'read' && NO_SPACE.has(err.code ?? '') ? 'no-space' : OP_KIND[op];
  return new DeviceError(kind, `${op} ${file}: ${err.message}`, { cause: err });
}

/** Errors that mean "this file system or device cannot do that", not an I/O failure. */
const UNSUPPORTED = new Set(['EOPNOTSUPP', 'ENOSYS', 'EINVAL', 'ENODEV', 'ESPIPE']);

/** Adjacent writes gathered into one pwritev (see FileDevice.write). */
interface WriteRun {
  readonly offset: number;
  length: number;
  readonly buffers: Buffer[];
  readonly fua: boolean;
  readonly waiters: { resolve: () => void; reject: (err: TandemError) => void }[];
}

/**
 * What is left of `buffers` after a (p)writev wrote `n` bytes of them: the buffers it did not
 * reach, the first of them cut where it stopped; undefined when it wrote them all.
 */
function unwritten(buffers: Buffer[], n: number): Buffer[] | undefined {
  let left = n;
  let i = 0;
  while (i < buffers.length && left >= buffers[i]!.length) left -= buffers[i++]!.length;
  if (i === buffers.length) return undefined;
  const rest = buffers.slice(i);
  rest[0] = rest[0]!.subarray(left);
  return rest;
}

/** A write that returned 0 for a non-empty range would otherwise be retried for ever. */
function noProgress(): NodeJS.ErrnoException {
  return Object.assign(new Error('the write made no progress (0 bytes written)'), { code: 'EIO' });
}

/** A run's limits: IOV_MAX is 1024 on Linux; 1 MiB keeps one run from holding up the others. */
const RUN_MAX_BUFFERS = 256;
const RUN_MAX_BYTES = 1 << 20;

export interface FileDeviceOptions {
  createSize?: number;
  readOnly?: boolean;
  /**
   * Told once when a thin-provisioning system call is unavailable and the device falls back,
   * and when a slow write sends writes to the thread pool for a while.
   */
  warn?: (message: string) => void;
  /**
   * Writes go inline (a pwritev on the event loop) while they are fast, else through the thread
   * pool (see InlineWritePolicy); false: always through the thread pool.
   */
  inlineWrites?: boolean | InlineWritePolicyOptions;
  /**
   * Reads are served inline from the page cache (preadv2 with RWF_NOWAIT through the native
   * helper, which never waits for the device) while that is fast; what is not cached goes to
   * the thread pool; after a miss reads probe the page cache first (ColdCachePolicy). false:
   * every read through the thread pool.
   */
  inlineReads?: boolean | InlineReadOptions;
}

/**
 * A regular (sparse) file or a block device. Writes go through the page cache; FUA writes and
 * flush() reach stable storage with fdatasync, which is what WCE=1 in the caching mode page
 * promises the initiator. Thin provisioning: discard punches holes (fallocate) and
 * allocation() reads them back (SEEK_DATA/SEEK_HOLE) through the native helper; without it, or
 * on a file system that cannot, discard writes zeroes and every block reports mapped.
 */
export class FileDevice implements BlockDevice {
  #size: number;
  readonly description: string;
  /**
   * The size the store had before open() created or grew it; undefined: open() created it. A
   * caller that knows what the store held (replication metadata) tells a lost or truncated file
   * from a new or resized one by it (issue 14, finding 3).
   */
  readonly foundSize: number | undefined;
  readonly discardGranularity: number;
  readonly #fd: number;
  readonly #path: string;
  readonly #isBlockDevice: boolean;
  readonly #native: NativeHelper | undefined;
  readonly #warn: (message: string) => void;
  #punchUnsupported = false;
  #seekUnsupported = false;
  #closed = false;
  /** Writes of this event-loop turn, as runs of adjacent writes (see write()). */
  #runs: WriteRun[] = [];
  #runsScheduled = false;
  /** Runs handed to the kernel and not finished; close() waits for them (the fd must stay ours). */
  #writesInFlight = 0;
  #writesIdle: (() => void)[] = [];
  /** Whether a run goes inline or to the thread pool; undefined: always the pool. */
  readonly #inline: InlineWritePolicy | undefined;
  readonly #slowWrites: SlowIoWarnings;
  readonly #reads: FileReads;

  private constructor(
    fd: number,
    file: string,
    size: number,
    isBlockDevice: boolean,
    blksize: number,
    opts: FileDeviceOptions,
    foundSize: number | undefined,
  ) {
    this.#fd = fd;
    this.foundSize = foundSize;
    this.#path = file;
    this.#size = size;
    this.#isBlockDevice = isBlockDevice;
    this.description = `file:${file}`;
    // Holes are punched in file system blocks: a partial block is zeroed, not released.
    this.discardGranularity = blksize >= 512 && (blksize & (blksize - 1)) === 0 ? blksize : 4096;
    this.#warn = opts.warn ?? ((m) => process.emitWarning(m, { code: 'TANDEM_BACKSTORE_FALLBACK' }));
    this.#native = nativeHelper(opts.warn);
    const inline = opts.inlineWrites ?? true;
    this.#inline = inline === false ? undefined : new InlineWritePolicy(inline === true ? {} : inline);
    this.#slowWrites = new SlowIoWarnings('write', this.#warn);
    this.#reads = new FileReads(fd, file, this.#native, opts.inlineReads ?? true, this.#warn, size);
  }

  /**
   * Opens `file`. A missing regular file is created sparse with `createSize` bytes; an
   * existing one keeps its size (a larger createSize grows it). Block devices keep theirs.
   */
  static async open(file: string, opts: FileDeviceOptions = {}): Promise<FileDevice> {
    const abs = path.resolve(file);
    try {
      let st: fs.Stats | undefined;
      try {
        st = await fs.promises.stat(abs);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      const existed = st !== undefined;
      if (!st) {
        if (!opts.createSize) throw new Error('does not exist and no size was given to create it');
        await fs.promises.mkdir(path.dirname(abs), { recursive: true });
        const fh = await fs.promises.open(abs, 'wx', 0o600);
        await fh.truncate(opts.createSize);
        await fh.sync();
        await fh.close();
        st = await fs.promises.stat(abs);
      }
      const isBlock = st.isBlockDevice();
      if (!isBlock && !st.isFile()) throw new Error('is neither a regular file nor a block device');
      const fd = openBacking(abs, opts.readOnly === true);
      let size = st.size;
      if (isBlock) {
        // A block device reports size 0 in stat: seek to the end to learn its capacity.
        size = await blockDeviceSize(fd);
      }
      const foundSize = existed ? size : undefined;
      if (!isBlock && opts.createSize && opts.createSize > size && !opts.readOnly) {
        fs.ftruncateSync(fd, opts.createSize);
        size = opts.createSize;
      }
      return new FileDevice(fd, abs, size, isBlock, st.blksize, opts, foundSize);
    } catch (err) {
      throw new TandemError(
        'TANDEM_ERR_BACKSTORE_OPEN',
        `cannot open backing store ${abs}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  /**
   * After close() the descriptor number may already belong to another file: any further I/O
   * through it must fail, not land there.
   */
  #closedError(op: DeviceOp): TandemError | undefined {
    if (!this.#closed) return undefined;
    return new DeviceError(OP_KIND[op], `${op} ${this.#path}: the backing store is closed`);
  }

  /** See FileReads.read: inline from the page cache while it is warm and fast, else the pool. */
  read(offset: number, length: number): Promise<Buffer> {
    const closed = this.#closedError('read');
    if (closed) return Promise.reject(closed);
    return this.#reads.read(offset, length);
  }

  /**
   * Writes are gathered for the rest of the event-loop turn (they run at setImmediate, or at
   * submitWrites() when the caller knows no more are coming this turn): a write that starts
   * where the previous one in the turn ends, with the same FUA, joins its run, and each run is
   * one pwritev. A sequential stream at queue depth 32 then costs a few system calls
   * per turn instead of 32. Writes that are not adjacent stay separate and are issued in the
   * order they came. Each run goes inline (a pwritev on the event loop) while writes are fast,
   * else to the thread pool, where the runs of one turn run concurrently (InlineWritePolicy).
   */
  write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    const closed = this.#closedError('write');
    if (closed) return Promise.reject(closed);
    return new Promise((resolve, reject) => {
      const last = this.#runs.at(-1);
      if (
        last !== undefined &&
        last.fua === fua &&
        last.offset + last.length === offset &&
        last.buffers.length < RUN_MAX_BUFFERS &&
        last.length + data.length <= RUN_MAX_BYTES
      ) {
        last.buffers.push(data);
        last.length += data.length;
        last.waiters.push({ resolve, reject });
      } else {
        this.#runs.push({
          offset,
          length: data.length,
          buffers: [data],
          fua,
          waiters: [{ resolve, reject }],
        });
      }
      if (!this.#runsScheduled) {
        this.#runsScheduled = true;
        setImmediate(() => this.#submitRuns());
      }
    });
  }

  submitWrites(): void {
    if (this.#runs.length > 0) this.#submitRuns();
  }

  #submitRuns(): void {
    this.#runsScheduled = false;
    const runs = this.#runs;
    this.#runs = [];
    for (const run of runs) this.#writeRun(run);
  }

  #writeRun(run: WriteRun): void {
    this.#writesInFlight++;
    const settle = (err: TandemError | undefined): void => {
      if (--this.#writesInFlight === 0) {
        const idle = this.#writesIdle;
        this.#writesIdle = [];
        for (const f of idle) f();
      }
      for (const w of run.waiters) {
        if (err) w.reject(err);
        else w.resolve();
      }
    };
    const closed = this.#closedError('write');
    if (closed) {
      settle(closed);
      return;
    }
    const done = (err: NodeJS.ErrnoException | null): void => {
      if (err) settle(ioError('write', this.#path, err));
      else if (!run.fua) settle(undefined);
      else fs.fdatasync(this.#fd, (e) => settle(e ? ioError('fdatasync', this.#path, e) : undefined));
    };
    const inline = this.#inline;
    if (inline?.inline) {
      // A page-cache write: done before a pool thread would have woken (see InlineWritePolicy).
      const startedAt = inline.now();
      let err: NodeJS.ErrnoException | null = null;
      try {
        let buffers: Buffer[] | undefined = run.buffers;
        let position = run.offset;
        while (buffers) {
          const n = fs.writevSync(this.#fd, buffers, position);
          if (n === 0) throw noProgress();
          position += n;
          buffers = unwritten(buffers, n);
        }
      } catch (e) {
        err = e as NodeJS.ErrnoException;
      }
      const ms = inline.now() - startedAt;
      const backoffMs = inline.done(startedAt);
      ioStats.writesInline++;
      if (ms > ioStats.longestInlineWriteMs) ioStats.longestInlineWriteMs = ms;
      if (backoffMs > 0) this.#slowWrites.slow(run.length, ms, backoffMs, inline.now());
      done(err);
      return;
    }
    // Through the thread pool; a run of one buffer is a pwritev of one iovec.
    ioStats.writesPool++;
    const stepv = (buffers: Buffer[], position: number): void => {
      fs.writev(this.#fd, buffers, position, (err, n) => {
        if (err) return done(err);
        if (n === 0) return done(noProgress());
        const rest = unwritten(buffers, n);
        if (rest) stepv(rest, position + n);
        else done(null);
      });
    };
    stepv(run.buffers, run.offset);
  }

  flush(): Promise<void> {
    const closed = this.#closedError('fdatasync');
    if (closed) return Promise.reject(closed);
    return new Promise((resolve, reject) => {
      fs.fdatasync(this.#fd, (e) => (e ? reject(ioError('fdatasync', this.#path, e)) : resolve()));
    });
  }

  get size(): number {
    return this.#size;
  }

  async grow(size: number): Promise<void> {
    if (size <= this.#size) return;
    if (this.#isBlockDevice) {
      throw new DeviceError('write', `grow ${this.#path}: a block device has the size it has`);
    }
    try {
      await new Promise<void>((resolve, reject) =>
        fs.ftruncate(this.#fd, size, (err) => (err ? reject(err) : resolve())),
      );
    } catch (err) {
      throw new DeviceError('write', `grow ${this.#path} to ${size}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.#size = size;
    this.#reads.resized(size);
  }

  async discard(offset: number, length: number): Promise<void> {
    const closed = this.#closedError('discard');
    if (closed) throw closed;
    if (length <= 0) return;
    if (this.#native && !this.#punchUnsupported) {
      try {
        // On a block device the kernel turns this into a discard that reads back zeroes
        // (blkdev_issue_zeroout) or fails with EOPNOTSUPP.
        await this.#native.punchHole(this.#fd, offset, length);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (!UNSUPPORTED.has(code)) throw ioError('discard', this.#path, err as NodeJS.ErrnoException);
        this.#punchUnsupported = true;
        this.#warn(`${this.#path}: cannot punch holes (${code}): discard writes zeroes`);
      }
    }
    // The range must read back as zeroes whatever happens (LBPRZ = 1, SBC-3 4.7.3.4.2).
    const zero = Buffer.alloc(Math.min(length, 1 << 20));
    for (let done = 0; done < length; done += zero.length) {
      const n = Math.min(zero.length, length - done);
      await this.write(offset + done, n === zero.length ? zero : zero.subarray(0, n), false);
    }
  }

  async allocation(offset: number, length: number): Promise<Extent> {
    const closed = this.#closedError('read allocation of');
    if (closed) throw closed;
    if (!this.#native || this.#seekUnsupported || length <= 0) return { mapped: true, length };
    try {
      const e = await this.#native.extent(this.#fd, offset, length);
      return e.length > 0 ? e : { mapped: true, length };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (!UNSUPPORTED.has(code))
        throw ioError('read allocation of', this.#path, err as NodeJS.ErrnoException);
      // A block device (or an old file system) has no SEEK_DATA: every block is in use.
      this.#seekUnsupported = true;
      return { mapped: true, length };
    }
  }

  async prefetch(offset: number, length: number): Promise<void> {
    // Reading pulls the range into the page cache, the cache later READs are served from.
    ioBuffers.give(await this.read(offset, length));
  }

  get isBlockDevice(): boolean {
    return this.#isBlockDevice;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Writes accepted before close() still reach the file, before the descriptor is closed.
    this.submitWrites();
    this.#closed = true;
    if (this.#writesInFlight > 0) await new Promise<void>((r) => this.#writesIdle.push(r));
    this.#reads.close();
    await new Promise<void>((resolve) => fs.fdatasync(this.#fd, () => fs.close(this.#fd, () => resolve())));
  }
}

/**
 * Opens with O_NOATIME where allowed (the file's owner, or CAP_FOWNER): otherwise, with
 * relatime, the first read after a write updates the inode's atime, a journal transaction in
 * the read path (ext4_dirty_inode), on the event loop for an inline read.
 */
function openBacking(file: string, readOnly: boolean): number {
  const { O_RDONLY, O_RDWR, O_NOATIME } = fs.constants;
  const flags = readOnly ? O_RDONLY : O_RDWR;
  if (O_NOATIME) {
    try {
      return fs.openSync(file, flags | O_NOATIME);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    }
  }
  return fs.openSync(file, flags);
}

function blockDeviceSize(fd: number): Promise<number> {
  // Node's fs has no lseek(SEEK_END): read the capacity from sysfs (in 512-byte sectors).
  return new Promise((resolve, reject) => {
    fs.readlink(`/proc/self/fd/${fd}`, (err, dev) => {
      if (err) return reject(err);
      const name = path.basename(dev);
      fs.readFile(`/sys/class/block/${name}/size`, 'utf8', (e, text) => {
        if (e) return reject(e);
        resolve(Number(text.trim()) * 512);
      });
    });
  });
}
