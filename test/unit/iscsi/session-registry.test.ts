// SessionRegistry: TSIH allocation and which logins may name an existing session (TSIH ≠ 0).
// Regression (issue #13, 3): a login to an open target, guessing TSIHs, closed a CHAP-protected
// session on another target — checkJoin compared initiator, ISID and CID but not the target.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TARGET_SETTINGS, defaultParams } from '../../../src/iscsi/params.js';
import type { TargetEntry } from '../../../src/iscsi/portal-interface.js';
import { type SessionOwner, SessionRegistry } from '../../../src/iscsi/session-registry.js';

const log = pino({ level: 'silent' });
const INITIATOR = 'iqn.2026-12.org.example:host';
const ISID = Buffer.from('23d000000001', 'hex');

function target(name: string, tpgt: number): TargetEntry {
  return {
    name,
    engine: { nexusLost: () => {} } as unknown as TargetEntry['engine'],
    portalGroupTag: tpgt,
    targetPort: { relativePortId: tpgt, targetPortGroupId: 1, name: `${name},t,0x${tpgt}`, targetName: name },
    addresses: () => [],
    admits: () => true,
  };
}

function owner(cid = 1): SessionOwner & { closed: string[] } {
  const closed: string[] = [];
  return { cid, closed, close: (why) => closed.push(why) };
}

function open(reg: SessionRegistry, o: SessionOwner, t: TargetEntry, tsih = 0) {
  return reg.open(o, {
    isid: ISID,
    tsih,
    initiatorName: INITIATOR,
    type: 'Normal',
    target: t,
    params: defaultParams(DEFAULT_TARGET_SETTINGS),
    cmdSN: 1,
    window: 16,
  });
}

describe('SessionRegistry', () => {
  const secure = target('iqn.2026-12.org.example:secure', 1);
  const open1 = target('iqn.2026-12.org.example:open', 1);

  it('a TSIH of a session on another target is SESSION_DOES_NOT_EXIST, and open() never closes it', () => {
    const reg = new SessionRegistry(log);
    const victim = owner();
    const s = open(reg, victim, secure);
    expect(reg.checkJoin(s.tsih, INITIATOR, ISID, 1, open1)).toBe('SESSION_DOES_NOT_EXIST');
    // Even a caller that skipped checkJoin cannot reinstate across targets.
    open(reg, owner(), open1, s.tsih);
    expect(victim.closed).toEqual([]);
    expect(reg.sessions()).toContain(s);
  });

  it('the same target through another portal group is another session too', () => {
    const reg = new SessionRegistry(log);
    const s = open(reg, owner(), secure);
    expect(reg.checkJoin(s.tsih, INITIATOR, ISID, 1, target(secure.name, 2))).toBe('SESSION_DOES_NOT_EXIST');
  });

  it('connection reinstatement on the same target, initiator, ISID and CID is allowed; another CID is not', () => {
    const reg = new SessionRegistry(log);
    const first = owner(1);
    const s = open(reg, first, secure);
    expect(reg.checkJoin(s.tsih, INITIATOR, ISID, 1, secure)).toBeUndefined();
    expect(reg.checkJoin(s.tsih, INITIATOR, ISID, 2, secure)).toBe('TOO_MANY_CONNECTIONS');
    expect(reg.checkJoin(s.tsih, `${INITIATOR}x`, ISID, 1, secure)).toBe('SESSION_DOES_NOT_EXIST');
    const again = open(reg, owner(1), secure, s.tsih);
    expect(again.tsih).toBe(s.tsih);
    expect(first.closed).toHaveLength(1);
  });

  it('TSIHs are random, never 0, and unique among live sessions', () => {
    const reg = new SessionRegistry(log);
    const tsihs = Array.from(
      { length: 64 },
      (_, i) =>
        reg.open(owner(), {
          isid: Buffer.from(`23d0000000${i.toString(16).padStart(2, '0')}`, 'hex'),
          tsih: 0,
          initiatorName: INITIATOR,
          type: 'Normal',
          target: secure,
          params: defaultParams(DEFAULT_TARGET_SETTINGS),
          cmdSN: 1,
          window: 16,
        }).tsih,
    );
    expect(new Set(tsihs).size).toBe(64);
    for (const t of tsihs) expect(t >= 1 && t <= 0xffff).toBe(true);
    // Sequential allocation gave 1..64: guessable in 64 tries.
    const sequentialSteps = tsihs.slice(1).filter((t, i) => t === tsihs[i]! + 1).length;
    expect(sequentialSteps).toBeLessThan(8);
    expect(Math.max(...tsihs)).toBeGreaterThan(64);
  });
});
