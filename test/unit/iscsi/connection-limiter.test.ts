import { describe, expect, it } from 'vitest';
import { ConnectionLimiter } from '../../../src/iscsi/connection-limiter.js';

describe('ConnectionLimiter', () => {
  it('caps connections per source address; a released one frees its slot', () => {
    const l = new ConnectionLimiter({ perSource: 2, total: 10, inLogin: 10 });
    const a = l.add('10.0.0.1', { inLogin: false });
    l.add('10.0.0.1', { inLogin: false });
    expect(l.check('10.0.0.1')).toBe('per-source');
    expect(l.check('10.0.0.2')).toBeUndefined();
    a();
    a(); // idempotent
    expect(l.check('10.0.0.1')).toBeUndefined();
    expect(l.refusals['per-source']).toBe(1);
  });

  it('caps the total', () => {
    const l = new ConnectionLimiter({ perSource: 10, total: 3, inLogin: 10 });
    for (let i = 0; i < 3; i++) l.add(`h${i}`, { inLogin: false });
    expect(l.check('h9')).toBe('total');
    expect(l.count).toBe(3);
  });

  it('caps connections still logging in; one that finished its login no longer counts', () => {
    const l = new ConnectionLimiter({ perSource: 10, total: 10, inLogin: 2 });
    const c1 = { inLogin: true };
    l.add('a', c1);
    l.add('b', { inLogin: true });
    expect(l.check('c')).toBe('in-login');
    c1.inLogin = false;
    expect(l.check('c')).toBeUndefined();
    expect(l.refusals['in-login']).toBe(1);
  });
});
