// BlockDevice failures are typed: a DeviceError with its kind, still a TandemError of
// TANDEM_ERR_BACKSTORE_IO (FENCED for a replicated device that lost the right to write).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeviceError } from '../../../src/backstore/block-device.js';
import { FileDevice } from '../../../src/backstore/file.js';
import { replicationError } from '../../../src/replication/errors.js';

describe('DeviceError', () => {
  it('a closed FileDevice rejects each call with the kind of the call', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-deverr-'));
    try {
      const dev = await FileDevice.open(path.join(dir, 'd.img'), { createSize: 1 << 20 });
      await dev.close();
      for (const [kind, call] of [
        ['read', () => dev.read(0, 512)],
        ['write', () => dev.write(0, Buffer.alloc(512), false)],
        ['flush', () => dev.flush()],
        ['write', () => dev.discard(0, 512)],
        ['read', () => dev.allocation(0, 512)],
      ] as const) {
        const err = await (call() as Promise<unknown>).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(DeviceError);
        expect((err as DeviceError).kind).toBe(kind);
        expect((err as DeviceError).message).toMatch(/the backing store is closed/);
        expect((err as DeviceError).code).toBe('TANDEM_ERR_BACKSTORE_IO');
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a replicated device's FENCED error is a DeviceError of kind fenced, code and retryability kept", () => {
    const err = replicationError('TANDEM_ERR_REPLICATION_FENCED', 'vol: no longer primary');
    expect(err).toBeInstanceOf(DeviceError);
    expect((err as unknown as DeviceError).kind).toBe('fenced');
    expect(err.code).toBe('TANDEM_ERR_REPLICATION_FENCED');
    expect(err.replicationCode).toBe('TANDEM_ERR_REPLICATION_FENCED');
    expect(err.retryable).toBe(true);
    expect(replicationError('TANDEM_ERR_REPLICATION_PROTOCOL', 'x')).not.toBeInstanceOf(DeviceError);
  });
});
