#!/usr/bin/env bash
# npm run bench [-- [--replicated-only] [--single-only] [--only PARTS] [--out DIR] PERF_ARGS...]
#
# Part 1 "single" (single node): starts a fresh embedded tandemd (LUN 0 = sparse 1 GiB file in a
# new temp data dir, portal on a port the kernel picks), runs ../shared/tools/perf --vs-tgt against
# it with PERF_ARGS passed through (e.g. --seconds 2 --rounds 2), prints perf's table, stops
# tandemd and removes the data dir.
# Part 2 "replicated": test/bench/replicated.sh with the same PERF_ARGS: a 2-node replicated
# cluster; perf --vs-tgt with the write workloads seqwrite-4k-qd32,seqwrite-64k-qd16 against the
# primary a, then the read workloads seqread-4k-qd32,randread-4k-qd32,seqread-64k-qd16 through a
# and through b (Active/Non-optimized: forwards every command to a over gRPC); prints the write
# table "replicated (2 nodes, protocol C)  IOPS  vs single-node Tandem  vs tgt  CPU-us/IO prim.
# CPU-us/IO 2 nodes" (single-node = part 1's medians from this run, tgt = the baseline of the same
# perf run), the line "replicated 2-way 4k write vs tgt: X.XX (aim ≥ 0.60)" (reported, not
# enforced) and the read table "path  workload  IOPS  vs tgt  CPU-us/IO prim. a  CPU-us/IO
# forwarder".
# Part 3 "replicated3": replicated.sh with TANDEM_BENCH_REPLICAS=3: the write workloads against a
# 3-node cluster whose vol0 is mirrored on all three nodes (every node of `cluster up --kind
# replicated` holds a replica; the script waits until a, b and c are in sync), the same write
# table for 3 nodes. At the end the 2-way and 3-way write tables are printed again, one above
# the other.
# Part 4 "replicated-tls": test/bench/replicated-tls.sh: the write workloads against a 2-node
# replicated cluster with TLS on every channel and then with insecure: true (no tgt baseline),
# perf counting both nodes' CPU; prints IOPS and CPU-us/IO of each and the ratios TLS/insecure,
# and "TLS cost, CPU time per I/O of both nodes: 4k +x.x %, 64k +y.y % (aim ≤ 10 %)" (reported,
# not enforced). Alone: npm run bench -- --only replicated-tls [PERF_ARGS].
# Defaults (5 s runs, 3 rounds) take about 3.5 min for part 1, 6 min for part 2 (8 perf runs of
# one workload each, ~40 s apiece), 1.5 min for part 3 and 2.5 min for part 4.
#
# Options (taken out of PERF_ARGS):
#   --replicated-only  parts 2 and 3 only (their "vs single-node Tandem" column is then "-",
#                      unless TANDEM_BENCH_SINGLE_JSON names an earlier single-node perf.json)
#   --single-only      run part 1 only (the table of every workload, as before part 2 existed)
#   --only PARTS       run these parts only (as TANDEM_BENCH_PARTS), e.g. --only replicated-tls
#   --out DIR          keep the results in DIR/single, DIR/replicated and DIR/replicated3
#                      (perf.json, logs/), DIR/replicated-tls/{tls,insecure}; default: a new
#                      $TMPDIR/tandem-bench.XXXXXX, kept and
#                      printed at the end
# Exits with the first non-zero perf exit code (1 a run failed, 2 setup), else 0; 130 interrupted.
# The npm script builds first; this script builds nothing.
#
# Environment:
#   TANDEM_BENCH_PARTS  which parts to run, comma-separated: single, replicated, replicated3,
#                       replicated-tls (default: all four; --replicated-only/--single-only/--only
#                       override it)
#   TANDEM_PERF         the perf tool (default: ../shared/tools/perf next to the repository)
#   TANDEM_BENCH_DIR    parent of the temp dirs for tandemd's LUN file, the cluster's volume files
#                       AND tgt's LUN file (perf --tmpdir), so all targets write to the same
#                       filesystem (default: $TMPDIR or /tmp)
#   TANDEM_LOG_LEVEL    tandemd's log level during the run (default: info)
#   (parts 2/3 also read TANDEM_BENCH_SINGLE_JSON, TANDEM_BENCH_SYNC_TIMEOUT, TANDEM_BENCH_READS:
#   see replicated.sh)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PERF=${TANDEM_PERF:-$REPO_ROOT/../shared/tools/perf}
PARENT=${TANDEM_BENCH_DIR:-${TMPDIR:-/tmp}}
TANDEMD=$REPO_ROOT/dist/cmd/tandemd.js
TARGET=iqn.2026-11.org.tandem:demo

die() { echo "bench: $*" >&2; exit 2; }

PARTS=${TANDEM_BENCH_PARTS:-single,replicated,replicated3,replicated-tls}
RESULTS=""
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --replicated-only) PARTS=replicated,replicated3; shift ;;
    --single-only) PARTS=single; shift ;;
    --only) [ $# -ge 2 ] || die "--only needs a value"; PARTS=$2; shift 2 ;;
    --only=*) PARTS=${1#*=}; shift ;;
    --out) [ $# -ge 2 ] || die "--out needs a value"; RESULTS=$2; shift 2 ;;
    --out=*) RESULTS=${1#*=}; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
SINGLE=0 REPLICATED=0 REPLICATED3=0 REPLICATED_TLS=0
IFS=',' read -r -a _parts <<<"$PARTS"
for p in "${_parts[@]}"; do
  case "${p// /}" in
    single) SINGLE=1 ;;
    replicated) REPLICATED=1 ;;
    replicated3) REPLICATED3=1 ;;
    replicated-tls) REPLICATED_TLS=1 ;;
    '') ;;
    *) die "TANDEM_BENCH_PARTS: unknown part '$p' (known: single, replicated, replicated3, replicated-tls)" ;;
  esac
