// The one place a connection pauses its socket (src/iscsi/receive-flow.ts): output
// backpressure and the memory budget each hold it paused; it reads again only once neither does.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ReceiveFlow } from '../../../src/iscsi/receive-flow.js';

function fakeSocket() {
  const calls: string[] = [];
  const socket = {
    destroyed: false,
    pause: () => calls.push('pause'),
    resume: () => calls.push('resume'),
  };
  return { socket: socket as unknown as Socket, calls, raw: socket };
}

describe('ReceiveFlow', () => {
  it('pauses once for two reasons and resumes only when both are gone', () => {
    const { socket, calls } = fakeSocket();
    const f = new ReceiveFlow(socket);
    expect(f.state).toBe('reading');
    f.pause('output');
    f.pause('budget');
    expect(calls).toEqual(['pause']);
    f.resume('output'); // the socket drained, but memory is still short
    expect(calls).toEqual(['pause']);
    expect(f.state).toBe('paused');
    expect(f.isPaused('budget')).toBe(true);
    f.resume('budget');
    expect(calls).toEqual(['pause', 'resume']);
    expect(f.state).toBe('reading');
  });

  it('a resume for a reason that did not pause changes nothing', () => {
    const { socket, calls } = fakeSocket();
    const f = new ReceiveFlow(socket);
    f.resume('output');
    f.pause('budget');
    f.resume('output');
    expect(calls).toEqual(['pause']);
  });

  it('a destroyed socket is not resumed', () => {
    const { socket, calls, raw } = fakeSocket();
    const f = new ReceiveFlow(socket);
    f.pause('output');
    raw.destroyed = true;
    f.resume('output');
    expect(calls).toEqual(['pause']);
    expect(f.state).toBe('reading');
  });
});
