// Implicit ALUA in the gate (SPC-4 5.15.2.4) and command forwarding, with two engines in one
// process standing for two nodes: the primary (Active/Optimized) and a peer whose state the test
// sets. Both LUs share one backing device and one reservation store, as shared volumes do.
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import type { AccessState, LuAccess } from '../../../src/scsi/alua.js';
import type { ItNexus } from '../../../src/scsi/command.js';
import { createOpcodeTable } from '../../../src/scsi/commands.js';
import type { CommandForwarder } from '../../../src/scsi/forwarding.js';
import { LogicalUnit } from '../../../src/scsi/logical-unit.js';
import { MemoryReservationStore } from '../../../src/scsi/pr/memory-store.js';
import { ScsiTarget } from '../../../src/scsi/target.js';
import { silentLogger } from '../../../src/util/logger.js';
import { type CommandOptions, LoopbackCommand, makeNexus, targetPort } from '../../helpers/loopback.js';
import { kcq, Status } from '../../helpers/wire.js';

const VOLUME = 'vol-alua';

interface Node {
  target: ScsiTarget;
  lu: LogicalUnit;
  nexus: ItNexus;
  state: AccessState;
  mayExecute: boolean;
  forwarded: number;
}

function read10(lba: number, blocks: number): number[] {
  return [0x28, 0, 0, 0, 0, lba, 0, 0, blocks, 0];
}
function write10(lba: number, blocks: number): number[] {
  return [0x2a, 0, 0, 0, 0, lba, 0, 0, blocks, 0];
}
const TUR = [0x00, 0, 0, 0, 0, 0];
const INQUIRY = [0x12, 0, 0, 0, 96, 0];
const REPORT_LUNS = [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0];
const READ_CAPACITY_10 = [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const MODE_SENSE_6 = [0x1a, 0, 0x3f, 0, 255, 0];
const RTPG = [0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0];

let tag = 1;
async function run(node: Node, opts: CommandOptions) {
  const cmd = new LoopbackCommand(opts, { nexus: node.nexus, lun: 0, tag: tag++ });
  const c = await node.target.execute(cmd);
  if (!c.data) return c;
  const data = Buffer.from(c.data);
  c.release?.();
  return { ...c, data };
}

/** Consumes the first command's POWER ON unit attention. */
async function ready(node: Node): Promise<void> {
  await run(node, { cdb: INQUIRY });
  await run(node, { cdb: REPORT_LUNS });
  const r = await run(node, { cdb: [0x03, 0, 0, 0, 18, 0] });
  expect(r.status).toBe(Status.GOOD);
}

describe('implicit ALUA and forwarding between two engines', () => {
  let primary: Node;
  let peer: Node;
  let primaryReachable: boolean;

  beforeEach(async () => {
    const device = new MemoryDevice(2048 * 512);
    const store = new MemoryReservationStore();
    const groups = new Map<number, () => AccessState>();
    const mkNode = (group: number, rel: number, forwarder?: CommandForwarder): Node => {
      const target = new ScsiTarget(createOpcodeTable(), silentLogger());
      const port = { ...targetPort(rel), targetPortGroupId: group };
      const node = {
        target,
        nexus: makeNexus(undefined, undefined, port),
        state: 'active-optimized',
        mayExecute: true,
        forwarded: 0,
      } as Node;
      const access: LuAccess = {
        state: () => node.state,
        mayExecute: () => node.mayExecute && node.state === 'active-optimized',
        groupState: (id) => groups.get(id)?.(),
      };
      groups.set(group, () => node.state);
      node.lu = new LogicalUnit(
        device,
        { volumeId: VOLUME, blockSize: 512 },
        { reservationStore: store, access, ...(forwarder ? { forwarder } : {}) },
      );
      target.addLun(0, node.lu);
      target.setTargetPorts([targetPort(1), { ...targetPort(2), targetPortGroupId: 2 }]);
      return node;
    };
    primaryReachable = true;
    primary = mkNode(1, 1);
    peer = mkNode(2, 2, {
      forward: (fc, onAbort) => {
        peer.forwarded++;
        if (!primaryReachable) return Promise.reject(new Error('connection refused'));
        return primary.target.executeForwarded(fc, onAbort);
      },
      resetPeers: async (volume, ua) => {
        await primary.target.resetFromPeer(volume, ua);
      },
    });
    peer.state = 'active-non-optimized';
    await ready(primary);
    await ready(peer);
  });

  it('Active/Non-optimized: a WRITE is forwarded with its data-out and lands on the primary', async () => {
    const data = Buffer.alloc(1024, 0xa5);
    const w = await run(peer, { cdb: write10(8, 2), dataOut: data });
    expect(w.status).toBe(Status.GOOD);
    expect(peer.forwarded).toBe(1);
    const r = await run(primary, { cdb: read10(8, 2) });
    expect(r.data).toEqual(data);
    const r2 = await run(peer, { cdb: read10(8, 2) });
    expect(r2.data).toEqual(data);
    expect(r2.transferLength).toBe(1024);
  });

  it('Active/Non-optimized: INQUIRY, REPORT LUNS, READ CAPACITY, TUR and RTPG are answered locally', async () => {
    for (const cdb of [INQUIRY, REPORT_LUNS, READ_CAPACITY_10, TUR, RTPG]) {
      expect((await run(peer, { cdb })).status).toBe(Status.GOOD);
    }
    expect(peer.forwarded).toBe(0);
  });

  it('RTPG reports every group with its state, identically through both engines', async () => {
    const a = await run(primary, { cdb: RTPG });
    const b = await run(peer, { cdb: RTPG });
    expect(a.data).toEqual(b.data);
    const d = a.data!;
    expect(d[4]! & 0x0f).toBe(0x0); // group 1 Active/Optimized
    expect(d.readUInt16BE(6)).toBe(1);
    expect(d[16]! & 0x0f).toBe(0x1); // group 2 Active/Non-optimized
    expect(d.readUInt16BE(18)).toBe(2);
  });

  it('Standby: media commands and TEST UNIT READY fail with 02/04/0B; the standby list runs locally', async () => {
    peer.state = 'standby';
    expect(kcq(await run(peer, { cdb: read10(0, 1) }))).toBe('02/04/0b');
    expect(kcq(await run(peer, { cdb: write10(0, 1), dataOut: Buffer.alloc(512) }))).toBe('02/04/0b');
    expect(kcq(await run(peer, { cdb: TUR }))).toBe('02/04/0b');
    for (const cdb of [INQUIRY, REPORT_LUNS, READ_CAPACITY_10, MODE_SENSE_6, RTPG]) {
      expect((await run(peer, { cdb })).status).toBe(Status.GOOD);
    }
    expect(peer.forwarded).toBe(0);
  });

  it('Unavailable (02/04/0C) and Transitioning (02/04/0A) refuse everything but the identifying commands', async () => {
    for (const [state, sense] of [
      ['unavailable', '02/04/0c'],
      ['transitioning', '02/04/0a'],
    ] as const) {
      peer.state = state;
      expect(kcq(await run(peer, { cdb: TUR }))).toBe(sense);
      expect(kcq(await run(peer, { cdb: read10(0, 1) }))).toBe(sense);
      expect(kcq(await run(peer, { cdb: READ_CAPACITY_10 }))).toBe(sense);
      expect(kcq(await run(peer, { cdb: MODE_SENSE_6 }))).toBe(sense);
      for (const cdb of [INQUIRY, REPORT_LUNS, RTPG])
        expect((await run(peer, { cdb })).status).toBe(Status.GOOD);
    }
  });

  it('safety rule 4: a primary that may not execute refuses media commands, local or forwarded', async () => {
    const before = await run(primary, { cdb: read10(0, 1) });
    primary.mayExecute = false;
    expect(kcq(await run(primary, { cdb: write10(0, 1), dataOut: Buffer.alloc(512, 1) }))).toBe('02/04/0a');
    expect(kcq(await run(peer, { cdb: write10(0, 1), dataOut: Buffer.alloc(512, 2) }))).toBe('02/04/0a');
    primary.mayExecute = true;
    expect((await run(primary, { cdb: read10(0, 1) })).data).toEqual(before.data);
  });

  it('a forwarded command reaching a node that is not Active/Optimized fails with 02/04/0A', async () => {
    primary.state = 'transitioning';
    expect(kcq(await run(peer, { cdb: read10(0, 1) }))).toBe('02/04/0a');
  });

  it('an unreachable primary turns forwarded commands into 02/04/0A (multipath retries)', async () => {
    primaryReachable = false;
    expect(kcq(await run(peer, { cdb: read10(0, 1) }))).toBe('02/04/0a');
  });

  it('MODE SELECT and MODE SENSE through the peer agree (both are the primary’s)', async () => {
    // The control mode page (SPC-4 7.5.8) as it is, with SWP (byte 4 bit 3) set.
    const current = await run(peer, { cdb: [0x1a, 0x08, 0x0a, 0, 255, 0] });
    const page = Buffer.from(current.data!.subarray(4));
    page[4]! |= 0x08;
    const params = Buffer.concat([Buffer.alloc(4), page]);
    const sel = await run(peer, { cdb: [0x15, 0x10, 0, 0, params.length, 0], dataOut: params });
    expect(sel.status).toBe(Status.GOOD);
    const sense = await run(peer, { cdb: [0x1a, 0, 0x0a, 0, 255, 0] });
    expect(sense.data![2]! & 0x80).toBe(0x80); // WP in the header
    expect(kcq(await run(peer, { cdb: write10(0, 1), dataOut: Buffer.alloc(512) }))).toBe('07/27/02');
  });

  it('a LOGICAL UNIT RESET through one engine reaches the nexuses of the other', async () => {
    const r = await peer.target.taskManagement({ nexus: peer.nexus, fn: 5, lun: 0 });
    expect(r).toBe(0);
    expect(kcq(await run(peer, { cdb: TUR }))).toBe('06/29/03');
    expect(kcq(await run(primary, { cdb: TUR }))).toBe('06/29/03');
  });
});
