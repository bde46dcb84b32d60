// I/O pool buffers have one owner each (issue #11): what the transport takes (a data segment the
// reader gathered across socket reads, a data-out assembled from several PDUs) the transport
// gives back; a device read the transport sends goes back through Completion.release once. Every
// pool take and give of a real in-process node is tracked by buffer: a give of a buffer that is
// not out (a double release, or memory the pool never lent) fails the test, and after each path
// (read, write, errors, abort, connection close) every buffer taken is back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { nodeConfigSchema } from '../../../src/admin/config-schema.js';
import { Daemon } from '../../../src/daemon.js';
import { dataOutStats } from '../../../src/iscsi/data-out.js';
import { BufferPool, ioBuffers } from '../../../src/util/buffer-pool.js';
import { silentLogger } from '../../../src/util/logger.js';
import {
  buildDataOut,
  buildScsiCommand,
  buildTmfRequest,
  encodePdu,
  IscsiInitiator,
  type R2tPdu,
  read10,
  type ScsiResponsePdu,
  type TargetPdu,
  write10,
} from '../../helpers/initiator/index.js';
import { Status } from '../../helpers/wire.js';

const TARGET = 'iqn.2024-01.org.tandem:buffers';
const BS = 512;
const KiB = 1024;

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

/** Which pool buffers are out, by their memory (views of one buffer are one buffer). */
const out = new Set<ArrayBufferLike>();
const violations: string[] = [];
let takes = 0;
let gives = 0;

/** What BufferPool.give accepts (anything else it ignores: it was never pool memory). */
function poolable(b: Buffer): boolean {
  return ioBuffers.pools(b.length) && b.byteOffset === 0 && b.buffer.byteLength === b.length;
}

