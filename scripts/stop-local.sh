#!/usr/bin/env bash
# Stop the native stack that scripts/run-local.sh started from RUN_DIR (default ./run):
# supervisord's shutdown stops nginx (gracefully, QUIT) and uvicorn (TERM), then supervisord exits;
# we wait for its pid to go. Only processes of this instance are touched, by pid.
#   --quiet   say nothing when it is not running
# The work is done by scripts/stackctl (commands.py); any python3 will do.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${VENV:-$ROOT/.venv}/bin/python
[ -x "$PY" ] || PY=python3
exec "$PY" "$ROOT/scripts/stackctl" stop "$@"
