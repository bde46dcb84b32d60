// The CmdSN window of one session (src/iscsi/command-window.ts, RFC 7143 4.2.2.1): commands run
// in CmdSN order, early ones wait, immediate ones and ping answers run at once, CmdSNs outside
// [ExpCmdSN, MaxCmdSN] and duplicates are ignored, and ABORT TASK of a command that has not
// arrived (11.5.1) makes its CmdSN count as received. On raw BHS bytes alone.
import { describe, expect, it } from 'vitest';
import { type CmdSnState, CommandWindow } from '../../../src/iscsi/command-window.js';
import type { Pdu } from '../../../src/iscsi/pdu/bhs.js';
import { silentLogger } from '../../../src/util/logger.js';

const SCSI_COMMAND = 0x01;
const NOP_OUT = 0x00;
const IMMEDIATE = 0x40;
// RFC 7143 11.6.1 responses.
const FUNCTION_COMPLETE = 0;
const TASK_DOES_NOT_EXIST = 1;

function pdu(
  cmdSN: number,
  opts: { itt?: number; opcode?: number; immediate?: boolean; data?: Buffer } = {},
): Pdu {
  const bhs = Buffer.alloc(48);
  bhs[0] = (opts.opcode ?? SCSI_COMMAND) | (opts.immediate ? IMMEDIATE : 0);
  bhs.writeUInt32BE(opts.itt ?? cmdSN, 16);
  bhs.writeUInt32BE(cmdSN >>> 0, 24);
  return { bhs, ahs: Buffer.alloc(0), data: opts.data ?? Buffer.alloc(0) };
}

function harness(expCmdSN: number, maxCmdSN: number) {
  const ran: number[] = [];
  const dropped: number[] = [];
  const runPdus: Pdu[] = [];
  const w = new CommandWindow(
    (p, sn) => {
      ran.push(sn);
      runPdus.push(p);
    },
    silentLogger,
    (p) => dropped.push(p.bhs.readUInt32BE(24)),
  );
  const s: CmdSnState = { expCmdSN, maxCmdSN };
  return { w, s, ran, dropped, runPdus };
}

