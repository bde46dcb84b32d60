#!/usr/bin/env bash
# bash test/bench/replicated.sh [PERF_ARGS...]   (parts 2 and 3 of `npm run bench`, see run.sh)
#
# Replicated bench: starts a local cluster of TANDEM_BENCH_REPLICAS nodes (2, default, or 3;
# deploy/local/cluster up --nodes N --kind replicated --size 1G: node a is the primary, every other
# node holds a synchronous replica of vol0, protocol C) in a new temp dir, waits until vol0 is in
# sync on every node, then runs ../shared/tools/perf --vs-tgt once per workload (so each node's
# CPU share is that workload's), with --project-pids of ALL nodes and PERF_ARGS passed through
# (e.g. --seconds 2 --rounds 2; --workloads, --project-pids and --tmpdir are set here and win):
#   writes  seqwrite-4k-qd32, seqwrite-64k-qd16 against a's portal
#   reads   (2 nodes only) seqread-4k-qd32, randread-4k-qd32, seqread-64k-qd16, first through a's
#           portal ("primary"), then through b's ("forwarded": b is Active/Non-optimized and
#           forwards every command to a over gRPC)
# Around every perf run it reads each node's utime+stime (/proc/PID/stat) and then prints:
#
#   replicated (2 nodes, protocol C)  IOPS  vs single-node Tandem  vs tgt  CPU-us/IO prim.  CPU-us/IO 2 nodes
#   seqwrite-4k-qd32                 ...
#   replicated 2-way 4k write vs tgt: 0.38 (aim ≥ 0.60, below the aim)
#
#   reads: path    workload          IOPS  vs tgt  CPU-us/IO prim. a  CPU-us/IO forwarder
#   primary        seqread-4k-qd32    ...
#   forwarded (b)  seqread-4k-qd32    ...
#
# "vs tgt" compares with the tgt baseline measured in the same perf run; "vs single-node Tandem"
# with the perf.json named by TANDEM_BENCH_SINGLE_JSON (run.sh sets it to its part 1's perf.json,
# measured in the same `npm run bench`); without it that column is "-". "CPU-us/IO N nodes" is
# perf's CPU time per I/O of all nodes together; a node's column is that times the node's share
# of the nodes' CPU ticks over the perf run (the tgt rounds in it leave the nodes idle). The aim
# is reported, not enforced. The cluster (nodes and etcd) is torn down and its dir removed on
# every exit path, including failures and Ctrl-C/SIGTERM. The npm script builds first; this
# script builds nothing. Time with perf's defaults (5 s x 3 rounds): ~40 s per workload, so about
# 6 min for 2 nodes (2 writes + 2 x 3 reads) and 1.5 min for 3 nodes, plus ~10 s cluster start.
#
# Options (taken out of PERF_ARGS):
#   --out DIR   keep OUT/{write,primary,forwarded}/WORKLOAD/{perf.json,cpu.tsv,logs/} in DIR
#               (default: a new $TMPDIR/tandem-bench-replicated.XXXXXX, kept and printed at the end)
# Environment:
#   TANDEM_BENCH_REPLICAS       nodes (= replicas of vol0): 2 (default) or 3
#   TANDEM_BENCH_READS          0: skip the read workloads (default 1; always skipped with 3 nodes)
#   TANDEM_BENCH_INSECURE       1: the cluster without TLS (`cluster up --insecure`: plaintext etcd
#                               and node-to-node channels); default 0, TLS everywhere
#   TANDEM_BENCH_VS_TGT         0: no tgt baseline (perf without --vs-tgt; "vs tgt" columns "-");
#                               default 1 (replicated-tls.sh sets 0: it compares TLS with plaintext)
#   TANDEM_PERF                 the perf tool (default: ../shared/tools/perf next to the repository)
#   TANDEM_BENCH_DIR            parent of the cluster's temp dir (the nodes' volume files) AND of
#                               tgt's LUN file (perf --tmpdir): one filesystem (default: $TMPDIR or /tmp)
#   TANDEM_BENCH_SINGLE_JSON    single-node perf.json for the "vs single-node Tandem" column
#   TANDEM_BENCH_SYNC_TIMEOUT   seconds to wait for all replicas to be in sync (default: 120)
#   TANDEM_LOG_LEVEL            the nodes' log level (default: info)
# Exit: the first non-zero perf exit code (0 measured, 1 a run failed); 2 setup (cluster, sync,
# prerequisites); 130 interrupted.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$REPO_ROOT/test/bench
PERF=${TANDEM_PERF:-$REPO_ROOT/../shared/tools/perf}
PARENT=${TANDEM_BENCH_DIR:-${TMPDIR:-/tmp}}
CLUSTER=$REPO_ROOT/deploy/local/cluster.mjs
TANDEMCTL=$REPO_ROOT/dist/cmd/tandemctl.js
WORKLOADS=seqwrite-4k-qd32,seqwrite-64k-qd16
READ_WORKLOADS=seqread-4k-qd32,randread-4k-qd32,seqread-64k-qd16
NODES=${TANDEM_BENCH_REPLICAS:-2}
case "$NODES" in 2|3) ;; *) echo "bench: TANDEM_BENCH_REPLICAS must be 2 or 3" >&2; exit 2 ;; esac
READS=${TANDEM_BENCH_READS:-1}
[ "$NODES" = 2 ] || READS=0
SYNC_TIMEOUT=${TANDEM_BENCH_SYNC_TIMEOUT:-120}
INSECURE=${TANDEM_BENCH_INSECURE:-0}
VS_TGT=${TANDEM_BENCH_VS_TGT:-1}

