#!/usr/bin/env bash
# Show the native stack of RUN_DIR (default ./run): where it runs, its programs and /health.
# The work is done by scripts/stackctl (commands.py); any python3 will do.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${VENV:-$ROOT/.venv}/bin/python
[ -x "$PY" ] || PY=python3
exec "$PY" "$ROOT/scripts/stackctl" status
