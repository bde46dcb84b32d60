// The guarded transition(from[], to) every cluster state machine uses: it logs FROM -> TO with
// structured fields, and a transition from a state not allowed changes nothing.
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { StateMachine } from '../../../src/util/state-machine.js';

function sink() {
  const records: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _e, done) {
        for (const l of chunk.toString().split('\n')) if (l) records.push(JSON.parse(l));
        done();
      },
    }),
  );
  return { logger, records };
}

describe('StateMachine', () => {
  it('moves only from an allowed state, logs the change, and calls onChange once', () => {
    const { logger, records } = sink();
    const changes: string[] = [];
    const sm = new StateMachine<'idle' | 'leader' | 'fenced'>('election', 'idle', logger, (f, t) =>
      changes.push(`${f}>${t}`),
    );
    expect(sm.transition(['idle'], 'leader', { epoch: 7 })).toBe(true);
    expect(sm.state).toBe('leader');
    // Two paths notice the same loss: only the first one wins.
    expect(sm.transition(['leader'], 'fenced', { reason: 'timer' })).toBe(true);
    expect(sm.transition(['leader'], 'fenced', { reason: 'watch' })).toBe(false);
    expect(sm.state).toBe('fenced');
    expect(changes).toEqual(['idle>leader', 'leader>fenced']);
    expect(records.filter((r) => r.level === 30)).toEqual([
      expect.objectContaining({ from: 'idle', to: 'leader', epoch: 7, msg: 'election: IDLE -> LEADER' }),
      expect.objectContaining({
        from: 'leader',
        to: 'fenced',
        reason: 'timer',
        msg: 'election: LEADER -> FENCED',
      }),
    ]);
    expect(records.filter((r) => r.level === 20)).toEqual([
      expect.objectContaining({ from: 'fenced', to: 'fenced', reason: 'watch' }),
    ]);
  });
});
