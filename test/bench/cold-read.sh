#!/usr/bin/env bash
# npm run bench:cold-read [-- --seconds N] [--trace-gc] [--node-flag FLAG]...
#
# Random 4 KiB reads at queue depth 32 from a backing file whose pages are NOT in the page cache,
# against a fresh embedded tandemd; reports IOPS, the target's CPU time per I/O and the event
# loop's longest stall during the run, two ways:
#  - "loop stall": how late the loop got, whatever the reason: prom-client's
#    nodejs_eventloop_lag_max_seconds (monitorEventLoopDelay at its default 10 ms resolution: the
#    figure is the longest gap between two of its 10 ms ticks, so it never reads below ~10 ms),
#    and the longest gap of a 1 ms probe timer (test/bench/loop-probe.mjs, preloaded);
#  - "held": the part of a stall that is ours: lateness minus the main thread's run-queue wait
#    (/proc/thread-self/schedstat), i.e. time it ran our code or GC or sat in a blocking call;
#    with the longest single inline read call (wall time around preadv2) and the longest GC pause.
# On a 2-core machine iscsi-perf and the rest compete with tandemd for the CPU: a thread that is
# runnable but descheduled makes the loop late without any code holding it.
# Inline reads (preadv2 RWF_NOWAIT) must send every uncached read to the thread pool, so what is
# held stays below the 2 ms the inline I/O policy allows a single operation (InlineWritePolicy).
# --trace-gc runs tandemd with node --trace-gc and prints the GC pauses over 1 ms; --node-flag
# passes another flag to tandemd's node (e.g. --single-threaded-gc).
# --sched (needs linux perf): also records every context switch of tandemd's main thread
# (perf record -e sched:sched_switch -g, a few % of CPU) and reports the longest time the loop
# was asleep outside its own wait for events (a blocking system call, a lock, a page fault), with
# where it slept (test/bench/loop-sleeps.mjs). That is the exact "a call held the loop" figure;
# "held by us" above cannot tell it from the loop oversleeping in epoll_wait (a late timer
# interrupt in a VM whose host is busy: steal time, which the bench also reports).
#
# Steps: start tandemd (LUN 0 = 1 GiB sparse file), fill the LUN with 1 MiB writes (so the reads
# hit data, not holes that the initiator may skip), sync, drop the page cache
# (echo 1 > /proc/sys/vm/drop_caches: needs root), then iscsi-perf -r for --seconds (default 10).
# Needs: root, libiscsi-bin (iscsi-perf), qemu-utils + qemu-block-extra (qemu-img), curl.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TANDEMD=$REPO_ROOT/dist/cmd/tandemd.js
TARGET=iqn.2026-11.org.tandem:demo
SECONDS_RUN=10
NODE_FLAGS=()
SCHED=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --trace-gc) NODE_FLAGS+=(--trace-gc); shift ;;
    --node-flag) NODE_FLAGS+=("$2"); shift 2 ;;
    --sched) SCHED=1; shift ;;
    *) echo "cold-read: unknown option $1" >&2; exit 2 ;;
  esac
done
die() { echo "cold-read: $*" >&2; exit 2; }
[ -f "$TANDEMD" ] || die "$TANDEMD not found: run 'npm run build'"
[ -w /proc/sys/vm/drop_caches ] || die "cannot drop the page cache (/proc/sys/vm/drop_caches): run as root"
command -v iscsi-perf >/dev/null || die "iscsi-perf not found: apt-get install libiscsi-bin"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tandem-cold-read.XXXXXX")
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PROBE_OUT=$WORK/loop-probe.json
TANDEM_LOOP_PROBE_OUT=$PROBE_OUT node --initial-heap-size=128 "${NODE_FLAGS[@]}" \
  --import "$REPO_ROOT/test/bench/loop-probe.mjs" "$TANDEMD" --data-dir "$WORK/data" --listen 127.0.0.1:0 --admin off \
  --metrics 127.0.0.1:0 --log-level "${TANDEM_LOG_LEVEL:-info}" >"$WORK/tandemd.log" 2>"$WORK/tandemd.err" &
PID=$!
PORT="" METRICS=""
for _ in $(seq 1 200); do
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/tandemd.log" "$WORK/tandemd.err" >&2; die "tandemd exited before it was ready"; }
  READY=$(grep -m1 '"event":"ready"' "$WORK/tandemd.log" || true)
  if [ -n "$READY" ]; then
    PORT=$(sed -n 's/.*"portals":\["[^"]*:\([0-9]*\)".*/\1/p' <<<"$READY")
    METRICS=$(sed -n 's/.*"metrics":"\([^"]*\)".*/\1/p' <<<"$READY")
    break
  fi
  sleep 0.1
done
[ -n "$PORT" ] && [ -n "$METRICS" ] || die "no portal or metrics address in the ready line: $(cat "$WORK/tandemd.log")"
URL="iscsi://127.0.0.1:$PORT/$TARGET/0"

echo "cold-read: filling the LUN ($URL) with 1 MiB writes" >&2
qemu-img bench -f raw -w -t none -n -c 1024 -d 8 -s 1M -S 1M "$URL" >/dev/null
sync
echo 1 >/proc/sys/vm/drop_caches

