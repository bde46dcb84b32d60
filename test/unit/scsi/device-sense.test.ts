// A device error reaches the initiator as the sense its kind stands for (one table,
// src/scsi/device-sense.ts), whatever its message says; an untyped failure is INTERNAL TARGET
// FAILURE. The sense for each case is the one the engine sent before errors were typed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../../src/backstore/block-device.js';
import { DeviceError, type DeviceErrorKind } from '../../../src/backstore/device-error.js';
import { FileDevice } from '../../../src/backstore/file.js';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import { replicationError } from '../../../src/replication/errors.js';
import { TandemError } from '../../../src/util/errors.js';
import { cdb, Loopback, pattern } from '../../helpers/loopback.js';
import { kcq, Status } from '../../helpers/wire.js';

class FailingDevice extends MemoryDevice {
  constructor(readonly failure: Error) {
    super(64 * 512);
  }
  override async read(): Promise<Buffer> {
    throw this.failure;
  }
  override async write(): Promise<void> {
    throw this.failure;
  }
  override async flush(): Promise<void> {
    throw this.failure;
  }
}

type Op = 'read' | 'write' | 'flush';

const SYNCHRONIZE_CACHE_10 = Buffer.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

async function run(device: BlockDevice, op: Op) {
  const lo = new Loopback({ blocks: 64, blockSize: 512, device });
  await lo.ready();
  if (op === 'read') return lo.run({ cdb: cdb.rw(0x28, 0, 1) });
  if (op === 'write') return lo.run({ cdb: cdb.rw(0x2a, 0, 1), dataOut: pattern(512, 1) });
  return lo.run({ cdb: SYNCHRONIZE_CACHE_10 });
}

const CASES: [DeviceErrorKind, Op, string][] = [
  ['read', 'read', '03/11/00'],
  ['write', 'write', '03/0c/00'],
  ['flush', 'flush', '03/0c/00'],
  ['fenced', 'write', '02/04/0a'],
  ['fenced', 'flush', '02/04/0a'],
  ['too-few-copies', 'write', '07/27/02'],
  ['no-space', 'write', '07/27/07'],
  ['no-space', 'flush', '07/27/07'],
];

describe('device error kind → sense', () => {
  it.each(CASES)('%s (on a %s) → %s', async (kind, op, expected) => {
    // The message says the opposite direction: only the kind decides.
    const msg = op === 'read' ? 'write /x: EIO' : 'read /x: EIO';
    const c = await run(new FailingDevice(new DeviceError(kind, msg)), op);
    expect(c.status).toBe(Status.CHECK_CONDITION);
    expect(kcq(c)).toBe(expected);
  });

  it("the replicated device's FENCED error → 02/04/0a", async () => {
    const err = replicationError('TANDEM_ERR_REPLICATION_FENCED', 'vol: no longer primary');
    expect(kcq(await run(new FailingDevice(err), 'write'))).toBe('02/04/0a');
  });

  it('an untyped backing-store failure (replication state files) → WRITE ERROR (03/0c/00)', async () => {
    const err = new TandemError('TANDEM_ERR_BACKSTORE_IO', 'read-only file system: dirty bitmap /x');
    expect(kcq(await run(new FailingDevice(err), 'read'))).toBe('03/0c/00');
  });

  it('an untyped error → INTERNAL TARGET FAILURE (04/44/00)', async () => {
    expect(kcq(await run(new FailingDevice(new Error('read /x: EIO')), 'read'))).toBe('04/44/00');
  });

  it.each([
    ['read', '03/11/00'],
    ['write', '03/0c/00'],
    ['flush', '03/0c/00'],
  ] as const)('a closed FileDevice on a %s → %s', async (op, expected) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-devsense-'));
    try {
      const dev = await FileDevice.open(path.join(dir, 'd.img'), { createSize: 64 * 512 });
      await dev.close();
      expect(kcq(await run(dev, op))).toBe(expected);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
