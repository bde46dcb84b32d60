// Issue 14, finding 7: a forwarded command whose outcome is unknown is never reported as "not
// executed". A real ForwardServer (the primary's end) and ForwardClient (the forwarding node's)
// on loopback gRPC, with the primary's executor driven by the test; the forwarding node's
// engine runs the command from an Active/Non-optimized port. Before the fix every failure below
// was NOT READY / ASYMMETRIC ACCESS STATE TRANSITION (02/04/0A), which tells the initiator the
// command did not run, so a retried COMPARE AND WRITE answered MISCOMPARE.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nodeConfigSchema } from '../../../src/admin/config-schema.js';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import { ForwardClient } from '../../../src/cluster/forward-client.js';
import { ForwardServer } from '../../../src/cluster/forward-server.js';
import { Daemon } from '../../../src/daemon.js';
import type { LuAccess } from '../../../src/scsi/alua.js';
import type { Completion } from '../../../src/scsi/command.js';
import { createOpcodeTable } from '../../../src/scsi/commands.js';
import type { ForwardedCommand, ForwardedCompletion } from '../../../src/scsi/forwarding.js';
import { LogicalUnit } from '../../../src/scsi/logical-unit.js';
import { ScsiTarget } from '../../../src/scsi/target.js';
import { silentLogger } from '../../../src/util/logger.js';
import { IscsiInitiator } from '../../helpers/initiator/index.js';
import { LoopbackCommand, makeNexus } from '../../helpers/loopback.js';
import { kcq } from '../../helpers/wire.js';

const VOLUME = 'vol-fwd';
const DEADLINE_MS = 300;
const GRACE_MS = 200;

/** What the primary does with each forwarded command: the test answers (or never does). */
interface Held {
  fc: ForwardedCommand;
  answer: (c: ForwardedCompletion) => void;
  fail: (err: Error) => void;
  aborted: boolean;
}

const ACCESS: LuAccess = {
  state: () => 'active-non-optimized',
  mayExecute: () => false,
  groupState: () => undefined,
};

function write10(lba: number, blocks: number): number[] {
  return [0x2a, 0, 0, 0, 0, lba, 0, 0, blocks, 0];
}

/** The forwarding node's LU (its forwarder the client under test). */
function forwardingLu(client: ForwardClient): LogicalUnit {
  return new LogicalUnit(
    new MemoryDevice(2048 * 512),
    { volumeId: VOLUME, blockSize: 512 },
    { access: ACCESS, forwarder: client },
  );
}

