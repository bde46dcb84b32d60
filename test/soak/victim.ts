// The soak's verified writer: a session that writes stamped blocks (its name, round, LBA and a
// random nonce in every block), reads them back and compares, timing every command. A unit
// attention is retried (and counted: another initiator's reset must not reach this LU, issue #13
// point 6); any other status, a timeout or wrong data is an error.
import { randomBytes } from 'node:crypto';
import {
  type ChapCredentials,
  IscsiInitiator,
  read10,
  type ScsiResult,
  testUnitReady,
  write10,
} from '../helpers/initiator/index.js';
import { Status } from '../helpers/wire.js';

const BLOCK = 512;
const BLOCKS = 16;

export interface LatencySample {
  /** ms since the soak started, at completion. */
  at: number;
  ms: number;
}

export interface VictimOptions {
  name: string;
  /** Which node's portal (for the report). */
  node: string;
  host: string;
  port: number;
  target: string;
  isid: string;
  chap?: ChapCredentials;
  /** First LBA of this victim's region (256 slots of 16 blocks). */
  baseLba: number;
  t0: number;
}

export class Victim {
  readonly latencies: LatencySample[] = [];
  readonly errors: string[] = [];
  unitAttentions = 0;
  rounds = 0;
  #stop = false;
  #loop: Promise<void> | undefined;

  private constructor(
    readonly opts: VictimOptions,
    readonly init: IscsiInitiator,
  ) {}

  static async connect(o: VictimOptions): Promise<Victim> {
    const init = await IscsiInitiator.connect({
      host: o.host,
      port: o.port,
      initiatorName: `iqn.2026-12.org.tandem.soak:${o.name}`,
      sessionType: 'Normal',
      targetName: o.target,
      isid: o.isid,
      timeoutMs: 30_000,
      ...(o.chap ? { chap: o.chap } : {}),
    });
    // The power-on unit attention of a new nexus (SPC-4 6.4), and a replicated volume's
    // transition while the peer joins: bounded retries.
    for (let i = 0; i < 50; i++) {
      const r = await init.scsi(0, testUnitReady());
      if (r.status === Status.GOOD) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    return new Victim(o, init);
  }

  get name(): string {
    return this.opts.name;
  }

  start(): void {
    this.#loop = (async () => {
      for (let i = 0; !this.#stop; i++) {
        try {
          await this.#round(i);
          this.rounds++;
        } catch (err) {
          this.errors.push(`round ${i}: ${(err as Error).message}`);
          if (this.init.isClosed) {
            this.errors.push(`${this.name}: session closed, the writer stops`);
            return;
          }
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
  }

  async #round(i: number): Promise<void> {
    const lba = this.opts.baseLba + (i % 256) * BLOCKS;
    const data = Buffer.alloc(BLOCKS * BLOCK);
    const nonce = randomBytes(8);
    for (let b = 0; b < BLOCKS; b++) {
      const off = b * BLOCK;
      data.fill((i + b) % 251, off, off + BLOCK);
      data.write(`${this.name} round ${i} lba ${lba + b} `, off, 'latin1');
      nonce.copy(data, off + BLOCK - 8);
    }
    const w = await this.#timed(write10(lba, BLOCKS), { dataOut: data });
    if (w.status !== Status.GOOD) throw new Error(`WRITE(10) at ${lba}: status 0x${w.status.toString(16)}`);
    const r = await this.#timed(read10(lba, BLOCKS), { expectedDataIn: data.length });
    if (r.status !== Status.GOOD) throw new Error(`READ(10) at ${lba}: status 0x${r.status.toString(16)}`);
    if (!r.data.equals(data)) {
      const bad = Array.from({ length: BLOCKS }, (_, b) => b).find(
        (b) => !r.data.subarray(b * BLOCK, (b + 1) * BLOCK).equals(data.subarray(b * BLOCK, (b + 1) * BLOCK)),
      );
      throw new Error(
        `read back at ${lba}: block ${bad} differs (got "${r.data.toString('latin1', (bad ?? 0) * BLOCK, (bad ?? 0) * BLOCK + 40)}")`,
      );
    }
  }

  /** One command, retried through unit attentions (each retry timed as its own command). */
  async #timed(cdb: Buffer, opts: { dataOut?: Buffer; expectedDataIn?: number }): Promise<ScsiResult> {
    for (let attempt = 0; ; attempt++) {
      const t = performance.now();
      const r = await this.init.scsi(0, cdb, opts);
      this.latencies.push({ at: Date.now() - this.opts.t0, ms: performance.now() - t });
      if (r.status === Status.CHECK_CONDITION && r.sense?.key === 6 && attempt < 5) {
        this.unitAttentions++;
        continue;
      }
      return r;
    }
  }
}
