// A replicated write the primary may no longer acknowledge (TANDEM_ERR_REPLICATION_FENCED: the
// peer failed and the in-sync set could not be changed, or the primary role was lost) must reach
// the initiator as a retryable role change — NOT READY, LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC
// ACCESS STATE TRANSITION (02h/04h/0Ah) — not as a medium error, and never as GOOD.
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import { TandemError } from '../../../src/util/errors.js';
import { cdb, Loopback, pattern } from '../../helpers/loopback.js';
import { kcq, Status } from '../../helpers/wire.js';

class FencedDevice extends MemoryDevice {
  override async write(): Promise<void> {
    throw new TandemError('TANDEM_ERR_REPLICATION_FENCED', 'vol: no longer primary', { retryable: true });
  }
  override async flush(): Promise<void> {
    throw new TandemError('TANDEM_ERR_REPLICATION_FENCED', 'vol: no longer primary', { retryable: true });
  }
}

class BrokenDevice extends MemoryDevice {
  override async write(): Promise<void> {
    throw new TandemError('TANDEM_ERR_BACKSTORE_IO', 'write /x: EIO');
  }
}

describe('a fenced replicated write', () => {
  it('WRITE(10) → CHECK CONDITION 02/04/0A', async () => {
    const lo = new Loopback({ blocks: 64, blockSize: 512, device: new FencedDevice(64 * 512) });
    await lo.ready();
    const c = await lo.run({ cdb: cdb.rw(0x2a, 0, 1), dataOut: pattern(512, 1) });
    expect(c.status).toBe(Status.CHECK_CONDITION);
    expect(kcq(c)).toBe('02/04/0a');
  });

  it('SYNCHRONIZE CACHE(10) → CHECK CONDITION 02/04/0A', async () => {
    const lo = new Loopback({ blocks: 64, blockSize: 512, device: new FencedDevice(64 * 512) });
    await lo.ready();
    const c = await lo.run({ cdb: [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0] });
    expect(c.status).toBe(Status.CHECK_CONDITION);
    expect(kcq(c)).toBe('02/04/0a');
  });

  it('an ordinary store failure is still MEDIUM ERROR, WRITE ERROR (03/0C/00)', async () => {
    const lo = new Loopback({ blocks: 64, blockSize: 512, device: new BrokenDevice(64 * 512) });
    await lo.ready();
    const c = await lo.run({ cdb: cdb.rw(0x2a, 0, 1), dataOut: pattern(512, 1) });
    expect(kcq(c)).toBe('03/0c/00');
  });
});
