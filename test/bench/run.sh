#!/usr/bin/env bash
# npm run bench [-- PERF_ARGS...]
#
# Starts a fresh embedded tandemd (LUN 0 = sparse 1 GiB file in a new temp data dir, portal on a
# port the kernel picks), runs ../shared/tools/perf --vs-tgt against it with PERF_ARGS passed
# through (e.g. --seconds 2 --rounds 2), prints perf's table, stops tandemd and removes the data
# dir. Exits with perf's exit code. The npm script builds first; this script builds nothing.
#
# Environment:
#   TANDEM_PERF       the perf tool (default: ../shared/tools/perf next to the repository)
#   TANDEM_BENCH_DIR  parent of the temp dirs for tandemd's LUN file AND tgt's LUN file (perf
#                     --tmpdir), so both targets write to the same filesystem (default: $TMPDIR or /tmp)
#   TANDEM_LOG_LEVEL  tandemd's log level during the run (default: info)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PERF=${TANDEM_PERF:-$REPO_ROOT/../shared/tools/perf}
PARENT=${TANDEM_BENCH_DIR:-${TMPDIR:-/tmp}}
TANDEMD=$REPO_ROOT/dist/cmd/tandemd.js
TARGET=iqn.2026-11.org.tandem:demo

die() { echo "bench: $*" >&2; exit 2; }
[ -f "$PERF" ] || die "perf tool not found: $PERF (set TANDEM_PERF)"
PERF_CMD=("$PERF")
[ -x "$PERF" ] || PERF_CMD=(bash "$PERF")   # a copy that lost its execute bit
[ -f "$TANDEMD" ] || die "$TANDEMD not found: run 'npm run build' (npm run bench does)"
command -v tgtd >/dev/null 2>&1 || [ -x /usr/sbin/tgtd ] || die "tgtd not found: apt-get install tgt (perf --vs-tgt needs it)"
mkdir -p "$PARENT"

WORK=$(mktemp -d "$PARENT/tandem-bench.XXXXXX")
PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

node "$TANDEMD" --data-dir "$WORK/data" --listen 127.0.0.1:0 --admin 127.0.0.1:0 --log-level "${TANDEM_LOG_LEVEL:-info}" \
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
echo "bench: tandemd pid $PID at $URL (data in $WORK/data); baseline: tgt, LUN file under $PARENT" >&2

set +e
"${PERF_CMD[@]}" --vs-tgt --tmpdir "$PARENT" "$@" "$URL"
RC=$?
set -e

if ! kill -0 "$PID" 2>/dev/null; then
  echo "bench: tandemd died during the run:" >&2
  tail -n 50 "$WORK/tandemd.log" "$WORK/tandemd.err" >&2
  [ "$RC" -ne 0 ] || RC=1
fi
exit "$RC"
