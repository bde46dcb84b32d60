import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Extent } from './block-device.js';

/** The native helper (src/backstore/native/tandem-native.c, built by node-gyp). */
export interface NativeHelper {
  /** fallocate(PUNCH_HOLE | KEEP_SIZE): the range reads back as zeroes. */
  punchHole(fd: number, offset: number, length: number): Promise<void>;
  /** lseek(SEEK_DATA/SEEK_HOLE): the run of data or hole starting at `offset`, capped at `length`. */
  extent(fd: number, offset: number, length: number): Promise<Extent>;
  /**
   * preadv2(RWF_NOWAIT) on the calling thread: the bytes the page cache already holds from
   * `position` on (short when only the start is cached), or -errno (-EAGAIN: not cached;
   * -EOPNOTSUPP/-EINVAL: no RWF_NOWAIT on this file system). Never waits for the device.
   */
  readNoWait(fd: number, buffers: Buffer[], position: number): number;
  /**
   * cachestat(2) on the calling thread: 1 when every page of the range is in the page cache, 0
   * when one is not, -errno (-ENOSYS before Linux 6.5). No I/O and no readahead, unlike a
   * readNoWait that misses. Absent from a helper built before it existed.
   */
  isCached?(fd: number, offset: number, length: number): number;
  /**
   * mmap(PROT_READ, MAP_SHARED, MADV_RANDOM) of the file's first `length` bytes: an opaque
   * handle for readMapped, or -errno (the file system cannot map it). Absent from an old helper.
   */
  mapFile?(fd: number, length: number): unknown;
  /** munmap: the handle reads -EBADF from then on. */
  unmapFile?(map: unknown): void;
  /**
   * Copies buffer.length bytes at `position` out of the mapping, on the calling thread, only when
   * mincore finds every page of the range cached and up to date: buffer.length, or -EAGAIN (a
   * page is not), -ERANGE (past the mapping), -EFAULT (the file shrank underneath: SIGBUS,
   * caught). Never starts I/O: no readahead from a MADV_RANDOM mapping.
   */
  readMapped?(map: unknown, buffer: Buffer, position: number): number;
  /**
   * pread on the helper's own reader threads (submitting takes no lock, unlike libuv's pool):
   * the bytes read (0 at the end of the file), rejected with `code`/`errno` on an error; or, at
   * once, -EAGAIN when its queue is full (the caller uses the pool). Absent from an old helper.
   */
  readPooled?(fd: number, buffer: Buffer, position: number): Promise<number> | number;
  /** madvise(MADV_DONTNEED) of that range: unmaps its faulted-in pages (the page cache keeps them). */
  dropMapped?(map: unknown, offset: number, length: number): number;
}

const ADDON = path.join('build', 'Release', 'tandem_native.node');

let loaded: { helper?: NativeHelper; error?: string } | undefined;

/**
 * Loads the addon once per process. It sits at <repo>/build/Release whether this module runs
 * from src/ (tests) or dist/src/ (the daemon): look upwards from here. TANDEM_NO_NATIVE=1
 * disables it (tests of the fallback path).
 */
function load(): { helper?: NativeHelper; error?: string } {
  if (loaded) return loaded;
  if (process.env.TANDEM_NO_NATIVE === '1') return (loaded = { error: 'disabled by TANDEM_NO_NATIVE=1' });
  const require = createRequire(import.meta.url);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, ADDON);
    if (fs.existsSync(candidate)) {
      try {
        const addon = require(candidate) as NativeHelper;
        // A plain object over the addon's read-only properties (tests wrap its functions).
        const helper: NativeHelper = {
          punchHole: addon.punchHole,
          extent: addon.extent,
          readNoWait: addon.readNoWait,
          ...(typeof addon.isCached === 'function' ? { isCached: addon.isCached } : {}),
          ...(typeof addon.readPooled === 'function' ? { readPooled: addon.readPooled } : {}),
          ...(typeof addon.mapFile === 'function'
            ? {
                mapFile: addon.mapFile,
                unmapFile: addon.unmapFile,
                readMapped: addon.readMapped,
                dropMapped: addon.dropMapped,
              }
            : {}),
        };
        return (loaded = { helper });
      } catch (err) {
        return (loaded = { error: `${candidate}: ${(err as Error).message}` });
      }
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return (loaded = { error: `${ADDON} not found (npm ci builds it with node-gyp)` });
}

let warned = false;

/**
 * The helper, or undefined when it is not built; `warn` is told why, once per process
 * (the file backstore then writes zeroes to discard and reports every block mapped).
 */
export function nativeHelper(warn?: (message: string) => void): NativeHelper | undefined {
  const r = load();
  if (!r.helper && !warned) {
    warned = true;
    const msg = `native helper unavailable (${r.error}): discard writes zeroes, GET LBA STATUS reports every block mapped`;
    if (warn) warn(msg);
    else process.emitWarning(msg, { code: 'TANDEM_NATIVE_MISSING' });
  }
  return r.helper;
}