lag_max() { curl -fsS "http://$METRICS/metrics" | awk '$1 == "nodejs_eventloop_lag_max_seconds" { print $2 }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
# Major page faults (a page read from disk on touch: code or data evicted by the cache drop) of
# the whole process and of its main thread, the one that runs the event loop.
majflt() { awk '{ print $12 }' "/proc/$PID/stat"; }
majflt_main() { awk '{ print $12 }' "/proc/$PID/task/$PID/stat"; }
# SIGUSR2: the probe writes what it saw since the last one and starts again.
probe() {
  rm -f "$PROBE_OUT"
  kill -USR2 "$PID"
  for _ in $(seq 1 100); do [ -f "$PROBE_OUT" ] && break; sleep 0.05; done
  [ -f "$PROBE_OUT" ] || die "the loop probe wrote nothing"
}
# Steal time, all CPUs (jiffies): time the hypervisor ran something else on our virtual CPUs.
steal() { awk '$1 == "cpu" { print $9 }' /proc/stat; }
lag_max >/dev/null # resets the histogram: the next scrape covers the run only
SCHED_PID=""
if [ "$SCHED" -eq 1 ]; then
  command -v perf >/dev/null || die "--sched needs linux perf (apt-get install linux-perf)"
  perf record -q -a -g -e sched:sched_switch --filter "prev_pid == $PID || next_pid == $PID" \
    -o "$WORK/sched.data" -- sleep $((SECONDS_RUN + 2)) >/dev/null 2>"$WORK/perf.err" &
  SCHED_PID=$!
  sleep 1
fi
probe
T0=$(cpu_ticks) F0=$(majflt) M0=$(majflt_main) S0=$(steal)
OUT=$(timeout $((SECONDS_RUN + 10)) iscsi-perf -r -m 32 -b 8 -t "$SECONDS_RUN" "$URL" 2>&1 | tr '\r' '\n' || true)
T1=$(cpu_ticks) F1=$(majflt) M1=$(majflt_main) S1=$(steal)
# The probe's window ends before the metrics scrape: collecting every metric takes the loop for
# a while, and that is not a read.
probe
LAG=$(lag_max)
IOPS=$(grep -o 'iops average [0-9]*' <<<"$OUT" | tail -1 | awk '{ print $3 }')
[ -n "$IOPS" ] && [ "$IOPS" -gt 0 ] || die "iscsi-perf reported no IOPS: $OUT"
TICK=$(getconf CLK_TCK)
node -e '
  const fs = require("fs");
  const [iops, secs, ticks, tick, lag] = process.argv.slice(1, 6).map(Number);
  const p = JSON.parse(fs.readFileSync(process.argv[6], "utf8"));
  const ios = iops * secs;
  const f = (x) => x.toFixed(1);
  console.log("workload                 IOPS   CPU-us/IO   loop stall (prom-client / 1 ms probe)   held by us   longest inline read");
  console.log(`cold-randread-4k-qd32 ${String(iops).padStart(7)} ${f((ticks / tick) * 1e6 / ios).padStart(11)} ${f(lag * 1000).padStart(14)} ms / ${f(p.longestStall.ms)} ms ${f(p.longestHeld.ms).padStart(16)} ms ${p.io.longestInlineReadMs.toFixed(2).padStart(14)} ms`);
  const s = p.longestStall, h = p.longestHeld;
  console.log(`  longest probe gap ${f(s.ms)} ms: run-queue wait ${f(s.runQueueMs)} ms, on CPU ~${f(s.onCpuMs)} ms`);
  console.log(`  longest held ${f(h.ms)} ms (gap ${f(h.gapMs)} ms, run-queue wait ${f(h.runQueueMs)} ms, on CPU ~${f(h.onCpuMs)} ms, in GC ${f(h.gcMs)} ms)`);
  console.log(`  ticks late > 2 ms: ${p.late2ms.total} (${p.late2ms.mostlyRunQueue} mostly run-queue wait, ${p.late2ms.mostlyHeld} mostly held)`);
  console.log(`  GC: ${p.gc.count} pauses, ${f(p.gc.totalMs)} ms in all, longest ${p.gc.longestMs.toFixed(2)} ms`);
  const io = p.io;
  console.log(`  reads: ${io.readsInline} inline, ${io.readsMissedInline} missed inline (readahead started on the loop), ${io.readsProbedCold} probed uncached, ${io.readsPool} through the pool`);
' "$IOPS" "$SECONDS_RUN" "$((T1 - T0))" "$TICK" "$LAG" "$PROBE_OUT"
echo "  major page faults during the run: $((F1 - F0)) (main thread: $((M1 - M0)))"
echo "  steal time during the run: $(( (S1 - S0) * 1000 / TICK )) ms of $((SECONDS_RUN * $(nproc) * 1000)) ms of CPU"
if [ -n "$SCHED_PID" ]; then
  wait "$SCHED_PID" || true
  perf script -i "$WORK/sched.data" -F time,event,trace,ip,sym 2>/dev/null | node "$REPO_ROOT/test/bench/loop-sleeps.mjs" "$PID" >"$WORK/sleeps.json"
  node -e '
    const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const b = s.longestBlocked, i = s.longestIdle;
    console.log(`  loop asleep outside epoll_wait (perf sched_switch, from 1 s before the run to 1 s after): ${s.sleeps} times, ${s.blockedOver2ms} over 2 ms, longest ${b ? b.ms.toFixed(2) : 0} ms (state ${b ? b.state : "-"})`);
    for (const x of s.blocked) console.log(`    ${x.ms.toFixed(2)} ms ${x.state}: ${x.stack}`);
    console.log(`  longest wait in epoll_wait ${i ? i.ms.toFixed(2) : 0} ms (idle, or a late wake-up); longest preemption ${s.preempted.longestMs.toFixed(2)} ms`);
  ' "$WORK/sleeps.json"
fi
grep -h '"msg":"a [0-9]*-byte read took' "$WORK/tandemd.log" | head -3 >&2 || true
if [ ${#NODE_FLAGS[@]} -gt 0 ]; then
  grep -E '^\[[0-9]+:0x[0-9a-f]+\] +[0-9]+ ms: ' "$WORK/tandemd.log" |
    awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/ && $(i+1) == "/") { if ($i + 0 > 1) print; break } }' | head -20 >&2 || true
fi
