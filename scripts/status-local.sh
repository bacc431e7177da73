#!/usr/bin/env bash
# Show the native stack of RUN_DIR (default ./run): supervisorctl status and /health.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN_DIR=$(realpath -m "${RUN_DIR:-$ROOT/run}")
VENV=${VENV:-$ROOT/.venv}

if [ ! -S "$RUN_DIR/supervisord.sock" ]; then
  echo "not running (no supervisord socket in $RUN_DIR)"
  exit 0
fi
"$VENV/bin/supervisorctl" -c "$RUN_DIR/supervisord.conf" status || true
port=$(sed -nE 's/^ *listen ([0-9.]+:)?([0-9]+) .*/\2/p' "$RUN_DIR/nginx/conf.d/default.conf" | head -n 1)
echo "GET http://127.0.0.1:$port/health"
"$VENV/bin/python" - "http://127.0.0.1:$port/health" <<'PYEOF'
import sys, urllib.error, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())
except urllib.error.HTTPError as exc:
    print(exc.code, exc.read().decode())
except OSError as exc:
    print(exc)
PYEOF