describe('CommandWindow', () => {
  it('in order: each command runs at once and ExpCmdSN advances', () => {
    const h = harness(10, 20);
    for (const sn of [10, 11, 12]) h.w.offer(h.s, pdu(sn));
    expect(h.ran).toEqual([10, 11, 12]);
    expect(h.s.expCmdSN).toBe(13);
    expect(h.w.waiting).toBe(0);
  });

  it('early commands wait and run in CmdSN order once the gap is filled', () => {
    const h = harness(10, 20);
    h.w.offer(h.s, pdu(13));
    h.w.offer(h.s, pdu(11));
    h.w.offer(h.s, pdu(12));
    expect(h.ran).toEqual([]);
    expect(h.w.waiting).toBe(3);
    h.w.offer(h.s, pdu(10));
    expect(h.ran).toEqual([10, 11, 12, 13]);
    expect(h.s.expCmdSN).toBe(14);
    expect(h.w.waiting).toBe(0);
  });

  it('a waiting command is a private copy: the socket buffer it came in may be reused', () => {
    const h = harness(1, 5);
    const data = Buffer.from('abcd');
    h.w.offer(h.s, pdu(2, { data }));
    data.fill(0);
    h.w.offer(h.s, pdu(1));
    expect(h.ran).toEqual([1, 2]);
    expect(h.runPdus[1]!.data.toString()).toBe('abcd');
  });

  it('CmdSN below ExpCmdSN or above MaxCmdSN: ignored (dropped), the window unchanged', () => {
    const h = harness(10, 12);
    h.w.offer(h.s, pdu(9));
    h.w.offer(h.s, pdu(13));
    expect(h.ran).toEqual([]);
    expect(h.dropped).toEqual([9, 13]);
    expect(h.s.expCmdSN).toBe(10);
    h.w.offer(h.s, pdu(12)); // MaxCmdSN itself is inside
    expect(h.w.waiting).toBe(1);
  });

  it('a duplicate of a waiting CmdSN is ignored; the first one runs', () => {
    const h = harness(1, 10);
    h.w.offer(h.s, pdu(2, { itt: 100 }));
    h.w.offer(h.s, pdu(2, { itt: 200 }));
    expect(h.dropped).toEqual([2]);
    h.w.offer(h.s, pdu(1));
    expect(h.ran).toEqual([1, 2]);
    expect(h.runPdus[1]!.bhs.readUInt32BE(16)).toBe(100);
  });

  it('immediate commands run at once, outside the order, and do not advance ExpCmdSN', () => {
    const h = harness(5, 10);
    h.w.offer(h.s, pdu(6)); // waits for 5
    h.w.offer(h.s, pdu(5, { immediate: true, itt: 77 }));
    expect(h.ran).toEqual([5]);
    expect(h.runPdus[0]!.bhs.readUInt32BE(16)).toBe(77);
    expect(h.s.expCmdSN).toBe(5);
    h.w.offer(h.s, pdu(99, { immediate: true })); // outside the window: still runs (4.2.2.1)
    expect(h.ran).toEqual([5, 99]);
  });

  it('a NOP-Out answering a ping (ITT 0xffffffff) runs at once whatever its CmdSN', () => {
    const h = harness(5, 10);
    h.w.offer(h.s, pdu(1234, { opcode: NOP_OUT, itt: 0xffffffff }));
    expect(h.ran).toEqual([1234]);
    expect(h.s.expCmdSN).toBe(5);
  });

  it('serial arithmetic: the window wraps past 2^32 - 1 (RFC 1982)', () => {
    const h = harness(0xfffffffe, 3);
    h.w.offer(h.s, pdu(0)); // after 0xffffffff: waits
    h.w.offer(h.s, pdu(0xfffffffe));
    expect(h.ran).toEqual([0xfffffffe]);
    h.w.offer(h.s, pdu(0xffffffff));
    expect(h.ran).toEqual([0xfffffffe, 0xffffffff, 0]);
    expect(h.s.expCmdSN).toBe(1);
    h.w.offer(h.s, pdu(0xfffffffd)); // behind the window now
    expect(h.dropped).toEqual([0xfffffffd]);
  });

  it('ABORT TASK of a command not yet arrived: FUNCTION COMPLETE, its CmdSN counts as received, it never runs', () => {
    const h = harness(10, 20);
    // TMF CmdSN 12 names RefCmdSN 10, which has not come.
    expect(h.w.abortUnseen(h.s, 12, 10)).toBe(FUNCTION_COMPLETE);
    expect(h.s.expCmdSN).toBe(11); // drained: 10 counts as received
    h.w.offer(h.s, pdu(11));
    expect(h.ran).toEqual([11]);
    // A late-arriving 10 is behind the window: ignored.
    h.w.offer(h.s, pdu(10));
    expect(h.ran).toEqual([11]);
    expect(h.dropped).toEqual([10]);
  });

  it('ABORT TASK of a waiting command: dropped at once, skipped when its turn comes', () => {
    const h = harness(10, 20);
    h.w.offer(h.s, pdu(11));
    h.w.offer(h.s, pdu(12));
    expect(h.w.abortUnseen(h.s, 13, 11)).toBe(FUNCTION_COMPLETE);
    expect(h.dropped).toEqual([11]);
    h.w.offer(h.s, pdu(10));
    expect(h.ran).toEqual([10, 12]);
    expect(h.s.expCmdSN).toBe(13);
  });

  it('ABORT TASK of an aborted CmdSN that then arrives in order: it is dropped, and the ones after it run', () => {
    const h = harness(10, 20);
    h.w.offer(h.s, pdu(10));
    expect(h.w.abortUnseen(h.s, 13, 12)).toBe(FUNCTION_COMPLETE);
    h.w.offer(h.s, pdu(11));
    expect(h.ran).toEqual([10, 11]);
    expect(h.s.expCmdSN).toBe(13);
    h.w.offer(h.s, pdu(13));
    expect(h.ran).toEqual([10, 11, 13]);
  });

  it('ABORT TASK naming a CmdSN outside the window or not before its own: TASK DOES NOT EXIST', () => {
    const h = harness(10, 20);
    expect(h.w.abortUnseen(h.s, 12, 9)).toBe(TASK_DOES_NOT_EXIST); // answered already
    expect(h.w.abortUnseen(h.s, 12, 21)).toBe(TASK_DOES_NOT_EXIST); // beyond MaxCmdSN
    expect(h.w.abortUnseen(h.s, 12, 12)).toBe(TASK_DOES_NOT_EXIST); // not before the TMF
    expect(h.w.abortUnseen(h.s, 12, 15)).toBe(TASK_DOES_NOT_EXIST); // after the TMF
    expect(h.s.expCmdSN).toBe(10);
    expect(h.w.waiting).toBe(0);
  });

  it('clear() drops every waiting command', () => {
    const h = harness(1, 10);
    h.w.offer(h.s, pdu(3));
    h.w.offer(h.s, pdu(4));
    h.w.clear();
    expect(h.dropped.sort()).toEqual([3, 4]);
    expect(h.w.waiting).toBe(0);
  });
});
