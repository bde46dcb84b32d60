#!/usr/bin/env bash
# Quick start: installs what Tandem needs, builds it and starts one embedded node in the
# background: target iqn.2026-11.org.tandem:demo on 127.0.0.1:3260, LUN 0 = a sparse 1 GiB file
# ./data/lun0.img (created on first start, reused after). Returns once the node is ready.
#
#   ./deploy/quickstart.sh               install + build + (re)start in the background
#   ./deploy/quickstart.sh --foreground  install + build + run in this terminal (Ctrl-C stops)
#   ./deploy/quickstart.sh stop          stop the background node (SIGTERM, graceful)
#   ./deploy/quickstart.sh status        is it running?
#
# Environment: TANDEM_LISTEN (default 127.0.0.1:3260), TANDEM_DATA_DIR (default ./data),
# TANDEM_NO_APT=1 to skip the Debian packages (the initiator tools used to try the target).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
LISTEN=${TANDEM_LISTEN:-127.0.0.1:3260}
DATA_DIR=${TANDEM_DATA_DIR:-./data}
PIDFILE=$DATA_DIR/tandemd.pid
LOGFILE=$DATA_DIR/tandemd.log
URL_TARGET=iqn.2026-11.org.tandem:demo

running_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid=$(cat "$PIDFILE")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q tandemd "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

stop_node() {
  local pid
  if pid=$(running_pid); then
    echo "stopping tandemd (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then echo "tandemd did not stop within 15 s; sending SIGKILL" >&2; kill -KILL "$pid"; fi
  fi
  rm -f "$PIDFILE"
}

MODE=background
case "${1:-}" in
  stop) stop_node; exit 0 ;;
  status)
    if pid=$(running_pid); then echo "tandemd running (pid $pid), log $LOGFILE"; exit 0; fi
    echo "tandemd not running"; exit 3 ;;
  --foreground|-f) MODE=foreground ;;
  "") ;;
  -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--foreground | stop | status]" >&2; exit 2 ;;
esac

# ---- what it needs --------------------------------------------------------------------------
command -v node >/dev/null 2>&1 || { echo "quickstart: Node.js 20 or later is required (not found)" >&2; exit 2; }
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || { echo "quickstart: Node.js $(node --version) is too old: 20 or later" >&2; exit 2; }

if [ "${TANDEM_NO_APT:-0}" != 1 ] && command -v apt-get >/dev/null 2>&1; then
  # Initiators to try the target with (iscsi-ls, iscsi-inq, qemu-io). Tandem itself needs none.
  missing=()
  for p in libiscsi-bin qemu-utils qemu-block-extra; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=()
    [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
    echo "==> apt-get install ${missing[*]}"
    "${SUDO[@]}" apt-get update -q </dev/null
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
  fi
fi

echo "==> npm ci"
npm ci --no-audit --no-fund </dev/null
echo "==> npm run build"
npm run build --silent

# ---- start ----------------------------------------------------------------------------------
mkdir -p "$DATA_DIR"
stop_node
ARGS=(--initial-heap-size=128 dist/cmd/tandemd.js --listen "$LISTEN" --data-dir "$DATA_DIR")
if [ "$MODE" = foreground ]; then
  echo "==> node ${ARGS[*]}   (Ctrl-C stops it)"
  exec node "${ARGS[@]}"
fi

echo "==> starting tandemd in the background (log: $LOGFILE)"
: >"$LOGFILE"
setsid nohup node "${ARGS[@]}" >>"$LOGFILE" 2>&1 </dev/null &
echo $! >"$PIDFILE"
for _ in $(seq 1 200); do
  if grep -q '"event":"ready"' "$LOGFILE" 2>/dev/null; then
    HOSTPORT=${LISTEN}
    cat <<MSG

Tandem is running (pid $(cat "$PIDFILE")): target $URL_TARGET on $HOSTPORT, LUN 0 = $DATA_DIR/lun0.img
  iscsi-ls -s iscsi://$HOSTPORT
  iscsi-inq iscsi://$HOSTPORT/$URL_TARGET/0
  iscsi-readcapacity16 iscsi://$HOSTPORT/$URL_TARGET/0
Stop it with: ./deploy/quickstart.sh stop      Log: $LOGFILE
MSG
    exit 0
  fi
  if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "quickstart: tandemd exited before it was ready:" >&2
    tail -n 20 "$LOGFILE" >&2
    rm -f "$PIDFILE"
    exit 1
  fi
  sleep 0.1
done
echo "quickstart: tandemd not ready after 20 s; see $LOGFILE" >&2
exit 1