function track(): void {
  vi.spyOn(ioBuffers, 'take').mockImplementation((size: number) => {
    const b = BufferPool.prototype.take.call(ioBuffers, size);
    if (poolable(b)) {
      out.add(b.buffer);
      takes++;
    }
    return b;
  });
  vi.spyOn(ioBuffers, 'give').mockImplementation((b: Buffer) => {
    if (poolable(b)) {
      if (out.delete(b.buffer)) gives++;
      else violations.push(`give of a ${b.length}-byte buffer that is not out (double release or foreign)`);
    }
    BufferPool.prototype.give.call(ioBuffers, b);
  });
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Every buffer taken since the last check is back, and none was given back twice. */
async function balanced(minTakes: number): Promise<void> {
  await until(`${out.size} pool buffers back`, () => out.size === 0);
  expect(violations).toEqual([]);
  expect(gives).toBe(takes);
  expect(takes).toBeGreaterThanOrEqual(minTakes);
}

describe('I/O pool buffers: one owner, one release', () => {
  let daemon: Daemon;
  const open: IscsiInitiator[] = [];

  beforeAll(async () => {
    const config = nodeConfigSchema.parse({
      node: { name: 'tandem-1', dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-buffers-')) },
      portals: ['127.0.0.1:0'],
      targets: [{ iqn: TARGET, luns: [{ lun: 0, backstore: 'file', path: 'lun0.img', size: '8M' }] }],
    });
    daemon = await Daemon.start(config, silentLogger());
    track();
  });
  afterEach(() => {
    takes = 0;
    gives = 0;
    violations.length = 0;
    out.clear();
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    for (const i of open) i.close();
    await daemon?.stop(100);
    fs.rmSync(daemon.config.node.dataDir, { recursive: true, force: true });
  });

  async function login(): Promise<IscsiInitiator> {
    const init = await IscsiInitiator.connect({
      host: '127.0.0.1',
      port: daemon.portals[0]!.port,
      initiatorName: 'iqn.2024-01.org.tandem:buffers-test',
      sessionType: 'Normal',
      targetName: TARGET,
      // Immediate data up to 64 KiB, the rest only when solicited (R2T).
      params: {
        ImmediateData: 'Yes',
        InitialR2T: 'Yes',
        FirstBurstLength: '65536',
        MaxBurstLength: '262144',
      },
    });
    open.push(init);
    // The first command of a nexus reports POWER ON, RESET, OR BUS DEVICE RESET OCCURRED.
    for (let i = 0; i < 3; i++) if ((await init.scsi(0, Buffer.alloc(6))).status === 0) break;
    return init;
  }

  /** Sends a PDU in two socket writes apart in time, so the target gathers its data segment. */
  async function sendSplit(init: IscsiInitiator, pdu: Parameters<typeof encodePdu>[0]): Promise<void> {
    const bytes = encodePdu(pdu);
    const half = 48 + Math.floor((bytes.length - 48) / 2);
    init.sendRaw(bytes.subarray(0, half));
    await new Promise((r) => setTimeout(r, 20));
    init.sendRaw(bytes.subarray(half));
  }

  const response = (init: IscsiInitiator, itt: number) =>
    init.waitForPdu((p: TargetPdu) => p.kind === 'ScsiResponse' && p.itt === itt) as Promise<ScsiResponsePdu>;
  const r2t = (init: IscsiInitiator, itt: number) =>
    init.waitForPdu((p: TargetPdu) => p.kind === 'R2T' && p.itt === itt) as Promise<R2tPdu>;

  /** WRITE(10) at `lba` whose command carries `immediate` bytes, split across socket reads. */
  async function writeCommand(
    init: IscsiInitiator,
    lba: number,
    total: number,
    immediate: Buffer | undefined,
  ): Promise<{ itt: number; reply: Promise<ScsiResponsePdu> }> {
    const itt = init.nextItt();
    const reply = response(init, itt);
    const pdu = buildScsiCommand({
      lun: 0,
      itt,
      cdb: write10(lba, total / BS),
      expectedDataTransferLength: total,
      cmdSN: init.allocCmdSN(),
      expStatSN: init.expStatSN,
      write: true,
      ...(immediate ? { data: immediate } : {}),
    });
    if (immediate) await sendSplit(init, pdu);
    else init.sendPdu(pdu);
    return { itt, reply };
  }

  async function readBack(init: IscsiInitiator, lba: number, n: number): Promise<Buffer> {
    const r = await init.scsi(0, read10(lba, n / BS), { expectedDataIn: n });
    expect(r.status).toBe(Status.GOOD);
    return r.data;
  }

  it('READ: the device buffer goes back once its Data-In was sent', async () => {
    const init = await login();
    for (const n of [4 * KiB, 64 * KiB, 256 * KiB]) {
      const r = await init.scsi(0, read10(0, n / BS), { expectedDataIn: n });
      expect(r.status).toBe(Status.GOOD);
      expect(r.data.length).toBe(n);
    }
    await balanced(3);
  });

  it('WRITE with gathered immediate data: lent to the device, back after the completion', async () => {
    const init = await login();
    const data = pattern(64 * KiB, 1);
    const { reply } = await writeCommand(init, 100, data.length, data);
    expect((await reply).status).toBe(Status.GOOD);
    await balanced(1);
    expect((await readBack(init, 100, data.length)).equals(data)).toBe(true);
  });

  it('WRITE from several Data-Out PDUs split across reads: gathered straight into one destination, all back after', async () => {
    const init = await login();
    const data = pattern(64 * KiB, 2);
    const imm = data.subarray(0, 16 * KiB);
    const placedBefore = dataOutStats.placedBytes;
    const { itt, reply } = await writeCommand(init, 300, data.length, imm);
    const t = await r2t(init, itt);
    expect(t.bufferOffset).toBe(16 * KiB);
    for (const [off, len] of [
      [16 * KiB, 24 * KiB],
      [40 * KiB, 24 * KiB],
    ] as const) {
      await sendSplit(
        init,
        buildDataOut({
          lun: 0,
          itt,
          ttt: t.ttt,
          expStatSN: init.expStatSN,
          dataSN: off === 16 * KiB ? 0 : 1,
          bufferOffset: off,
          final: off + len === data.length,
          data: data.subarray(off, off + len),
        }),
      );
    }
    expect((await reply).status).toBe(Status.GOOD);
    // Issue #11, one copy: the reader gathered the immediate data into a pool buffer for the
    // whole transfer, and both Data-Out segments straight into it at their offsets.
    expect(dataOutStats.placedBytes - placedBefore).toBe(64 * KiB);
    await balanced(1);
    expect((await readBack(init, 300, data.length)).equals(data)).toBe(true);
  });

  it('errors: a WRITE past the end, a Data-Out out of sequence, late Data-Out — all given back', async () => {
    const init = await login();
    const lastLba = (8 << 20) / BS - 1;
    const past = await writeCommand(init, lastLba, 8 * KiB, pattern(8 * KiB, 3));
    expect((await past.reply).status).toBe(2); // CHECK CONDITION: LBA out of range
    // A Data-Out at the wrong offset: rejected, the task fails with CHECK CONDITION.
    const bad = await writeCommand(init, 500, 32 * KiB, pattern(8 * KiB, 4));
    const t = await r2t(init, bad.itt);
    const rejected = init.waitForPdu((p: TargetPdu) => p.kind === 'Reject');
    const dataOut = (offset: number) =>
      buildDataOut({
        lun: 0,
        itt: bad.itt,
        ttt: t.ttt,
        expStatSN: init.expStatSN,
        dataSN: 0,
        bufferOffset: offset,
        final: true,
        data: pattern(24 * KiB, 5),
      });
    await sendSplit(init, dataOut(4 * KiB));
    await rejected;
    expect((await bad.reply).status).toBe(2);
    // The same Data-Out again, now for a task that has ended: discarded.
    await sendSplit(init, dataOut(8 * KiB));
    expect((await init.scsi(0, Buffer.alloc(6))).status).toBe(Status.GOOD);
    await balanced(4);
  });

  it('ABORT TASK of a WRITE waiting for its data: the immediate data goes back', async () => {
    const init = await login();
    const sn = init.cmdSN;
    const w = await writeCommand(init, 700, 64 * KiB, pattern(32 * KiB, 6));
    await r2t(init, w.itt);
    const itt = init.nextItt();
    const tmf = init.waitForPdu((p: TargetPdu) => p.kind === 'TmfResponse' && p.itt === itt);
    init.sendPdu(
      buildTmfRequest({
        fn: 'ABORT_TASK',
        lun: 0,
        itt,
        referencedTaskTag: w.itt,
        cmdSN: init.cmdSN,
        expStatSN: init.expStatSN,
        refCmdSN: sn,
      }),
    );
    expect(((await tmf) as Extract<TargetPdu, { kind: 'TmfResponse' }>).response).toBe(0);
    await balanced(1);
  });

  it('connection closed with a WRITE waiting for data and a READ in flight: everything goes back', async () => {
    const init = await login();
    await writeCommand(init, 900, 64 * KiB, pattern(32 * KiB, 7));
    void init.scsi(0, read10(0, 512), { expectedDataIn: 256 * KiB }).catch(() => {});
    await new Promise((r) => setTimeout(r, 20));
    init.close();
    await balanced(1);
  });
});