done
[ "$SINGLE" = 1 ] || [ "$REPLICATED" = 1 ] || [ "$REPLICATED3" = 1 ] || [ "$REPLICATED_TLS" = 1 ] ||
  die "TANDEM_BENCH_PARTS selects no part"

[ -f "$PERF" ] || die "perf tool not found: $PERF (set TANDEM_PERF)"
PERF_CMD=("$PERF")
[ -x "$PERF" ] || PERF_CMD=(bash "$PERF")   # a copy that lost its execute bit
[ -f "$TANDEMD" ] || die "$TANDEMD not found: run 'npm run build' (npm run bench does)"
if [ "$SINGLE" = 1 ] || [ "$REPLICATED" = 1 ] || [ "$REPLICATED3" = 1 ]; then
  command -v tgtd >/dev/null 2>&1 || [ -x /usr/sbin/tgtd ] || die "tgtd not found: apt-get install tgt (perf --vs-tgt needs it)"
fi
mkdir -p "$PARENT"
if [ -z "$RESULTS" ]; then
  RESULTS=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench.XXXXXX")
else
  mkdir -p "$RESULTS"
fi
RESULTS=$(cd "$RESULTS" && pwd)

WORK=""
PID=""      # part 1's tandemd
# shellcheck source=test/bench/child.sh
source "$(dirname "${BASH_SOURCE[0]}")/child.sh"   # CHILD, run, stop_child
stop_tandemd() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  PID=""
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
  WORK=""
}
cleanup() {
  local rc=$?
  trap - EXIT
  trap '' INT TERM   # a second Ctrl-C must not cut the teardown short
  stop_child
  stop_tandemd
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

RC=0
# ---- part 1: single node ----------------------------------------------------------------------
if [ "$SINGLE" = 1 ]; then
  WORK=$(mktemp -d "$PARENT/tandem-bench.XXXXXX")
  node --initial-heap-size=128 "$TANDEMD" --data-dir "$WORK/data" --listen 127.0.0.1:0 --admin 127.0.0.1:0 --log-level "${TANDEM_LOG_LEVEL:-info}" \
    >"$WORK/tandemd.log" 2>"$WORK/tandemd.err" &
  PID=$!

  PORT=""
  for _ in $(seq 1 200); do
    if ! kill -0 "$PID" 2>/dev/null; then
      echo "bench: tandemd exited before it was ready:" >&2
      cat "$WORK/tandemd.log" "$WORK/tandemd.err" >&2
      exit 2
    fi
    PORT=$(grep -m1 '"event":"ready"' "$WORK/tandemd.log" | sed -n 's/.*"portals":\["[^"]*:\([0-9]*\)".*/\1/p' || true)
    [ -n "$PORT" ] && break
    sleep 0.1
  done
  [ -n "$PORT" ] || { echo "bench: tandemd not ready after 20 s:" >&2; cat "$WORK/tandemd.log" "$WORK/tandemd.err" >&2; exit 2; }

  URL="iscsi://127.0.0.1:$PORT/$TARGET/0"
  echo "bench: single node: tandemd pid $PID at $URL (data in $WORK/data); baseline: tgt, LUN file under $PARENT" >&2

  run "${PERF_CMD[@]}" --vs-tgt --tmpdir "$PARENT" "${ARGS[@]}" --out "$RESULTS/single" "$URL" || RC=$?

  if ! kill -0 "$PID" 2>/dev/null; then
    echo "bench: tandemd died during the run:" >&2
    tail -n 50 "$WORK/tandemd.log" "$WORK/tandemd.err" >&2
    [ "$RC" -ne 0 ] || RC=1
  fi
  stop_tandemd
  case "$RC" in 2|130) exit "$RC" ;; esac   # setup failed or interrupted: part 2 would too
fi

# ---- parts 2 and 3: replicated, 2 and 3 nodes ------------------------------------------------
if [ "$SINGLE" = 1 ]; then export TANDEM_BENCH_SINGLE_JSON=$RESULTS/single/perf.json; fi
replicated() {   # replicated NODES OUT_SUBDIR
  echo >&2
  local rc=0
  TANDEM_BENCH_REPLICAS=$1 run bash "$REPO_ROOT/test/bench/replicated.sh" "${ARGS[@]}" --out "$RESULTS/$2" || rc=$?
  [ "$rc" -ne 130 ] || exit 130
  [ "$RC" -ne 0 ] || RC=$rc
}
[ "$REPLICATED" = 1 ] && replicated 2 replicated
[ "$REPLICATED3" = 1 ] && replicated 3 replicated3
if [ "$REPLICATED" = 1 ] && [ "$REPLICATED3" = 1 ]; then
  echo
  echo "replicated writes, 2-way and 3-way:"
  for d in replicated replicated3; do
    node "$REPO_ROOT/test/bench/report.mjs" tables "$RESULTS/$d" ${TANDEM_BENCH_SINGLE_JSON:+"$TANDEM_BENCH_SINGLE_JSON"} --writes-only || true
  done
fi
if [ "$REPLICATED_TLS" = 1 ]; then
  echo >&2
  rc=0
  run bash "$REPO_ROOT/test/bench/replicated-tls.sh" "${ARGS[@]}" --out "$RESULTS/replicated-tls" || rc=$?
  [ "$rc" -ne 130 ] || exit 130
  [ "$RC" -ne 0 ] || RC=$rc
fi
echo "bench: results in $RESULTS" >&2
exit "$RC"
