# Sourced by test/bench/run.sh and test/bench/replicated.sh: the one long-running child of a
# bench script (perf, `cluster up`, replicated.sh), run so that an interrupt tears it down once.
# shellcheck shell=bash

CHILD=""

# Runs "$@" in the background in a session of its own and waits for it: a signal to this script
# runs the trap at once (bash defers traps while a foreground command runs), and the child gets
# exactly one SIGTERM, from stop_child (a second signal from Ctrl-C or a process-group kill would
# cut perf's own cleanup short and leave its tgtd running).
SETSID=()
if command -v setsid >/dev/null 2>&1; then SETSID=(setsid); fi
run() {
  local rc=0
  "${SETSID[@]}" "$@" &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=""
  return "$rc"
}

# From a cleanup trap: SIGTERM to the running child (perf stops its tgtd, `cluster up` and
# replicated.sh what they started) and wait for it.
stop_child() {
  if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
    kill -TERM "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
  fi
}
