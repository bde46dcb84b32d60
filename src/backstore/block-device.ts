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
  /** Deallocates a range: it reads back as zeroes afterwards. */
  discard?(offset: number, length: number): Promise<void>;
  close(): Promise<void>;
}

export type BackstoreKind = 'file' | 'memory';
