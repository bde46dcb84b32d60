// The fake R2T sender and task builder shared by task.test.ts and task-placement.test.ts.
import { IscsiTask, type IscsiTaskInit, type R2tSender } from '../../../src/iscsi/task.js';
import type { ItNexus } from '../../../src/scsi/command.js';

interface SentR2t {
  ttt: number;
  r2tSN: number;
  offset: number;
  length: number;
}

export class FakeSender implements R2tSender {
  readonly r2ts: SentR2t[] = [];
  #ttt = 100;
  allocateTtt(): number {
    return this.#ttt++;
  }
  sendR2t(_task: IscsiTask, ttt: number, r2tSN: number, offset: number, length: number): void {
    this.r2ts.push({ ttt, r2tSN, offset, length });
  }
}

const NEXUS = { id: 'n' } as ItNexus;

export function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 0xff;
  return b;
}

export function task(
  over: Partial<IscsiTaskInit>,
  sender = new FakeSender(),
): { t: IscsiTask; sender: FakeSender } {
  const init: IscsiTaskInit = {
    itt: 1,
    cmdSN: 1,
    lun: 0,
    lunBytes: Buffer.alloc(8),
    cdb: Buffer.alloc(16),
    attribute: 0 as IscsiTaskInit['attribute'],
    expectedLength: 0,
    read: false,
    write: true,
    nexus: NEXUS,
    immediateData: Buffer.alloc(0),
    unsolicitedLimit: 0,
    maxBurstLength: 1 << 20,
    maxOutstandingR2T: 1,
    ...over,
  };
  return { t: new IscsiTask(init, sender), sender };
}
