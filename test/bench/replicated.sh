#!/usr/bin/env bash
# bash test/bench/replicated.sh [PERF_ARGS...]       (part 2 of `npm run bench`, see run.sh)
#
# Replicated-write bench: starts a 2-node local cluster (deploy/local/cluster up --nodes 2
# --kind replicated --size 1G; node a is the primary, b its synchronous replica, protocol C) in a
# new temp dir, waits until volume vol0 is in sync on both nodes, then runs
#   ../shared/tools/perf --vs-tgt --workloads seqwrite-4k-qd32,seqwrite-64k-qd16 NODE_A_URL
# with PERF_ARGS passed through (e.g. --seconds 2 --rounds 2; --workloads and --tmpdir are set
# here and win), and prints perf's table and then:
#
#   replicated (2 nodes, protocol C)   IOPS     vs single-node Tandem   vs tgt
#   seqwrite-4k-qd32                  12,345   0.45                    0.38
#   seqwrite-64k-qd16                  ...
#   replicated 4k write vs tgt: 0.38 (aim ≥ 0.60, below the aim)
#
# "vs tgt" compares with the tgt baseline measured in this perf run; "vs single-node Tandem"
# with the perf.json named by TANDEM_BENCH_SINGLE_JSON (run.sh sets it to its part 1's perf.json,
# measured in the same `npm run bench`); without it that column is "-". The aim is reported,
# not enforced. The cluster (nodes and etcd) is torn down and its dir removed on every exit path,
# including failures and Ctrl-C/SIGTERM. The npm script builds first; this script builds nothing.
#
# Options (taken out of PERF_ARGS):
#   --out DIR   keep perf.json and logs/ of the replicated run in DIR (default: a new
#               $TMPDIR/tandem-bench-replicated.XXXXXX, kept and printed at the end)
# Environment:
#   TANDEM_PERF                 the perf tool (default: ../shared/tools/perf next to the repository)
#   TANDEM_BENCH_DIR            parent of the cluster's temp dir (both nodes' volume files) AND of
#                               tgt's LUN file (perf --tmpdir): one filesystem (default: $TMPDIR or /tmp)
#   TANDEM_BENCH_SINGLE_JSON    single-node perf.json for the "vs single-node Tandem" column
#   TANDEM_BENCH_SYNC_TIMEOUT   seconds to wait for both replicas to be in sync (default: 120)
#   TANDEM_LOG_LEVEL            the nodes' log level (default: info)
# Exit: perf's exit code (0 measured, 1 a run failed); 2 setup (cluster, sync, prerequisites);
# 130 interrupted.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$REPO_ROOT/test/bench
PERF=${TANDEM_PERF:-$REPO_ROOT/../shared/tools/perf}
PARENT=${TANDEM_BENCH_DIR:-${TMPDIR:-/tmp}}
CLUSTER=$REPO_ROOT/deploy/local/cluster.mjs
TANDEMCTL=$REPO_ROOT/dist/cmd/tandemctl.js
WORKLOADS=seqwrite-4k-qd32,seqwrite-64k-qd16
SYNC_TIMEOUT=${TANDEM_BENCH_SYNC_TIMEOUT:-120}

die() { echo "bench: $*" >&2; exit 2; }
[ -f "$PERF" ] || die "perf tool not found: $PERF (set TANDEM_PERF)"
PERF_CMD=("$PERF")
[ -x "$PERF" ] || PERF_CMD=(bash "$PERF")
[ -f "$REPO_ROOT/dist/cmd/tandemd.js" ] && [ -f "$TANDEMCTL" ] || die "dist/ not built: run 'npm run build' (npm run bench does)"
command -v tgtd >/dev/null 2>&1 || [ -x /usr/sbin/tgtd ] || die "tgtd not found: apt-get install tgt (perf --vs-tgt needs it)"
[ -x "${TANDEM_ETCD:-/usr/bin/etcd}" ] || die "etcd not found: apt-get install etcd-server (or set TANDEM_ETCD)"
case "$SYNC_TIMEOUT" in ''|*[!0-9]*) die "TANDEM_BENCH_SYNC_TIMEOUT must be whole seconds" ;; esac

