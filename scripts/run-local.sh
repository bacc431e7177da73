#!/usr/bin/env bash
# Start the whole stack natively (nginx + uvicorn under supervisord) and return once /health is
# healthy; `make run` calls this after it has installed what is missing (venv, frontend build, nginx).
#   scripts/run-local.sh             start; refuse at once while this RUN_DIR's stack runs or starts
#   scripts/run-local.sh --restart   stop and start again with the PORT, BIND, DATA_DIR, OUTPUT_DIR
#                                    and API_PORT it was given, unless given again now
#   scripts/run-local.sh --check     only say whether `run` would refuse (any python3 will do)
#
# Settings, first found wins: the environment, then (--restart) the running stack's, then .env
# (STUDIO_ENV_FILE; empty = none), then:
#   PORT=3000              nginx's port
#   BIND=127.0.0.1         nginx's address (0.0.0.0 to let other machines in: set APP_PASSWORD then,
#                          and ALLOWED_HOSTS for the names they reach it by)
#   DATA_DIR=./data        database, images and uploads (OUTPUT_DIR: images, default DATA_DIR/output)
#   API_PORT=PORT+5000     uvicorn's port on 127.0.0.1 (8000 for the default PORT)
#   RUN_DIR=./run          rendered configs, lock, recorded settings, pid file, socket and logs
#   STUDIO_USER=studio     unprivileged user for uvicorn when started as root ('' = keep root)
#   HEALTH_TIMEOUT=120     seconds to wait for /health
# Everything else in the environment (ARK_API_KEY, ...) reaches the backend unchanged.
# The work is done by scripts/stackctl (commands.py).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${VENV:-$ROOT/.venv}/bin/python
command=run
case "${1:-}" in
  "") ;;
  --restart) command=restart ;;
  --check) command=check; [ -x "$PY" ] || PY=python3 ;;
  *) echo "usage: $0 [--restart|--check]" >&2; exit 2 ;;
esac
[ -x "$PY" ] || command -v "$PY" >/dev/null || { echo "run-local: no virtual environment at ${VENV:-$ROOT/.venv} (run: make venv)" >&2; exit 1; }
exec "$PY" "$ROOT/scripts/stackctl" "$command"