die() { echo "bench: $*" >&2; exit 2; }
[ -f "$PERF" ] || die "perf tool not found: $PERF (set TANDEM_PERF)"
PERF_CMD=("$PERF")
[ -x "$PERF" ] || PERF_CMD=(bash "$PERF")
[ -f "$REPO_ROOT/dist/cmd/tandemd.js" ] && [ -f "$TANDEMCTL" ] || die "dist/ not built: run 'npm run build' (npm run bench does)"
if [ "$VS_TGT" = 1 ]; then
  command -v tgtd >/dev/null 2>&1 || [ -x /usr/sbin/tgtd ] || die "tgtd not found: apt-get install tgt (perf --vs-tgt needs it)"
fi
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

NAMES=(a b c)
NAMES=("${NAMES[@]:0:$NODES}")
UP_ARGS=()
MODE="TLS on every channel"
if [ "$INSECURE" = 1 ]; then UP_ARGS=(--insecure); MODE="insecure: true, no TLS"; fi
echo "bench: replicated: starting a $NODES-node cluster in $WORK ($MODE)" >&2
run node "$CLUSTER" up --nodes "$NODES" --dir "$WORK" --kind replicated --size 1G \
  --log-level "${TANDEM_LOG_LEVEL:-info}" "${UP_ARGS[@]}" >&2 || die "cluster up failed"

ENDPOINT=$(node "$CLUSTER" endpoint --dir "$WORK" a) || die "node a is not running"
# tandemctl's endpoint and credentials (TANDEM_CA, TANDEM_CERT, TANDEM_KEY unless --insecure)
eval "$(node "$CLUSTER" env --dir "$WORK" a)" || die "cluster env failed"
# tandemctl's credentials: the cluster's admin certificate, none for an --insecure cluster.
CREDS=()
[ -f "$WORK/tls/ca.crt" ] && CREDS=(--tls-dir "$WORK/tls")
PERF_TGT=()
if [ "$VS_TGT" = 1 ]; then PERF_TGT=(--vs-tgt); fi
# field NAME KEY: cluster.json's nodes[NAME].KEY (url, pid)
field() {
  node -e 'const c = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    const n = c.nodes.find((x) => x.name === process.argv[2]); const v = n?.[process.argv[3]];
    if (v === undefined || v === null) process.exit(1); console.log(v);' "$WORK/cluster.json" "$1" "$2"
}
declare -A PIDS URLS
for n in "${NAMES[@]}"; do
  URLS[$n]=$(field "$n" url) || die "no URL for node $n in $WORK/cluster.json"
  PIDS[$n]=$(field "$n" pid) || die "no pid for node $n in $WORK/cluster.json"
done
ALL_PIDS=$(IFS=,; for n in "${NAMES[@]}"; do printf '%s\n' "${PIDS[$n]}"; done | paste -sd,)

