// A device error reaches the initiator as the sense its kind stands for (one table,
// src/scsi/device-sense.ts), whatever its message says; an untyped failure is INTERNAL TARGET
// FAILURE.
import { describe, expect, it } from 'vitest';
import { DeviceError, type DeviceErrorKind } from '../../../src/backstore/device-error.js';
import { MemoryDevice } from '../../../src/backstore/memory.js';
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
}

const CASES: [DeviceErrorKind, 'read' | 'write', string][] = [
  ['read', 'read', '03/11/00'],
  ['write', 'write', '03/0c/00'],
  ['closed', 'write', '02/04/0a'],
  ['fenced', 'write', '02/04/0a'],
  ['out-of-range', 'read', '05/21/00'],
];

async function run(failure: Error, op: 'read' | 'write') {
  const lo = new Loopback({ blocks: 64, blockSize: 512, device: new FailingDevice(failure) });
  await lo.ready();
  return op === 'read'
    ? lo.run({ cdb: cdb.rw(0x28, 0, 1) })
    : lo.run({ cdb: cdb.rw(0x2a, 0, 1), dataOut: pattern(512, 1) });
}

describe('device error kind → sense', () => {
  it.each(CASES)('%s (on a %s) → %s', async (kind, op, expected) => {
    // The message says the opposite direction: only the kind decides.
    const c = await run(new DeviceError(kind, op === 'read' ? 'write /x: EIO' : 'read /x: EIO'), op);
    expect(c.status).toBe(Status.CHECK_CONDITION);
    expect(kcq(c)).toBe(expected);
  });

  it('an untyped error → INTERNAL TARGET FAILURE (04/44/00)', async () => {
    expect(kcq(await run(new Error('read /x: EIO'), 'read'))).toBe('04/44/00');
  });
});
