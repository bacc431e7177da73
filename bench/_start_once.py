"""One start of the backend, for paired A/B timing from outside (e.g. ``/usr/bin/time -v``):
start ``uvicorn app.main:app``, poll ``/health`` every 10 ms until healthy, stop it with SIGTERM.

Prints ``healthy_s=<seconds> rss_mb=<VmRSS at healthy>``. ``--app-dir`` points at another
checkout's ``backend`` (run with this venv) to compare two versions of the code on the same
interpreter and packages; ``--data-dir`` reused between runs measures a restart (schema current).

Run: .venv/bin/python bench/_start_once.py --data-dir /tmp/startup-data [--app-dir /tmp/base/backend]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from _common import BACKEND, HOST, UVICORN, free_port, proc_status_kb, wait_healthy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app-dir", type=Path, default=BACKEND)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--idle", type=float, default=0.0, help="seconds to stay up after healthy (RSS at the end)")
    args = parser.parse_args()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("ARK_API_KEY", "VOLCENGINE_ACCESS_KEY",
                                                            "VOLCENGINE_SECRET_KEY", "DATABASE_URL", "APP_PASSWORD")}
    env["DATA_DIR"] = str(args.data_dir)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [str(UVICORN), "app.main:app", "--app-dir", str(args.app_dir), "--host", HOST, "--port", str(port),
         "--no-access-log", "--log-level", "warning"],
        cwd=args.app_dir, env=env,
    )
    try:
        wait_healthy(f"http://{HOST}:{port}/health", 60)
        healthy_s = time.monotonic() - t0
        time.sleep(args.idle)
        rss = (proc_status_kb(proc.pid, "VmRSS") or 0) / 1024
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    print(f"healthy_s={healthy_s:.3f} rss_mb={rss:.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
