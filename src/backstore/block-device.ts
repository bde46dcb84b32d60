/**
 * Where an LU's blocks live. Offsets and lengths are in bytes and always multiples of the
 * LU's logical block size (the engine checks ranges before calling).
 */
export interface BlockDevice {
  /** Capacity in bytes. */
  readonly size: number;
  /** Human-readable origin for logs: "file:/path", "memory". */
  readonly description: string;
  /** Reads `length` bytes at `offset` into a new buffer. */
  read(offset: number, length: number): Promise<Buffer>;
  /** Writes `data` at `offset`; with `fua` the data is on stable storage before it resolves. */
  write(offset: number, data: Buffer, fua: boolean): Promise<void>;
  /** Makes every completed write durable (SYNCHRONIZE CACHE). */
  flush(): Promise<void>;
  /**
   * Issues the writes this device is holding back to gather (a FileDevice gathers those of one
   * event-loop turn) now, for a caller that knows no more are coming this turn. Absent: writes
   * are issued when called.
   */
  submitWrites?(): void;
  /**
   * Deallocates a range: it reads back as zeroes afterwards (LBPRZ). Space is released in
   * units of `discardGranularity`; a partial unit is zeroed but stays allocated.
   * A device without it is fully provisioned.
   */
  discard?(offset: number, length: number): Promise<void>;
  /** Bytes: the unit `discard` releases space in (the file system block, the memory page). */
  readonly discardGranularity?: number;
  /**
   * Provisioning status of the bytes starting at `offset`: whether they are allocated, and
   * how many bytes (> 0, ≤ `length`) share that status. Absent: everything is allocated.
   */
  allocation?(offset: number, length: number): Promise<Extent>;
  /**
   * Grows the device to `size` bytes (the new bytes read as zeroes); `size` reports the new value
   * afterwards. Absent, or rejecting: the device cannot grow (a block device, memory).
   */
  grow?(size: number): Promise<void>;
  /** Brings a range into the cache ahead of reads (PRE-FETCH). Absent: always in memory. */
  prefetch?(offset: number, length: number): Promise<void>;
  close(): Promise<void>;
}

/** A run of bytes with one provisioning status (GET LBA STATUS). */
export interface Extent {
  readonly mapped: boolean;
  readonly length: number;
}

export type BackstoreKind = 'file' | 'memory';

export { DeviceError, type DeviceErrorKind } from './device-error.js';
