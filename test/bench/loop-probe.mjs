// Preloaded into tandemd by the cold-read bench (node --import): tells "our code held the event
// loop" from "the loop was late because the scheduler ran something else".
//
// A 1 ms timer measures how late the loop reaches its timers. At each tick it reads the main
// thread's /proc/thread-self/schedstat (run time, run-queue wait): the lateness not explained by
// run-queue wait (the thread runnable, another task on the CPU) is time the thread spent running
// our code (or GC) or asleep in a blocking system call: "held". Run-queue wait is exact (the
// kernel adds it when the thread gets the CPU back); run time is only as fresh as the last tick
// or context switch (up to ~4 ms stale), so "on CPU" is indicative. Also: the longest GC pause
// (PerformanceObserver), and the backstore's own counters (ioStats: the longest single inline
// read and write call, wall time around the system call).
//
// SIGUSR2 writes everything since the last SIGUSR2 to $TANDEM_LOOP_PROBE_OUT as JSON and resets.
// Cost: about 1,000 timer callbacks and /proc reads a second (a few ms of CPU a second).
import fs from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { ioStats, resetIoStats } from '../../dist/src/backstore/io-stats.js';

const OUT = process.env.TANDEM_LOOP_PROBE_OUT;
const INTERVAL_MS = 1;
const sfd = fs.openSync('/proc/thread-self/schedstat', 'r');
const sbuf = Buffer.alloc(128);
/** [run time, run-queue wait] of the main thread, ms. */
function sched() {
  const n = fs.readSync(sfd, sbuf, 0, sbuf.length, 0);
  const [run, wait] = sbuf.toString('latin1', 0, n).split(' ');
  return [Number(run) / 1e6, Number(wait) / 1e6];
}

let stats;
function reset() {
  stats = {
    ticks: 0,
    since: performance.now(),
    /** The longest gap between ticks, and what it was made of. */
    longestStall: { ms: 0, runQueueMs: 0, onCpuMs: 0 },
    /** The largest lateness not explained by run-queue wait (our code or a blocking call). */
    longestHeld: { ms: 0, gapMs: 0, runQueueMs: 0, onCpuMs: 0 },
    /** Ticks whose lateness exceeded 2 ms, by cause. */
    late2ms: { total: 0, mostlyRunQueue: 0, mostlyHeld: 0 },
    gc: { count: 0, totalMs: 0, longestMs: 0, longestKind: 0 },
    /** GC pauses over 2 ms, [start, duration] (performance.now ms), to match against stalls. */
    gcPauses: [],
  };
  resetIoStats();
}
reset();

let prevAt = performance.now();
let [prevRun, prevWait] = sched();
setInterval(() => {
  const now = performance.now();
  const [run, wait] = sched();
  const gap = now - prevAt;
  const runq = wait - prevWait;
  const onCpu = run - prevRun;
  prevAt = now;
  prevRun = run;
  prevWait = wait;
  stats.ticks++;
  if (gap > stats.longestStall.ms) stats.longestStall = { ms: gap, runQueueMs: runq, onCpuMs: onCpu };
  const late = Math.max(0, gap - INTERVAL_MS);
  const held = Math.max(0, late - runq);
  if (held > stats.longestHeld.ms) {
    stats.longestHeld = { ms: held, gapMs: gap, runQueueMs: runq, onCpuMs: onCpu, from: now - gap, to: now };
  }
  if (late > 2) {
    stats.late2ms.total++;
    if (runq >= held) stats.late2ms.mostlyRunQueue++;
    else stats.late2ms.mostlyHeld++;
  }
}, INTERVAL_MS).unref();

new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    stats.gc.count++;
    stats.gc.totalMs += e.duration;
    if (e.duration > 2 && stats.gcPauses.length < 1000) stats.gcPauses.push([e.startTime, e.duration]);
    if (e.duration > stats.gc.longestMs) {
      stats.gc.longestMs = e.duration;
      stats.gc.longestKind = e.detail?.kind ?? 0;
    }
  }
}).observe({ entryTypes: ['gc'] });

process.on('SIGUSR2', () => {
  const h = stats.longestHeld;
  // How much of the longest held gap a GC pause covered.
  h.gcMs = stats.gcPauses.reduce(
    (sum, [at, ms]) => sum + Math.max(0, Math.min(at + ms, h.to ?? 0) - Math.max(at, h.from ?? 0)),
    0,
  );
  const report = { ...stats, seconds: (performance.now() - stats.since) / 1000, io: { ...ioStats } };
  if (OUT) fs.writeFileSync(`${OUT}.tmp`, JSON.stringify(report));
  if (OUT) fs.renameSync(`${OUT}.tmp`, OUT);
  reset();
});
