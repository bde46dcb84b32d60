// Target side of CHAP (RFC 7143 12.1.3): challenge, verification, mutual answer, reflection.
import { describe, expect, it } from 'vitest';
import { type AuthConfig, ChapExchange, chapDigest, decodeChapBinary } from '../../../src/iscsi/chap.js';

const AUTH: AuthConfig = {
  chap: { user: 'alice', secret: 'aliceSecret01' },
  mutualChap: { user: 'target', secret: 'targetSecret2' },
};

function challenged(auth: AuthConfig = AUTH): { x: ChapExchange; id: number; challenge: Buffer } {
  const x = new ChapExchange(auth);
  const r = x.step(new Map([['CHAP_A', '7,5']]));
  expect(r.kind).toBe('continue');
  const keys = new Map(r.kind === 'continue' ? r.response : []);
  expect(keys.get('CHAP_A')).toBe('5');
  expect(keys.get('CHAP_C')).toMatch(/^0x[0-9a-f]{32}$/);
  return { x, id: Number(keys.get('CHAP_I')), challenge: decodeChapBinary(keys.get('CHAP_C')!)! };
}

const hex = (b: Buffer) => `0x${b.toString('hex')}`;

describe('ChapExchange', () => {
  it('accepts the right response', () => {
    const { x, id, challenge } = challenged();
    const r = x.step(
      new Map([
        ['CHAP_N', 'alice'],
        ['CHAP_R', hex(chapDigest(id, 'aliceSecret01', challenge))],
      ]),
    );
    expect(r).toEqual({ kind: 'done', response: [] });
    expect(x.done).toBe(true);
  });

  it('refuses a wrong secret, a wrong user and a non-MD5 algorithm', () => {
    const a = challenged();
    expect(
      a.x.step(
        new Map([
          ['CHAP_N', 'alice'],
          ['CHAP_R', hex(chapDigest(a.id, 'wrongSecret99', a.challenge))],
        ]),
      ).kind,
    ).toBe('fail');
    const b = challenged();
    expect(
      b.x.step(
        new Map([
          ['CHAP_N', 'bob'],
          ['CHAP_R', hex(chapDigest(b.id, 'aliceSecret01', b.challenge))],
        ]),
      ).kind,
    ).toBe('fail');
    expect(new ChapExchange(AUTH).step(new Map([['CHAP_A', '7']])).kind).toBe('fail');
  });

  it('answers mutual CHAP with the target secret', () => {
    const { x, id, challenge } = challenged();
    const mine = Buffer.alloc(16, 7);
    const r = x.step(
      new Map([
        ['CHAP_N', 'alice'],
        ['CHAP_R', hex(chapDigest(id, 'aliceSecret01', challenge))],
        ['CHAP_I', '9'],
        ['CHAP_C', hex(mine)],
      ]),
    );
    expect(r).toEqual({
      kind: 'done',
      response: [
        ['CHAP_N', 'target'],
        ['CHAP_R', hex(chapDigest(9, 'targetSecret2', mine))],
      ],
    });
  });

  it('refuses a mutual challenge that reflects ours (reflection attack)', () => {
    const { x, id, challenge } = challenged();
    const r = x.step(
      new Map([
        ['CHAP_N', 'alice'],
        ['CHAP_R', hex(chapDigest(id, 'aliceSecret01', challenge))],
        ['CHAP_I', String(id)],
        ['CHAP_C', hex(challenge)],
      ]),
    );
    expect(r.kind).toBe('fail');
  });

  it('refuses mutual CHAP when no target secret is configured', () => {
    const { x, id, challenge } = challenged({ chap: AUTH.chap });
    const r = x.step(
      new Map([
        ['CHAP_N', 'alice'],
        ['CHAP_R', hex(chapDigest(id, 'aliceSecret01', challenge))],
        ['CHAP_I', '1'],
        ['CHAP_C', hex(Buffer.alloc(16, 1))],
      ]),
    );
    expect(r.kind).toBe('fail');
  });

  // Regression (issue #13, 5): 1-byte and 3,000-byte challenges were accepted.
  it.each([
    [1, 'fail'],
    [15, 'fail'],
    [16, 'done'],
    [1024, 'done'],
    [1025, 'fail'],
    [3000, 'fail'],
  ])('a mutual CHAP_C of %i bytes → %s', (bytes, kind) => {
    const { x, id, challenge } = challenged();
    const r = x.step(
      new Map([
        ['CHAP_N', 'alice'],
        ['CHAP_R', hex(chapDigest(id, 'aliceSecret01', challenge))],
        ['CHAP_I', '3'],
        ['CHAP_C', hex(Buffer.alloc(bytes, 0x5c))],
      ]),
    );
    expect(r.kind).toBe(kind);
  });
});
