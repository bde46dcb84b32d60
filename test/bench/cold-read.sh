#!/usr/bin/env bash
# npm run bench:cold-read [-- --seconds N]
#
# Random 4 KiB reads at queue depth 32 from a backing file whose pages are NOT in the page cache,
# against a fresh embedded tandemd; reports IOPS, the target's CPU time per I/O and the event
# loop's longest stall during the run (prom-client's nodejs_eventloop_lag_max_seconds, read from
# tandemd's metrics endpoint right before and right after the run: the first scrape resets it).
# Inline reads (preadv2 RWF_NOWAIT) must send every uncached read to the thread pool, so the
# stall stays below the 2 ms the inline I/O policy allows a single operation (InlineWritePolicy).
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
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_RUN=$2; shift 2 ;;
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

node --initial-heap-size=128 "$TANDEMD" --data-dir "$WORK/data" --listen 127.0.0.1:0 --admin off \
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
lag_max >/dev/null # resets the histogram: the next scrape covers the run only
T0=$(cpu_ticks)
OUT=$(timeout $((SECONDS_RUN + 10)) iscsi-perf -r -m 32 -b 8 -t "$SECONDS_RUN" "$URL" 2>&1 | tr '\r' '\n' || true)
T1=$(cpu_ticks)
LAG=$(lag_max)
IOPS=$(grep -o 'iops average [0-9]*' <<<"$OUT" | tail -1 | awk '{ print $3 }')
[ -n "$IOPS" ] && [ "$IOPS" -gt 0 ] || die "iscsi-perf reported no IOPS: $OUT"
TICK=$(getconf CLK_TCK)
node -e '
  const [iops, secs, ticks, tick, lag] = process.argv.slice(1).map(Number);
  const ios = iops * secs;
  console.log("workload                 IOPS   CPU-us/IO   event loop longest stall");
  console.log(`cold-randread-4k-qd32 ${String(iops).padStart(7)} ${((ticks / tick) * 1e6 / ios).toFixed(1).padStart(11)} ${(lag * 1000).toFixed(1).padStart(12)} ms`);
' "$IOPS" "$SECONDS_RUN" "$((T1 - T0))" "$TICK" "$LAG"
grep -h '"msg":"a [0-9]*-byte read took' "$WORK/tandemd.log" | head -3 >&2 || true
