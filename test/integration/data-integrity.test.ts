// Issue #2, check 2: data written by a real initiator (qemu-io over libiscsi) reads back intact,
// and is still there after tandemd is stopped with SIGTERM and started again on the same data dir.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandem, type Tandem } from '../helpers/daemon.js';
import { explain, qemuIo, type RunResult, requireTools } from '../helpers/tools.js';

const VERIFY_FAILED = 'Pattern verification failed';

function expectVerified(r: RunResult): void {
  expect(r.stdout + r.stderr, explain(r)).not.toContain(VERIFY_FAILED);
  expect(r.code, explain(r)).toBe(0);
  expect(r.stdout, explain(r)).toContain('read 67108864/67108864 bytes at offset 0');
}

describe('data integrity with qemu-io', () => {
  let node: Tandem;

  beforeAll(async () => {
    requireTools('qemu-io');
    node = await startTandem();
  });

  afterAll(async () => {
    await node?.stop();
  });

  it('writes 64 MiB of 0xa5 and reads them back', async () => {
    const w = await qemuIo(node.url(0), ['write -P 0xa5 0 64M']);
    expect(w.code, explain(w)).toBe(0);
    expect(w.stdout, explain(w)).toContain('wrote 67108864/67108864 bytes at offset 0');

    expectVerified(await qemuIo(node.url(0), ['read -P 0xa5 0 64M']));
  });

  it('negative control: reading the wrong pattern fails verification', async () => {
    const r = await qemuIo(node.url(0), ['read -P 0x5a 0 64M']);
    expect(r.stdout + r.stderr, explain(r)).toContain(VERIFY_FAILED);
    expect(r.code, explain(r)).not.toBe(0);
  });

  it('the data survives SIGTERM and a restart on the same data dir', async () => {
    expect(await node.stop('SIGTERM')).toBe(0);
    node = await startTandem({ dataDir: node.dataDir });
    expectVerified(await qemuIo(node.url(0), ['read -P 0xa5 0 64M']));
    // The region past the pattern was never written: a sparse file reads back zeros.
    const z = await qemuIo(node.url(0), ['read -P 0 64M 1M']);
    expect(z.code, explain(z)).toBe(0);
    expect(z.stdout, explain(z)).not.toContain(VERIFY_FAILED);
  });
});
