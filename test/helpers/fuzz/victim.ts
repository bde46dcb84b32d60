// The bystander of the fuzz test: one logged-in session that keeps doing verified I/O while
// attackers hammer the same portal. Every iteration writes a block pattern unique to that
// iteration, reads it back and compares, and issues INQUIRY and TEST UNIT READY. Any failed
// command, mismatch, timeout or slow command (above `maxLatencyMs`) is recorded.
import { randomBytes } from 'node:crypto';
import {
  type ConnectOptions,
  IscsiInitiator,
  inquiry,
  parseStandardInquiry,
  read10,
  testUnitReady,
  write10,
} from '../initiator/index.js';
import { SenseKey, Status } from '../wire.js';

export interface VictimStats {
  iterations: number;
  commands: number;
  failures: string[];
  maxLatencyMs: number;
}

export interface VictimOptions {
  /** First LBA of the region the victim owns, and its size in blocks. */
  lba: number;
  regionBlocks: number;
  blocksPerIo: number;
  blockSize: number;
  /** A command slower than this counts as a failure: another session was hung. */
  maxLatencyMs: number;
}

export class Victim {
  readonly init: IscsiInitiator;
  readonly stats: VictimStats = { iterations: 0, commands: 0, failures: [], maxLatencyMs: 0 };
  readonly #opts: VictimOptions;
  #stop = false;
  #loop: Promise<void> | undefined;

  private constructor(init: IscsiInitiator, opts: VictimOptions) {
    this.init = init;
    this.#opts = opts;
  }

  static async start(connect: ConnectOptions, opts: VictimOptions): Promise<Victim> {
    const init = await IscsiInitiator.connect(connect);
    // The first command of a new I_T nexus reports POWER ON OCCURRED; take it before the loop.
    for (let i = 0; ; i++) {
      const r = await init.scsi(0, testUnitReady());
      if (r.status === Status.GOOD) break;
      if (i > 3 || r.sense?.key !== SenseKey.UNIT_ATTENTION)
        throw new Error('victim: TEST UNIT READY never GOOD');
    }
    const v = new Victim(init, opts);
    v.#loop = v.#run();
    return v;
  }

  async stop(): Promise<VictimStats> {
    this.#stop = true;
    await this.#loop;
    return this.stats;
  }

  async #timed<T>(what: string, p: Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
      return await p;
    } finally {
      const ms = Date.now() - t0;
      this.stats.commands++;
      this.stats.maxLatencyMs = Math.max(this.stats.maxLatencyMs, ms);
      if (ms > this.#opts.maxLatencyMs) this.#fail(`${what} took ${ms} ms`);
    }
  }

  #fail(msg: string): void {
    if (this.stats.failures.length < 20)
      this.stats.failures.push(`iteration ${this.stats.iterations}: ${msg}`);
  }

  async #run(): Promise<void> {
    const o = this.#opts;
    const slots = Math.floor(o.regionBlocks / o.blocksPerIo);
    const bytes = o.blocksPerIo * o.blockSize;
    while (!this.#stop) {
      const i = this.stats.iterations;
      const lba = o.lba + (i % slots) * o.blocksPerIo;
      const data = randomBytes(bytes);
      data.writeUInt32BE(i, 0); // unique per iteration even if the random bytes repeat
      try {
        const w = await this.#timed(
          'WRITE(10)',
          this.init.scsi(0, write10(lba, o.blocksPerIo), { dataOut: data }),
        );
        if (w.status !== Status.GOOD) this.#fail(`WRITE(10) at ${lba}: status 0x${w.status.toString(16)}`);
        const r = await this.#timed(
          'READ(10)',
          this.init.scsi(0, read10(lba, o.blocksPerIo), { expectedDataIn: bytes }),
        );
        if (r.status !== Status.GOOD) this.#fail(`READ(10) at ${lba}: status 0x${r.status.toString(16)}`);
        else if (!r.data.equals(data)) this.#fail(`READ(10) at ${lba}: data differs from what was written`);
        const q = await this.#timed('INQUIRY', this.init.scsi(0, inquiry(), { expectedDataIn: 255 }));
        if (q.status !== Status.GOOD) this.#fail(`INQUIRY: status 0x${q.status.toString(16)}`);
        else if (parseStandardInquiry(q.data).peripheralDeviceType !== 0) this.#fail('INQUIRY: not a disk');
        const t = await this.#timed('TEST UNIT READY', this.init.scsi(0, testUnitReady()));
        if (t.status !== Status.GOOD) this.#fail(`TEST UNIT READY: status 0x${t.status.toString(16)}`);
      } catch (err) {
        this.#fail(`${(err as Error).name}: ${(err as Error).message}`);
        if (this.init.isClosed) return;
      }
      this.stats.iterations++;
    }
  }
}
