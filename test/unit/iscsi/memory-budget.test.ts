// The memory budget (issue #13): per connection and per node, for what initiators make the node
// hold. The accounts alone, then on the wire against an in-process node: a session that never
// reads its Data-In stops being dispatched past its budget and resumes when it reads; immediate
// commands count against the command window (RFC 7143 4.2.2.1) and past it get Reject 0x06
// (RFC 7143 11.17.1); another session keeps doing verified I/O meanwhile.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeConfigSchema } from '../../../src/admin/config-schema.js';
import { Daemon } from '../../../src/daemon.js';
import { MemoryBudget } from '../../../src/iscsi/memory-budget.js';
import { silentLogger } from '../../../src/util/logger.js';
import {
  IscsiInitiator,
  RejectedError,
  read10,
  testUnitReady,
  write10,
} from '../../helpers/initiator/index.js';
import { Status } from '../../helpers/wire.js';

const MiB = 1 << 20;

describe('MemoryBudget accounts', () => {
  it('a connection past its own limit is refused; its first command always fits', () => {
    const b = new MemoryBudget({ connection: 4 * MiB, node: 64 * MiB, guaranteed: 64 << 10 });
    const a = b.account(() => {});
    expect(a.tryCharge(8 * MiB)).toBeUndefined(); // nothing held: a command larger than the limit runs
    expect(a.tryCharge(1)).toBe('connection');
    a.release(8 * MiB);
    expect(a.tryCharge(3 * MiB)).toBeUndefined();
    expect(a.tryCharge(2 * MiB)).toBe('connection');
    expect(b.refusals.connection).toBe(2);
  });

  it('the node budget is shared: one connection cannot starve another of small commands', () => {
    const b = new MemoryBudget({ connection: 8 * MiB, node: 8 * MiB + (32 << 10), guaranteed: 64 << 10 });
    const hog = b.account(() => {});
    const other = b.account(() => {});
    expect(hog.tryCharge(8 * MiB)).toBeUndefined();
    expect(other.tryCharge(4 * MiB)).toBe('node');
    expect(other.tryCharge(64 << 10)).toBeUndefined(); // the guaranteed small command
    expect(other.tryCharge(64 << 10)).toBe('node'); // but only while it holds nothing
    expect(b.used).toBe(8 * MiB + (64 << 10));
  });

  it('a refused account is woken once memory is released anywhere; a closed one gives all back', async () => {
    const b = new MemoryBudget({ connection: 8 * MiB, node: 8 * MiB, guaranteed: 0 });
    let woken = 0;
    const hog = b.account(() => {});
    const waiter = b.account(() => woken++);
    hog.tryCharge(8 * MiB);
    expect(waiter.tryCharge(MiB)).toBe('node');
    hog.close();
    hog.release(8 * MiB); // late release after close: ignored
    expect(b.used).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(woken).toBe(1);
    expect(waiter.tryCharge(MiB)).toBeUndefined();
  });
});