echo "bench: replicated: waiting (up to $SYNC_TIMEOUT s) for vol0 to be in sync on ${NAMES[*]}" >&2
deadline=$((SECONDS + SYNC_TIMEOUT))
while :; do
  why=""
  if node "$TANDEMCTL" --endpoint "$ENDPOINT" "${CREDS[@]}" status --json >"$WORK/status.json" 2>"$WORK/status.err"; then
    why=$(node "$HERE/report.mjs" in-sync "$WORK/status.json" "${NAMES[@]}") && break
  else
    why=$(tail -n 1 "$WORK/status.err")
  fi
  [ "$SECONDS" -lt "$deadline" ] || die "replicas not in sync after $SYNC_TIMEOUT s: $why"
  sleep 1
done

ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0; }
# measure PATH URL WORKLOAD...: one perf run per workload (so each node's CPU share is that
# workload's) into $OUT/PATH/WORKLOAD/, with every node's utime+stime ticks before and after in
# cpu.tsv ("NODE BEFORE AFTER")
RC=0
measure() {
  local path=$1 url=$2 wl dir rc n
  shift 2
  for wl in "$@"; do
    dir=$OUT/$path/$wl
    mkdir -p "$dir"
    : >"$dir/cpu.tsv.0"
    for n in "${NAMES[@]}"; do echo "$n $(ticks "${PIDS[$n]}")" >>"$dir/cpu.tsv.0"; done
    rc=0
    run "${PERF_CMD[@]}" "${PERF_TGT[@]}" "${ARGS[@]}" --tmpdir "$PARENT" --workloads "$wl" \
      --project-pids "$ALL_PIDS" --out "$dir" "$url" || rc=$?
    while read -r n before; do echo "$n $before $(ticks "${PIDS[$n]}")"; done <"$dir/cpu.tsv.0" >"$dir/cpu.tsv"
    rm -f "$dir/cpu.tsv.0"
    [ "$rc" -ne 130 ] || exit 130
    [ "$RC" -ne 0 ] || RC=$rc
  done
}

BASELINE="baseline: tgt, LUN file under $PARENT"
[ "$VS_TGT" = 1 ] || BASELINE="no tgt baseline"
echo "bench: replicated: primary a at ${URLS[a]} (replicas ${NAMES[*]:1}; data in $WORK); $BASELINE" >&2
IFS=',' read -r -a _wl <<<"$WORKLOADS"
measure write "${URLS[a]}" "${_wl[@]}"
if [ "$READS" = 1 ]; then
  IFS=',' read -r -a _wl <<<"$READ_WORKLOADS"
  echo "bench: replicated: reads through the primary a (${URLS[a]})" >&2
  measure primary "${URLS[a]}" "${_wl[@]}"
  echo "bench: replicated: reads through b (${URLS[b]}), which forwards them to a" >&2
  measure forwarded "${URLS[b]}" "${_wl[@]}"
fi

for n in "${NAMES[@]}"; do
  if ! node "$CLUSTER" endpoint --dir "$WORK" "$n" >/dev/null 2>&1; then
    echo "bench: node $n died during the run; last lines of its log:" >&2
    tail -n 50 "$WORK/$n/tandemd.log" >&2 || true
    [ "$RC" -ne 0 ] || RC=1
  fi
done
# Still in sync after the writes? (a replica dropped out of sync means a no longer mirrored)
if node "$TANDEMCTL" --endpoint "$ENDPOINT" "${CREDS[@]}" status --json >"$WORK/status.json" 2>/dev/null; then
  why=$(node "$HERE/report.mjs" in-sync "$WORK/status.json" "${NAMES[@]}") ||
    echo "bench: warning: after the run, $why (a replica fell out of sync: not every write was replicated)" >&2
fi

echo
if node "$HERE/report.mjs" tables "$OUT" ${TANDEM_BENCH_SINGLE_JSON:+"$TANDEM_BENCH_SINGLE_JSON"}; then
  echo "(replicated results: $OUT/{write,primary,forwarded}/WORKLOAD/perf.json)"
else
  echo "bench: no perf.json under $OUT (exit $RC)" >&2
  [ "$RC" -ne 0 ] || RC=1
fi
exit "$RC"
