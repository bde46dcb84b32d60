// The replica applies adjacent mirrored writes of one batch as one device write: the runs must
// be exactly the adjacent same-FUA WRITE sequences, in order, and nothing else.
import { describe, expect, it } from 'vitest';
import { OpKind, type OpKindCode, type OpMessage } from '../../../src/replication/proto.js';
import { writeRuns } from '../../../src/replication/server.js';

const op = (seq: number, kind: OpKindCode, offset: number, length: number, fua = false): OpMessage => ({
  seq,
  kind,
  offset,
  length,
  data: kind === OpKind.WRITE ? Buffer.alloc(length, seq) : Buffer.alloc(0),
  fua,
  full: false,
  datasetId: '',
  resume: false,
  cleanRegions: [],
  keepDirty: false,
});

const seqs = (runs: OpMessage[][]) => runs.map((r) => r.map((o) => o.seq));

describe('writeRuns', () => {
  it('joins adjacent writes with the same FUA, splits at gaps, FUA changes and other ops', () => {
    const ops = [
      op(1, OpKind.WRITE, 0, 4096),
      op(2, OpKind.WRITE, 4096, 4096),
      op(3, OpKind.WRITE, 8192, 4096, true),
      op(4, OpKind.WRITE, 12288, 4096, true),
      op(5, OpKind.FLUSH, 0, 0),
      op(6, OpKind.WRITE, 16384, 4096, true),
      op(7, OpKind.WRITE, 65536, 4096),
      op(8, OpKind.DISCARD, 69632, 4096),
      op(9, OpKind.WRITE, 4096, 4096),
      op(10, OpKind.WRITE, 0, 4096),
    ];
    expect(seqs(writeRuns(ops))).toEqual([[1, 2], [3, 4], [5], [6], [7], [8], [9], [10]]);
  });

  it('caps a run at 1 MiB', () => {
    const ops = Array.from({ length: 300 }, (_, i) => op(i + 1, OpKind.WRITE, i * 4096, 4096));
    const runs = writeRuns(ops);
    expect(runs.map((r) => r.length)).toEqual([256, 44]);
    expect(runs.flat().map((o) => o.seq)).toEqual(ops.map((o) => o.seq));
  });
});
