#!/usr/bin/env bash
# bash test/bench/replicated-tls.sh [PERF_ARGS...]   (part "replicated-tls" of `npm run bench`)
#
# What TLS costs a replicated write (issue 12, check 3; aim: at most 10 %). Runs
# test/bench/replicated.sh twice with the write workloads only (seqwrite-4k-qd32,
# seqwrite-64k-qd16) and no tgt baseline: a 2-node replicated cluster with TLS on every channel
# (the default of deploy/local/cluster: node to node mutual TLS, etcd client TLS), then the same
# cluster with `insecure: true` (plaintext). perf counts both nodes' CPU (--project-pids of a and
# b: the primary's TLS sends and the replica's TLS receives). Then prints:
#
#   replicated 2 nodes: TLS vs insecure  IOPS TLS  IOPS insecure  ratio  CPU-us/IO TLS  CPU-us/IO insecure  ratio
#   seqwrite-4k-qd32                     ...
#   TLS cost, CPU time per I/O of both nodes: 4k +x.x %, 64k +y.y % (aim ≤ 10 %)
#
# IOPS ratio = TLS / insecure (below 1: TLS is slower); CPU ratio = TLS / insecure (above 1: TLS
# costs more). CPU time per I/O is the steadier figure on a busy host. The two clusters run one
# after the other (not at the same time), so a change in the host's load between them shows up
# as a difference: compare a few runs. Time with perf's defaults (5 s x 3 rounds): ~2.5 min.
#
# Options (taken out of PERF_ARGS):
#   --out DIR   keep DIR/tls and DIR/insecure (replicated.sh's OUT: write/WORKLOAD/{perf.json,
#               cpu.tsv}); default: a new $TMPDIR/tandem-bench-tls.XXXXXX, kept and printed
# Environment: as replicated.sh (TANDEM_PERF, TANDEM_BENCH_DIR, TANDEM_BENCH_SYNC_TIMEOUT,
# TANDEM_LOG_LEVEL). Exit: the first non-zero exit of the two runs; 130 interrupted.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=""
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || { echo "bench: --out needs a value" >&2; exit 2; }; OUT=$2; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
if [ -z "$OUT" ]; then
  OUT=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench-tls.XXXXXX")
else
  mkdir -p "$OUT"
fi

# shellcheck source=test/bench/child.sh
source "$HERE/child.sh"   # CHILD, run, stop_child
trap 'trap - EXIT; stop_child' EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

RC=0
for mode in tls insecure; do
  insecure=0
  [ "$mode" = tls ] || insecure=1
  echo "bench: replicated-tls: 2-node replicated cluster, $mode" >&2
  rc=0
  TANDEM_BENCH_REPLICAS=2 TANDEM_BENCH_READS=0 TANDEM_BENCH_VS_TGT=0 TANDEM_BENCH_INSECURE=$insecure \
    run bash "$HERE/replicated.sh" "${ARGS[@]}" --out "$OUT/$mode" >"$OUT/$mode.txt" || rc=$?
  [ "$rc" -ne 130 ] || exit 130
  [ "$RC" -ne 0 ] || RC=$rc
done

echo
node "$HERE/report.mjs" tls "$OUT" || { [ "$RC" -ne 0 ] || RC=1; }
echo "(TLS vs insecure results: $OUT/{tls,insecure}/write/WORKLOAD/perf.json; tables: $OUT/{tls,insecure}.txt)"
exit "$RC"
