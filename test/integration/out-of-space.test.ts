// A thin-provisioned LU whose file system fills up: the write that cannot allocate ends with
// DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT (07h/27h/07h, SBC-4 4.7.3.6), not a MEDIUM
// ERROR; qemu's initiator reports it as ENOSPC. Nothing else is lost: the node keeps serving,
// what was written reads back, and once space is freed (UNMAP punches the file's holes) writes
// succeed again. The file system is a real one that fills: a 16 MiB tmpfs under the data dir's
// LU (the LU is the quick start's 1 GiB sparse file).
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TARGET, startTandem, type Tandem } from '../helpers/daemon.js';
import { IscsiInitiator, read10, write10 } from '../helpers/initiator/index.js';
import { explain, qemuIo, requireTools } from '../helpers/tools.js';
import { kcq } from '../helpers/wire.js';

const MiB = 1 << 20;
let mount: string;
let node: Tandem | undefined;
let init: IscsiInitiator | undefined;

beforeAll(async () => {
  requireTools('qemu-io', 'mount', 'umount');
  mount = await mkdtemp(path.join(tmpdir(), 'tandem-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tandem-full', mount]);
  node = await startTandem({ dataDir: mount });
  const p = node.portals[0]!;
  init = await IscsiInitiator.connect({
    host: p.host,
    port: p.port,
    initiatorName: 'iqn.2026-11.org.tandem.test:full',
    sessionType: 'Normal',
    targetName: DEMO_TARGET,
    timeoutMs: 10_000,
  });
  // The unit attention of a new nexus first.
  await init.scsi(0, read10(0, 1), { expectedDataIn: 512 });
}, 60_000);

afterAll(async () => {
  init?.close();
  await node?.stop();
  if (mount) {
    execFileSync('umount', ['-l', mount]);
    await rm(mount, { recursive: true, force: true });
  }
});

describe('out of space on a thin-provisioned LU', () => {
  it('a write that cannot allocate gets 07h/27h/07h; qemu-io says ENOSPC', async () => {
    const w = await qemuIo(node!.url(0), ['write -P 0xa5 0 32M']);
    expect(w.code, explain(w)).not.toBe(0);
    expect(w.stdout + w.stderr, explain(w)).toContain('No space left on device');

    // On the wire: a 1 MiB write far past what the file system can hold.
    const data = Buffer.alloc(MiB, 0x5a);
    const r = await init!.scsi(0, write10(512 * 2048, MiB / 512), { dataOut: data });
    expect(kcq(r)).toBe('07/27/07');

    // Every failed write is answered, but a full disk is logged once per 10 s, not per write.
    const full = node!
      .logs()
      .filter((l) => l.msg === 'write failed: the file system holding the backing store is full');
    expect(full.length).toBe(1);
    expect(full[0]!.kind).toBe('no-space');
  });

  it('the node still serves: the data written before the disk filled reads back', async () => {
    const r = await qemuIo(node!.url(0), ['read -P 0xa5 0 4M']);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout, explain(r)).not.toContain('Pattern verification failed');
  });

  it('after UNMAP frees space, writes succeed again', async () => {
    const d = await qemuIo(node!.url(0), ['discard 0 32M']);
    expect(d.code, explain(d)).toBe(0);
    const data = Buffer.alloc(MiB, 0x77);
    const w = await init!.scsi(0, write10(512 * 2048, MiB / 512), { dataOut: data });
    expect(kcq(w)).toBe('GOOD');
    const r = await init!.scsi(0, read10(512 * 2048, MiB / 512), { expectedDataIn: MiB });
    expect(kcq(r)).toBe('GOOD');
    expect(r.data?.equals(data)).toBe(true);
  });
});