OUT=""
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a value"; OUT=$2; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
mkdir -p "$PARENT"
if [ -z "$OUT" ]; then
  OUT=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench-replicated.XXXXXX")
else
  mkdir -p "$OUT"
fi

WORK=$(mktemp -d "$PARENT/tandem-bench-cluster.XXXXXX")
# shellcheck source=test/bench/child.sh
source "$(dirname "${BASH_SOURCE[0]}")/child.sh"   # CHILD, run, stop_child
cleanup() {
  local rc=$?
  trap - EXIT
  trap '' INT TERM   # a second Ctrl-C must not cut the teardown short
  stop_child
  if [ -f "$WORK/cluster.json" ]; then
    node "$CLUSTER" down --dir "$WORK" >&2 || echo "bench: 'cluster down --dir $WORK' failed" >&2
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

echo "bench: replicated: starting a 2-node cluster in $WORK" >&2
run node "$CLUSTER" up --nodes 2 --dir "$WORK" --kind replicated --size 1G \
  --log-level "${TANDEM_LOG_LEVEL:-info}" >&2 || die "cluster up failed"

ENDPOINT=$(node "$CLUSTER" endpoint --dir "$WORK" a) || die "node a is not running"
URL=$(node -e 'const c = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  const a = c.nodes.find((n) => n.name === "a"); if (!a?.url) process.exit(1); console.log(a.url);' \
  "$WORK/cluster.json") || die "no URL for node a in $WORK/cluster.json"

echo "bench: replicated: waiting (up to $SYNC_TIMEOUT s) for vol0 to be in sync on a and b" >&2
deadline=$((SECONDS + SYNC_TIMEOUT))
while :; do
  why=""
  if node "$TANDEMCTL" --endpoint "$ENDPOINT" status --json >"$WORK/status.json" 2>"$WORK/status.err"; then
    why=$(node "$HERE/report.mjs" in-sync "$WORK/status.json" a b) && break
  else
    why=$(tail -n 1 "$WORK/status.err")
  fi
  [ "$SECONDS" -lt "$deadline" ] || die "replicas not in sync after $SYNC_TIMEOUT s: $why"
  sleep 1
done

echo "bench: replicated: primary a at $URL (replica b; data in $WORK); baseline: tgt, LUN file under $PARENT" >&2
set +e
run "${PERF_CMD[@]}" --vs-tgt "${ARGS[@]}" --tmpdir "$PARENT" --workloads "$WORKLOADS" --out "$OUT" "$URL"
RC=$?
set -e

for n in a b; do
  if ! node "$CLUSTER" endpoint --dir "$WORK" "$n" >/dev/null 2>&1; then
    echo "bench: node $n died during the run; last lines of its log:" >&2
    tail -n 50 "$WORK/$n/tandemd.log" >&2 || true
    [ "$RC" -ne 0 ] || RC=1
  fi
done
# Still in sync after the writes? (a replica dropped out of sync means a no longer mirrored)
if node "$TANDEMCTL" --endpoint "$ENDPOINT" status --json >"$WORK/status.json" 2>/dev/null; then
  why=$(node "$HERE/report.mjs" in-sync "$WORK/status.json" a b) ||
    echo "bench: warning: after the run, $why (b fell out of sync: not every write was replicated)" >&2
fi

if [ -f "$OUT/perf.json" ]; then
  echo
  node "$HERE/report.mjs" table "$OUT/perf.json" ${TANDEM_BENCH_SINGLE_JSON:+"$TANDEM_BENCH_SINGLE_JSON"} || true
  echo "(replicated perf.json: $OUT/perf.json)"
else
  echo "bench: perf wrote no $OUT/perf.json (exit $RC)" >&2
  [ "$RC" -ne 0 ] || RC=1
fi
exit "$RC"
