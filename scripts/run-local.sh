#!/usr/bin/env bash
# Start the whole stack natively (nginx + uvicorn under supervisord) and return once /health is
# healthy. `make run` calls this after it has installed what is missing (venv, frontend build, nginx).
#
# Settings, first found wins: the environment, then .env (STUDIO_ENV_FILE; empty = none), then:
#   PORT=3000              nginx's port
#   BIND=127.0.0.1         nginx's address (0.0.0.0 to let other machines in: set APP_PASSWORD then)
#   DATA_DIR=./data        database, images and uploads
#   RUN_DIR=./run          rendered configs, pid files, socket and logs of this instance
#   API_PORT=8000          uvicorn's port on 127.0.0.1 (another free one is taken if 8000 is busy)
#   STUDIO_USER=studio     unprivileged user for uvicorn when started as root ('' = keep root)
#   HEALTH_TIMEOUT=120     seconds to wait for /health
# Everything else in the environment (ARK_API_KEY, ...) reaches the backend unchanged.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VENV=${VENV:-$ROOT/.venv}
PY=$VENV/bin/python

say() { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'run-local: %s\n' "$*" >&2; exit 1; }

[ -x "$PY" ] || die "no virtual environment at $VENV (run: make venv)"
[ -x "$VENV/bin/supervisord" ] || die "supervisord is missing from $VENV (run: make venv)"

# --- settings: environment, then .env, then defaults ------------------------------------------
ENV_FILE=${STUDIO_ENV_FILE-$ROOT/.env}
if [ -n "$ENV_FILE" ] && [ -f "$ENV_FILE" ]; then
  # Only names not already in the environment (empty counts as unset), shell-quoted by Python.
  exports=$("$PY" - "$ENV_FILE" <<'PYEOF'
import os, shlex, sys
from dotenv import dotenv_values
for key, value in dotenv_values(sys.argv[1]).items():
    if value is not None and key.isidentifier() and not os.environ.get(key):
        print(f"export {key}={shlex.quote(value)}")
PYEOF
) || die "cannot read $ENV_FILE"
  eval "$exports"
  say "settings from $ENV_FILE (the environment wins over it)"
fi

PORT=${PORT:-3000}
BIND=${BIND:-127.0.0.1}
DATA_DIR=$(realpath -m "${DATA_DIR:-$ROOT/data}")
RUN_DIR=$(realpath -m "${RUN_DIR:-$ROOT/run}")
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-120}
STUDIO_USER=${STUDIO_USER-studio}
HTML_DIR=$ROOT/frontend/dist
OUTPUT_DIR=$(realpath -m "${OUTPUT_DIR:-$DATA_DIR/output}")
export DATA_DIR
export OUTPUT_DIR

# --- a previous instance of this RUN_DIR goes first -----------------------------------------
RUN_DIR=$RUN_DIR "$ROOT/scripts/stop-local.sh" --quiet

