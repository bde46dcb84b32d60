// Without the native helper (not built, or TANDEM_NO_NATIVE=1) the file backstore still
// honours LBPRZ: discard writes zeroes, every block reports mapped, and it says so once.
// Its own file: the helper is loaded once per process, and vitest forks one per test file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('FileDevice without the native helper', () => {
  it('falls back to writing zeroes and reporting everything mapped, warning once', async () => {
    process.env.TANDEM_NO_NATIVE = '1';
    const { FileDevice } = await import('../../../src/backstore/file.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-sbc-'));
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    try {
      const a = await FileDevice.open(path.join(dir, 'a.img'), { createSize: 1 << 20, warn });
      const b = await FileDevice.open(path.join(dir, 'b.img'), { createSize: 1 << 20, warn });
      await a.write(0, Buffer.alloc(8192, 7), false);
      await a.discard(0, 4096);
      expect((await a.read(0, 8192)).equals(Buffer.concat([Buffer.alloc(4096), Buffer.alloc(4096, 7)]))).toBe(
        true,
      );
      expect(await a.allocation(0, 1 << 20)).toEqual({ mapped: true, length: 1 << 20 });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/native helper unavailable/);
      await a.close();
      await b.close();
    } finally {
      delete process.env.TANDEM_NO_NATIVE;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
