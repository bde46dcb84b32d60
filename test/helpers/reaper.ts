// Child processes a test starts must not outlive it: whatever is still running when the test
// process exits is SIGKILLed here. Each helper keeps its own set for its graceful stop.
import type { ChildProcess } from 'node:child_process';

const tracked = new Set<Set<ChildProcess>>();

/** SIGKILLs every child still in `live` when the test process exits. */
export function killOnExit(live: Set<ChildProcess>): void {
  if (tracked.size === 0) {
    process.on('exit', () => {
      for (const set of tracked) {
        for (const child of set) {
          try {
            child.kill('SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    });
  }
  tracked.add(live);
}
