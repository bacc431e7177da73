#!/usr/bin/env bash
# Stop the native stack that scripts/run-local.sh started from RUN_DIR (default ./run):
# `supervisorctl shutdown` stops nginx (gracefully, QUIT) and uvicorn (TERM), then supervisord
# exits; we wait for its pid to go. Only processes of this instance are touched, by pid.
#   --quiet   say nothing when it is not running
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN_DIR=$(realpath -m "${RUN_DIR:-$ROOT/run}")
VENV=${VENV:-$ROOT/.venv}
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1

pidfile=$RUN_DIR/supervisord.pid
conf=$RUN_DIR/supervisord.conf
not_running() {
  [ "$quiet" -eq 1 ] || echo "==> not running (no supervisord for $RUN_DIR)"
  rm -f "$pidfile" "$RUN_DIR/supervisord.sock"
  exit 0
}

[ -f "$pidfile" ] || not_running
pid=$(cat "$pidfile" 2>/dev/null || true)
case "$pid" in ''|*[!0-9]*) not_running ;; esac
# The pid must still be our supervisord, not a recycled pid of something else.
if ! kill -0 "$pid" 2>/dev/null || ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "supervisord.*$conf"; then
  not_running
fi

# Its programs, so that none can outlive it even if it has to be killed.
children=$(ps -o pid= --ppid "$pid" 2>/dev/null | tr -s ' \n' ' ' || true)

echo "==> stopping supervisord (pid $pid)"
if ! timeout 60 "$VENV/bin/supervisorctl" -c "$conf" shutdown >/dev/null 2>&1; then
  kill -TERM "$pid" 2>/dev/null || true
fi
for _ in $(seq 1 600); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  echo "==> supervisord did not stop within 60 s; killing it and its programs" >&2
  kill -KILL "$pid" 2>/dev/null || true
fi
for child in $children; do
  if kill -0 "$child" 2>/dev/null; then
    kill -TERM -- "-$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null || true
  fi
done
rm -f "$pidfile" "$RUN_DIR/supervisord.sock"
echo "==> stopped"
