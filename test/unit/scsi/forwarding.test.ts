// The forwarding node's gate reads a forwarder's rejection by its catalogue code
// (TANDEM_ERR_FORWARD_OUTCOME_UNKNOWN), not by its class: a state-changing command whose outcome
// is unknown completes with `outcomeUnknown` (the transport closes the connection), anything
// else is "not executed" (02/04/0A) and the initiator retries.
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import type { LuAccess } from '../../../src/scsi/alua.js';
import type { Completion } from '../../../src/scsi/command.js';
import { createOpcodeTable } from '../../../src/scsi/commands.js';
import {
  type CommandForwarder,
  ForwardOutcomeUnknown,
  isForwardOutcomeUnknown,
} from '../../../src/scsi/forwarding.js';
import { LogicalUnit } from '../../../src/scsi/logical-unit.js';
import { ScsiTarget } from '../../../src/scsi/target.js';
import { isRetryableCode, TandemError } from '../../../src/util/errors.js';
import { silentLogger } from '../../../src/util/logger.js';
import { LoopbackCommand, makeNexus } from '../../helpers/loopback.js';
import { kcq } from '../../helpers/wire.js';

const ACCESS: LuAccess = {
  state: () => 'active-non-optimized',
  mayExecute: () => false,
  groupState: () => undefined,
};

/** An engine whose only LU forwards every media command to a forwarder that fails with `err`. */
async function engineFailingWith(err: Error) {
  const forwarder: CommandForwarder = {
    forward: () => Promise.reject(err),
    resetPeers: async () => {},
  };
  const engine = new ScsiTarget(createOpcodeTable(), silentLogger());
  engine.addLun(
    0,
    new LogicalUnit(
      new MemoryDevice(64 * 512),
      { volumeId: 'vol-f', blockSize: 512 },
      { access: ACCESS, forwarder },
    ),
  );
  const nexus = makeNexus(undefined, undefined, { ...makeNexus().targetPort, targetPortGroupId: 2 });
  let tag = 1;
  const run = (cdb: number[], dataOut?: Buffer): Promise<Completion> =>
    engine.execute(new LoopbackCommand(dataOut ? { cdb, dataOut } : { cdb }, { nexus, lun: 0, tag: tag++ }));
  // The nexus's first command reports POWER ON (SAM-5 6.3.1).
  expect(kcq(await run([0x00, 0, 0, 0, 0, 0]))).toBe('06/29/00');
  return run;
}

const WRITE10 = [0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0];
const READ10 = [0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0];

describe('forwarded outcome unknown: the catalogue code', () => {
  it('is TANDEM_ERR_FORWARD_OUTCOME_UNKNOWN, not retryable', () => {
    const e = new ForwardOutcomeUnknown('vol: outcome unknown');
    expect(e).toBeInstanceOf(TandemError);
    expect(e.code).toBe('TANDEM_ERR_FORWARD_OUTCOME_UNKNOWN');
    expect(e.retryable).toBe(isRetryableCode('TANDEM_ERR_FORWARD_OUTCOME_UNKNOWN'));
    expect(e.retryable).toBe(false);
    expect(isForwardOutcomeUnknown(e)).toBe(true);
    expect(isForwardOutcomeUnknown(new TandemError('TANDEM_ERR_FORWARD_UNAVAILABLE', 'x'))).toBe(false);
    expect(isForwardOutcomeUnknown(new Error('TANDEM_ERR_FORWARD_OUTCOME_UNKNOWN'))).toBe(false);
  });

  it('a WRITE rejected with the code (any TandemError carrying it) completes as outcome unknown', async () => {
    const run = await engineFailingWith(
      new TandemError('TANDEM_ERR_FORWARD_OUTCOME_UNKNOWN', 'stream broke'),
    );
    const c = await run(WRITE10, Buffer.alloc(512, 1));
    expect(c.outcomeUnknown).toBe(true);
    expect(c.sense).toBeUndefined();
  });

  it('a READ rejected with the code is "not executed": 02/04/0A', async () => {
    const run = await engineFailingWith(new ForwardOutcomeUnknown('stream broke'));
    const c = await run(READ10);
    expect(kcq(c)).toBe('02/04/0a');
    expect(c.outcomeUnknown).toBeUndefined();
  });

  it('a WRITE rejected with another code is "not executed": 02/04/0A', async () => {
    const run = await engineFailingWith(new TandemError('TANDEM_ERR_FORWARD_UNAVAILABLE', 'no primary'));
    const c = await run(WRITE10, Buffer.alloc(512, 1));
    expect(kcq(c)).toBe('02/04/0a');
    expect(c.outcomeUnknown).toBeUndefined();
  });
});
