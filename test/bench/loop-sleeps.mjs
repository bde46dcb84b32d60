// node test/bench/loop-sleeps.mjs PID < `perf script -F time,event,trace,ip,sym` output
//
// From a `perf record -a -g -e sched:sched_switch --filter 'prev_pid == PID || next_pid == PID'`
// capture: every time the thread PID (tandemd's main thread, the event loop) was off the CPU,
// how long, in which state and where it was switched out. Prints JSON:
//   { sleeps: n, blockedOver2ms: n, longestBlocked: { ms, state, stack }, blocked: [the 5
//     longest], longestIdle: {...}, preempted: { longestMs } }
// "blocked" is asleep (S or D) anywhere but the loop's own wait for events (epoll_wait): a
// system call, a lock or a page fault that held the loop. "idle" is the wait in epoll_wait: the
// loop had nothing to do, and oversleeping there (a late timer interrupt in a VM) is the host's.
// "preempted" (state R) is run-queue wait: the scheduler's, not ours.
import readline from 'node:readline';

const pid = process.argv[2];
if (!pid) {
  console.error('usage: loop-sleeps.mjs PID < perf-script-output');
  process.exit(2);
}
const out = {
  sleeps: 0,
  blockedOver2ms: 0,
  longestBlocked: null,
  blocked: [],
  longestIdle: null,
  preempted: { longestMs: 0 },
};
let current = null; // the event being read: { t, prevPid, state, nextPid, stack }
let away = null; // the thread's last switch-out: { t, state, stack }

function finish(ev) {
  if (!ev) return;
  if (ev.prevPid === pid) away = ev;
  else if (ev.nextPid === pid && away) {
    const ms = (ev.t - away.t) * 1000;
    const frames = away.stack.filter((f) => f !== '[unknown]');
    const idle = frames.some((f) => f.includes('epoll_wait') || f === 'epoll_pwait');
    const record = { ms: Number(ms.toFixed(3)), state: away.state, stack: frames.slice(0, 16).join(' <- ') };
    if (away.state.startsWith('R')) {
      out.preempted.longestMs = Math.max(out.preempted.longestMs, record.ms);
    } else if (idle) {
      if (!out.longestIdle || ms > out.longestIdle.ms) out.longestIdle = record;
    } else {
      out.sleeps++;
      if (ms > 2) out.blockedOver2ms++;
      if (!out.longestBlocked || ms > out.longestBlocked.ms) out.longestBlocked = record;
      out.blocked.push(record);
      out.blocked.sort((a, b) => b.ms - a.ms);
      out.blocked.length = Math.min(out.blocked.length, 5);
    }
    away = null;
  }
}

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  const m =
    /^\s*(\d+\.\d+):\s+sched:sched_switch:.*prev_pid=(\d+) .*prev_state=(\S+) ==> .*next_pid=(\d+)/.exec(
      line,
    );
  if (m) {
    finish(current);
    current = { t: Number(m[1]), prevPid: m[2], state: m[3], nextPid: m[4], stack: [] };
  } else if (current && line.trim()) {
    const f = line.trim().split(/\s+/).slice(1).join(' ');
    if (f) current.stack.push(f);
  }
}
finish(current);
console.log(JSON.stringify(out));