describe('finding 7: forwarded commands whose outcome is unknown', () => {
  let server: ForwardServer;
  let held: Held[];
  let waiting: ((h: Held) => void) | undefined;
  let client: ForwardClient;
  let primaryAddress: string;
  let engine: ScsiTarget;
  let tag = 1;

  const nextHeld = (): Promise<Held> =>
    new Promise((resolve) => {
      const h = held.shift();
      if (h) resolve(h);
      else waiting = resolve;
    });

  const run = async (cdb: number[], dataOut?: Buffer): Promise<Completion> => {
    const nexus = makeNexus(undefined, undefined, { ...makeNexus().targetPort, targetPortGroupId: 2 });
    return engine.execute(
      new LoopbackCommand(dataOut ? { cdb, dataOut } : { cdb }, { nexus, lun: 0, tag: tag++ }),
    );
  };

  beforeAll(async () => {
    server = await ForwardServer.listen(
      '127.0.0.1:0',
      {
        executeForwarded: (fc, onAbort) =>
          new Promise<ForwardedCompletion>((answer, fail) => {
            const h: Held = { fc, answer, fail, aborted: false };
            onAbort(() => {
              h.aborted = true;
            });
            if (waiting) {
              const w = waiting;
              waiting = undefined;
              w(h);
            } else held.push(h);
          }),
        resetFromPeer: async () => true,
      },
      silentLogger(),
    );
  });
  afterAll(async () => {
    await server.close();
  });

  beforeEach(async () => {
    held = [];
    waiting = undefined;
    primaryAddress = server.address;
    client = new ForwardClient({
      originNode: 'b',
      primaryOf: () => ({ node: 'a', address: primaryAddress }),
      peersOf: () => [],
      logger: silentLogger(),
      deadlineMs: DEADLINE_MS,
      abortGraceMs: GRACE_MS,
      connectTimeoutMs: 500,
    });
    engine = new ScsiTarget(createOpcodeTable(), silentLogger());
    engine.addLun(0, forwardingLu(client));
    // The nexus's first command reports POWER ON (SAM-5 6.3.1).
    expect(kcq(await run([0x00, 0, 0, 0, 0, 0]))).toBe('06/29/00');
  });
  afterEach(() => {
    client.close();
  });

  it('finding 7: a WRITE the primary holds past the deadline is outcome unknown, not 02/04/0A', async () => {
    const done = run(write10(0, 1), Buffer.alloc(512, 7));
    const h = await nextHeld();
    expect(h.fc.cdb[0]).toBe(0x2a);
    const c = await done;
    // The abort went to the primary, which never answered within the grace.
    expect(h.aborted).toBe(true);
    expect(c.outcomeUnknown).toBe(true);
    expect(kcq(c)).not.toBe('02/04/0a');
  });

  it('finding 7: an answer that comes within the grace after the deadline is the answer', async () => {
    const done = run(write10(0, 1), Buffer.alloc(512, 7));
    const h = await nextHeld();
    await new Promise((r) => setTimeout(r, DEADLINE_MS + GRACE_MS / 4));
    expect(h.aborted).toBe(true);
    h.answer({ status: 0, transferLength: 512 });
    const c = await done;
    expect(kcq(c)).toBe('GOOD');
    expect(c.outcomeUnknown).toBeUndefined();
  });

  it('finding 7: the primary answering "aborted" to an abort this node sent is still outcome unknown', async () => {
    const done = run(write10(0, 1), Buffer.alloc(512, 7));
    const h = await nextHeld();
    await new Promise((r) => setTimeout(r, DEADLINE_MS + GRACE_MS / 4));
    // It may have written before it saw the abort.
    h.answer({ status: 0x40, transferLength: 0, aborted: true });
    expect((await done).outcomeUnknown).toBe(true);
  });

  it('finding 7: a stream break mid-command is outcome unknown', async () => {
    const done = run(write10(0, 1), Buffer.alloc(512, 7));
    const h = await nextHeld();
    // The primary's executor fails: its server ends the whole stream with an error.
    h.fail(new Error('primary broke mid-command'));
    const c = await done;
    expect(c.outcomeUnknown).toBe(true);
    expect(kcq(c)).not.toBe('02/04/0a');
  });

  it('a READ whose stream breaks stays 02/04/0A: running it again is the same as running it once', async () => {
    const done = run([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    const h = await nextHeld();
    h.fail(new Error('primary broke mid-command'));
    const c = await done;
    expect(kcq(c)).toBe('02/04/0a');
    expect(c.outcomeUnknown).toBeUndefined();
  });

  it('finding 7: a primary change aborts, waits the grace, then reports outcome unknown', async () => {
    const done = run(write10(0, 1), Buffer.alloc(512, 7));
    const h = await nextHeld();
    const t0 = Date.now();
    client.primaryChanged(VOLUME, 'c');
    const c = await done;
    expect(h.aborted).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(GRACE_MS - 20);
    expect(c.outcomeUnknown).toBe(true);
  });

  it('a command that was never sent (primary not listening) stays "not executed": 02/04/0A', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    primaryAddress = `127.0.0.1:${(closed.address() as net.AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    const c = await run(write10(0, 1), Buffer.alloc(512, 7));
    expect(kcq(c)).toBe('02/04/0a');
    expect(c.outcomeUnknown).toBeUndefined();
  });

  it('a command with no primary known stays "not executed": 02/04/0A', async () => {
    client.close();
    const c = await run(write10(0, 1), Buffer.alloc(512, 7));
    expect(kcq(c)).toBe('02/04/0a');
  });
});

describe('finding 7 on the wire: the iSCSI connection ends with no response', () => {
  let daemon: Daemon;
  let server: ForwardServer;
  let client: ForwardClient;
  let forwarded = 0;
  const TARGET = 'iqn.2024-01.org.tandem:fwd-unknown';

  beforeAll(async () => {
    const config = nodeConfigSchema.parse({
      node: { name: 'tandem-1', dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-fwd-')) },
      portals: ['127.0.0.1:0'],
      targets: [{ iqn: TARGET, luns: [{ lun: 0, backstore: 'memory', size: '1M' }] }],
    });
    daemon = await Daemon.start(config, silentLogger());
    server = await ForwardServer.listen(
      '127.0.0.1:0',
      {
        // The primary runs it and its answer is lost (never comes back).
        executeForwarded: () => {
          forwarded++;
          return new Promise<ForwardedCompletion>(() => undefined);
        },
        resetFromPeer: async () => true,
      },
      silentLogger(),
    );
    client = new ForwardClient({
      originNode: 'b',
      primaryOf: () => ({ node: 'a', address: server.address }),
      peersOf: () => [],
      logger: silentLogger(),
      deadlineMs: DEADLINE_MS,
      abortGraceMs: GRACE_MS,
    });
    const engine = daemon.targets.get(TARGET)!;
    engine.removeLun(0);
    engine.addLun(0, forwardingLu(client));
  });
  afterAll(async () => {
    client.close();
    await server.close();
    await daemon.stop(100);
    fs.rmSync(daemon.config.node.dataDir, { recursive: true, force: true });
  });

  it('finding 7: a WRITE whose forwarded answer is lost closes the connection instead of 02/04/0A', async () => {
    const init = await IscsiInitiator.connect({
      host: '127.0.0.1',
      port: daemon.portals[0]!.port,
      initiatorName: 'iqn.2024-01.org.tandem:fwd-init',
      sessionType: 'Normal',
      targetName: TARGET,
    });
    // The first command reports POWER ON; TEST UNIT READY is answered locally.
    await init.scsi(0, Buffer.from([0, 0, 0, 0, 0, 0]));
    const w = init.scsi(0, Buffer.from(write10(0, 1)), { dataOut: Buffer.alloc(512, 9) });
    await expect(w).rejects.toThrow(/closed/i);
    const info = await init.closed;
    expect(info.reason).toBe('peer');
    expect(forwarded).toBe(1);
  });
});