describe('the budget on the wire', () => {
  const TARGET = 'iqn.2026-12.org.tandem:budget';
  const WINDOW = 8;
  const CONN_BUDGET = 4 * MiB;
  let daemon: Daemon;
  const open: IscsiInitiator[] = [];

  beforeAll(async () => {
    const config = nodeConfigSchema.parse({
      // A private data directory: an embedded node keeps its live configuration there.
      node: { name: 'tandem-1', dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-budget-')) },
      portals: ['127.0.0.1:0'],
      // Not the default admin port: other in-process nodes of this folder's tests take it.
      admin: { listen: 'off' },
      iscsi: {
        commandWindow: WINDOW,
        maxRecvDataSegmentLength: 262144,
        limits: { connectionBudget: CONN_BUDGET, nodeBudget: 16 * MiB },
      },
      targets: [{ iqn: TARGET, luns: [{ lun: 0, backstore: 'memory', size: '64M' }] }],
    });
    daemon = await Daemon.start(config, silentLogger());
  });
  afterAll(async () => {
    for (const i of open) i.close();
    await daemon?.stop(100);
  });

  async function login(name: string): Promise<IscsiInitiator> {
    const init = await IscsiInitiator.connect({
      host: '127.0.0.1',
      port: daemon.portals[0]!.port,
      initiatorName: `iqn.2026-12.org.tandem.test:${name}`,
      sessionType: 'Normal',
      targetName: TARGET,
      timeoutMs: 20_000,
    });
    open.push(init);
    for (let i = 0; i < 3; i++) if ((await init.scsi(0, testUnitReady())).status === Status.GOOD) break;
    return init;
  }

  async function verifiedIo(init: IscsiInitiator, seed: number): Promise<void> {
    const data = Buffer.alloc(4096, seed);
    expect((await init.scsi(0, write10(100 + seed * 8, 8), { dataOut: data })).status).toBe(Status.GOOD);
    const r = await init.scsi(0, read10(100 + seed * 8, 8), { expectedDataIn: 4096 });
    expect(r.status).toBe(Status.GOOD);
    expect(r.data.equals(data)).toBe(true);
  }

  it('a session that does not read stops being dispatched past its budget, and resumes when it reads', async () => {
    const victim = await login('victim-1');
    const hog = await login('hog-1');
    const peakBefore = daemon.sessions.memory.peak;
    hog.socket.pause();
    const reads = Array.from({ length: 24 }, () =>
      hog.scsi(0, read10(0, 4096), { expectedDataIn: 2 * MiB }).then((r) => r.status),
    );
    await new Promise((r) => setTimeout(r, 500));
    // Held: what one connection may reserve, plus commands waiting as received bytes.
    expect(daemon.sessions.memory.used).toBeLessThanOrEqual(CONN_BUDGET + 64 * 1024);
    expect(daemon.sessions.refusals()['memory-connection']).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) await verifiedIo(victim, i + 1);
    hog.socket.resume();
    expect(await Promise.all(reads)).toEqual(reads.map(() => Status.GOOD));
    expect(daemon.sessions.memory.peak - peakBefore).toBeLessThanOrEqual(CONN_BUDGET + 64 * 1024);
    await verifiedIo(hog, 9);
  });

  it('immediate commands count against the window: past it, Reject 0x06 and the PDU may be resent', async () => {
    const victim = await login('victim-2');
    const hog = await login('hog-2');
    hog.socket.pause();
    const n = 40;
    const results = Array.from({ length: n }, () =>
      hog.scsi(0, read10(0, 4096), { expectedDataIn: 2 * MiB, immediate: true }).then(
        (r) => `status ${r.status}`,
        (err: unknown) =>
          err instanceof RejectedError ? `reject 0x${err.reason.toString(16)}` : String(err),
      ),
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(daemon.sessions.memory.used).toBeLessThanOrEqual(CONN_BUDGET + 64 * 1024);
    await verifiedIo(victim, 5);
    hog.socket.resume();
    const outcome = await Promise.all(results);
    const good = outcome.filter((o) => o === 'status 0').length;
    const rejected = outcome.filter((o) => o === 'reject 0x6').length;
    expect(good + rejected).toBe(n);
    // At most the window plus the one immediate request RFC 7143 4.2.2.1 guarantees, plus the
    // ones whose Data-In left for the kernel's socket buffer before the next arrived.
    expect(rejected).toBeGreaterThan(n - 3 * WINDOW);
    expect(daemon.sessions.refusals()['immediate-command-reject']).toBe(rejected);
    // A rejected immediate command may be sent again (RFC 7143 11.17.1): it now runs.
    expect((await hog.scsi(0, read10(0, 8), { expectedDataIn: 4096, immediate: true })).status).toBe(
      Status.GOOD,
    );
    await verifiedIo(hog, 10);
  });
});
