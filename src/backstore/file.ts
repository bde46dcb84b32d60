import fs from 'node:fs';
import path from 'node:path';
import { ioBuffers } from '../util/buffer-pool.js';
import { TandemError } from '../util/errors.js';
import type { BlockDevice } from './block-device.js';

function ioError(op: string, file: string, err: NodeJS.ErrnoException): TandemError {
  return new TandemError('TANDEM_ERR_BACKSTORE_IO', `${op} ${file}: ${err.message}`, { cause: err });
}

/**
 * A regular (sparse) file or a block device. Writes go through the page cache; FUA writes and
 * flush() reach stable storage with fdatasync, which is what WCE=1 in the caching mode page
 * promises the initiator.
 */
export class FileDevice implements BlockDevice {
  readonly size: number;
  readonly description: string;
  readonly #fd: number;
  readonly #path: string;
  readonly #isBlockDevice: boolean;
  #closed = false;

  private constructor(fd: number, file: string, size: number, isBlockDevice: boolean) {
    this.#fd = fd;
    this.#path = file;
    this.size = size;
    this.#isBlockDevice = isBlockDevice;
    this.description = `file:${file}`;
  }

  /**
   * Opens `file`. A missing regular file is created sparse with `createSize` bytes; an
   * existing one keeps its size (a larger createSize grows it). Block devices keep theirs.
   */
  static async open(file: string, opts: { createSize?: number; readOnly?: boolean } = {}): Promise<FileDevice> {
    const abs = path.resolve(file);
    try {
      let st: fs.Stats | undefined;
      try {
        st = await fs.promises.stat(abs);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
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
      const fd = fs.openSync(abs, opts.readOnly ? 'r' : 'r+');
      let size = st.size;
      if (isBlock) {
        // A block device reports size 0 in stat: seek to the end to learn its capacity.
        size = await blockDeviceSize(fd);
      } else if (opts.createSize && opts.createSize > size && !opts.readOnly) {
        fs.ftruncateSync(fd, opts.createSize);
        size = opts.createSize;
      }
      return new FileDevice(fd, abs, size, isBlock);
    } catch (err) {
      throw new TandemError('TANDEM_ERR_BACKSTORE_OPEN', `cannot open backing store ${abs}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  read(offset: number, length: number): Promise<Buffer> {
    const buf = ioBuffers.take(length);
    return new Promise((resolve, reject) => {
      const step = (done: number): void => {
        fs.read(this.#fd, buf, done, length - done, offset + done, (err, n) => {
          if (err) return reject(ioError('read', this.#path, err));
          if (n === 0) {
            // Past the end of a file that shrank underneath us: zeroes, like a hole.
            buf.fill(0, done);
            return resolve(buf);
          }
          if (done + n < length) return step(done + n);
          resolve(buf);
        });
      };
      step(0);
    });
  }

  write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = (done: number): void => {
        fs.write(this.#fd, data, done, data.length - done, offset + done, (err, n) => {
          if (err) return reject(ioError('write', this.#path, err));
          if (done + n < data.length) return step(done + n);
          if (!fua) return resolve();
          fs.fdatasync(this.#fd, (e) => (e ? reject(ioError('fdatasync', this.#path, e)) : resolve()));
        });
      };
      step(0);
    });
  }

  flush(): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.fdatasync(this.#fd, (e) => (e ? reject(ioError('fdatasync', this.#path, e)) : resolve()));
    });
  }

  async discard(offset: number, length: number): Promise<void> {
    // Without fallocate(PUNCH_HOLE) in Node's fs, a discard writes zeroes: the range reads
    // back as zeroes, which is what SBC-3 requires of a deallocated block with LBPRZ=1.
    const zero = Buffer.alloc(Math.min(length, 1 << 20));
    for (let done = 0; done < length; done += zero.length) {
      const n = Math.min(zero.length, length - done);
      await this.write(offset + done, n === zero.length ? zero : zero.subarray(0, n), false);
    }
  }

  get isBlockDevice(): boolean {
    return this.#isBlockDevice;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => fs.fdatasync(this.#fd, () => fs.close(this.#fd, () => resolve())));
  }
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
