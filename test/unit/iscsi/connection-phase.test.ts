// The connection phase machine (src/iscsi/connection-phase.ts): login → full-feature →
// logged-out → closed, any phase → closed, and no step from the wrong phase.
import { describe, expect, it } from 'vitest';
import { ConnectionPhase } from '../../../src/iscsi/connection-phase.js';
import { silentLogger } from '../../../src/util/logger.js';

describe('ConnectionPhase', () => {
  it('walks login → full-feature → logged-out → closed', () => {
    const p = new ConnectionPhase(silentLogger());
    expect(p.state).toBe('login');
    p.loggedIn();
    expect(p.state).toBe('full-feature');
    p.loggedOut();
    expect(p.state).toBe('logged-out');
    expect(p.close('logout')).toBe(true);
    expect(p.state).toBe('closed');
  });

  it('closes from login, once; a closed connection does not log in or out', () => {
    const p = new ConnectionPhase(silentLogger());
    expect(p.close('login timed out')).toBe(true);
    expect(p.close('again')).toBe(false);
    p.loggedIn();
    p.loggedOut();
    expect(p.state).toBe('closed');
  });

  it('no logout during login, no second login', () => {
    const p = new ConnectionPhase(silentLogger());
    p.loggedOut();
    expect(p.state).toBe('login');
    p.loggedIn();
    p.loggedIn();
    expect(p.state).toBe('full-feature');
  });
});