port_free() { "$PY" -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind((sys.argv[1], int(sys.argv[2])))
except OSError: sys.exit(1)' "$1" "$2"; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

port_free "${BIND:-0.0.0.0}" "$PORT" || die "port $PORT is already in use ($(ss -ltnpH "sport = :$PORT" 2>/dev/null | head -n 1 || true)); choose another: make run PORT=3100"
if [ -z "${API_PORT:-}" ]; then
  API_PORT=8000
  port_free 127.0.0.1 "$API_PORT" || API_PORT=$(free_port)
fi
port_free 127.0.0.1 "$API_PORT" || die "API_PORT $API_PORT is already in use"

[ -f "$HTML_DIR/index.html" ] || warn "no frontend build at $HTML_DIR (run: make frontend-build); only the API will work"
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX_BIN" ] || die "nginx is not installed (run: make run, or scripts/install-system-deps.sh nginx)"

mkdir -p "$DATA_DIR" "$OUTPUT_DIR" "$RUN_DIR"

# --- users: uvicorn unprivileged, nginx workers as www-data, when we are root -----------------
APP_USER=""
NGINX_USER=""
if [ "$(id -u)" -eq 0 ]; then
  as_user() { local user=$1; shift; runuser -u "$user" -- "$@"; }
  NGINX_USER=www-data
  id -u www-data >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /var/www --shell /usr/sbin/nologin www-data

  if [ -n "$STUDIO_USER" ]; then
    if ! id -u "$STUDIO_USER" >/dev/null 2>&1; then
      useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$STUDIO_USER"
    fi
    # Can that user run our Python and read the code? Not when either lives in a folder private to
    # root (a checkout under /root, or pyenv's interpreter under /root/.pyenv).
    if (cd "$ROOT/backend" && as_user "$STUDIO_USER" "$PY" -c 'import uvicorn, app' >/dev/null 2>&1); then
      # The data belongs to the user who writes it; only what is not already theirs is changed.
      find "$DATA_DIR" "$OUTPUT_DIR" ! -user "$STUDIO_USER" -exec chown "$STUDIO_USER:$STUDIO_USER" {} + 2>/dev/null || true
      if as_user "$STUDIO_USER" test -w "$DATA_DIR" -a -w "$OUTPUT_DIR"; then
        APP_USER=$STUDIO_USER
      else
        warn "uvicorn runs as root: user '$STUDIO_USER' cannot write $DATA_DIR (a folder on the way is private)"
      fi
    else
      interpreter=$(readlink -f "$PY")
      warn "uvicorn runs as root: user '$STUDIO_USER' cannot run $PY -> $interpreter or read $ROOT/backend"
      warn "  (a folder on the way is private to root). To run it unprivileged, keep the checkout and"
      warn "  the Python it was made with where other users can read them (e.g. /srv, /opt, /usr/bin/python3)."
    fi
  fi

  # nginx workers read the SPA and the images themselves.
  for path in "$HTML_DIR" "$OUTPUT_DIR"; do
    if [ -d "$path" ] && ! as_user www-data test -r "$path" -a -x "$path"; then
      warn "nginx workers run as root: www-data cannot read $path (a folder on the way is private)"
      NGINX_USER=root
    fi
  done
fi

# --- render and start --------------------------------------------------------------------------
"$PY" "$ROOT/scripts/render-configs.py" \
  --run-dir "$RUN_DIR" --port "$PORT" --bind "$BIND" --api-port "$API_PORT" \
  --data-dir "$DATA_DIR" --output-dir "$OUTPUT_DIR" --html-dir "$HTML_DIR" --venv "$VENV" \
  --app-user "$APP_USER" --nginx-user "$NGINX_USER" --nginx-bin "$NGINX_BIN" >/dev/null
"$NGINX_BIN" -t -q -c "$RUN_DIR/nginx/nginx.conf" -e stderr || die "nginx rejects the rendered config ($RUN_DIR/nginx)"

say "starting supervisord (nginx on ${BIND:-*}:$PORT, uvicorn on 127.0.0.1:$API_PORT as ${APP_USER:-$(id -un)}, data in $DATA_DIR)"
rm -f "$RUN_DIR"/logs/*.log
"$VENV/bin/supervisord" -c "$RUN_DIR/supervisord.conf"

# --- wait for /health --------------------------------------------------------------------------
HOST=$BIND
case "$HOST" in ""|0.0.0.0) HOST=127.0.0.1 ;; ::|"[::]") HOST="[::1]" ;; esac
URL="http://$HOST:$PORT"
if ! "$PY" - "$URL/health" "$RUN_DIR/supervisord.pid" "$HEALTH_TIMEOUT" "$RUN_DIR/logs/supervisord.log" "$API_PORT" <<'PYEOF'
import json, os, re, socket, sys, time, urllib.request, urllib.error
url, pidfile, timeout, supervisor_log = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
api_port = int(sys.argv[5])
started = time.monotonic()
deadline = started + timeout
last = "no answer yet"
while time.monotonic() < deadline:
    # A program that crashes before the stack is healthy is not going to get better by waiting
    # (supervisord would restart it until exit-on-fatal gives up, minutes later).
    try:
        crashed = re.search(r"exited: (\S+) \(.*not expected\)", open(supervisor_log).read())
    except OSError:
        crashed = None
    if crashed:
        print(f"{crashed.group(1)} exited during start-up", file=sys.stderr)
        sys.exit(1)
    try:
        pid = int(open(pidfile).read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        # The pid file appears a moment after the daemon forks; give it that moment.
        if time.monotonic() > started + 5:
            print(f"supervisord is gone ({last})", file=sys.stderr)
            sys.exit(1)
    try:
        # Ask through nginx only once uvicorn listens (no 502s in nginx's log while it starts).
        socket.create_connection(("127.0.0.1", api_port), timeout=1).close()
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = json.loads(resp.read() or b"{}")
            if resp.status == 200 and body.get("status") == "healthy":
                sys.exit(0)
            last = f"HTTP {resp.status} {body.get('status')}"
    except urllib.error.HTTPError as exc:
        last = f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        last = str(exc)
    time.sleep(0.2)
print(f"no healthy answer from {url} within {timeout:g} s ({last})", file=sys.stderr)
sys.exit(1)
PYEOF
then
  echo "---- last lines of the logs in $RUN_DIR/logs ----" >&2
  for log in "$RUN_DIR"/logs/*.log; do
    [ -s "$log" ] || continue
    echo "---- $log" >&2
    tail -n 40 "$log" >&2
  done
  RUN_DIR=$RUN_DIR "$ROOT/scripts/stop-local.sh" --quiet || true
  die "the stack did not become healthy; stopped it again"
fi

shown=$URL
case "$HOST" in 127.0.0.1|"[::1]") shown="http://localhost:$PORT" ;; esac
say "healthy: $shown  (logs: $RUN_DIR/logs, status: make status, stop: make stop)"
if [ -z "${ARK_API_KEY:-}" ] && [ -z "${VOLCENGINE_ACCESS_KEY:-}${VOLC_ACCESSKEY:-}" ]; then
  say "no Volcengine credentials configured: the offline demo model is the default (see .env.example)"
elif [ -z "${APP_PASSWORD:-}" ] && [ "$HOST" != 127.0.0.1 ] && [ "$HOST" != "[::1]" ]; then
  warn "credentials are configured, no APP_PASSWORD is set and nginx listens on $BIND: anyone who can reach port $PORT can spend the account's credit"
fi
