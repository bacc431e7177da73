"""Benchmark 6: start-up time and idle memory.

a) supervisord start -> /health healthy through nginx: scripts/run-local.sh (what `make run` runs)
   is started with a temp RUN_DIR / DATA_DIR; the clock starts when it prints "starting
   supervisord" (after rendering the configs and `nginx -t`) and stops at the first healthy
   /health through nginx (polled every 20 ms). First run on an empty DATA_DIR (migrations run),
   then restarts on the same data. Target <= 3 s.
b) uvicorn alone (`uvicorn app.main:app`): process start -> healthy, on a fresh DATA_DIR (migrations
   run) and restarted on the same data (schema current: recognised without importing Alembic).
   Target (issue 12, item 5) <= 0.5 s.
c) Idle RSS of the backend (VmRSS of the uvicorn process 3 s after healthy, and its VmHWM).
   Target <= 80 MB. Prints `BENCH|12.5|<name>|<value>|<unit>|<target>` lines.

Byte-code: with PYTHONDONTWRITEBYTECODE=1 in the environment and a venv installed with
--no-compile (`make venv`), every start compiles every module again (1-2 s here); the image
compiles at build time. Run `python -m compileall` on the venv and backend/app first to measure
what a deployment sees.

Run: cd backend && ../.venv/bin/python ../bench/startup.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
import urllib.request

from _common import ROOT, Procs, free_port, header, install_signal_handlers, percentile, proc_status_kb, table, verdict
from _stack import stack_env


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200 and json.loads(resp.read()).get("status") == "healthy"
    except (OSError, ValueError):
        return False


def supervised_start(procs: Procs, run_dir, data_dir, port: int, api_port: int) -> tuple[float, float, int | None]:
    """Returns (seconds supervisord start -> healthy, run-local.sh wall seconds, uvicorn pid)."""
    env = stack_env(port, api_port, run_dir, data_dir)
    t_script = time.monotonic()
    proc = subprocess.Popen([str(ROOT / "scripts" / "run-local.sh")], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    t_super = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if "starting supervisord" in line:
            t_super = time.monotonic()
            break
    if t_super is None:
        proc.wait(30)
        raise RuntimeError("run-local.sh did not start supervisord")
    url = f"http://127.0.0.1:{port}/health"
    while not healthy(url):
        if time.monotonic() - t_super > 90:
            raise RuntimeError("not healthy within 90 s")
        time.sleep(0.02)
    t_healthy = time.monotonic()
    proc.communicate(timeout=120)
    from _stack import Stack

    pid = Stack("", api_port, run_dir, data_dir, 0).uvicorn_pid()
    return t_healthy - t_super, time.monotonic() - t_script, pid


def stop(env: dict[str, str]) -> None:
    subprocess.run([str(ROOT / "scripts" / "stop-local.sh"), "--quiet"], env=env, cwd=ROOT, timeout=60, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--restarts", type=int, default=3)
    args = parser.parse_args()
    install_signal_handlers()
    header("Start-up and idle memory")
    rows = []
    with Procs() as procs:
        run_dir, data_dir = procs.tmp / "run", procs.tmp / "data"
        port, api_port = free_port(), free_port()
        env = stack_env(port, api_port, run_dir, data_dir)
        procs.cleanups.append(lambda: stop(env))
        idle = hwm = float("nan")
        for i in range(1 + args.restarts):
            secs, script_s, pid = supervised_start(procs, run_dir, data_dir, port, api_port)
            if i == 0 and pid:
                time.sleep(3)
                idle = (proc_status_kb(pid, "VmRSS") or 0) / 1024
                hwm = (proc_status_kb(pid, "VmHWM") or 0) / 1024
            rows.append(["supervisord -> healthy (nginx)", "empty DATA_DIR" if i == 0 else "restart, same data",
                         f"{secs:.2f}", f"{script_s:.2f}", verdict(secs <= 3)])
            stop(env)
        alone, again, alone_rss = [], [], []
        for i in range(3):
            t0 = time.monotonic()
            p, _ = procs.backend(name=f"uvicorn-alone-{i}")
            alone.append(time.monotonic() - t0)
            p.stop()
        for i in range(3):
            t0 = time.monotonic()
            p, _ = procs.backend(name=f"uvicorn-again-{i}", data_dir=procs.tmp / "data-uvicorn-alone-0")
            again.append(time.monotonic() - t0)
            time.sleep(3)
            alone_rss.append((proc_status_kb(p.pid, "VmRSS") or 0) / 1024)
            p.stop()
    fresh_s, restart_s, rss = percentile(alone, 50), percentile(again, 50), percentile(alone_rss, 50)
    rows.append(["uvicorn alone -> healthy", "empty DATA_DIR (p50 of 3)", f"{fresh_s:.2f}", "", ""])
    rows.append(["uvicorn alone -> healthy", "restart, same data (p50 of 3)", f"{restart_s:.2f}", "", ""])
    print(table(rows, ["what", "data", "seconds", "run-local.sh total s", "<=3 s"]))
    print(f"  backend idle RSS {idle:.0f} MB (VmHWM so far {hwm:.0f} MB), 3 s after healthy, under supervisord;"
          f" uvicorn alone {rss:.0f} MB")
    print(f"BENCH|12.5|start to healthy (uvicorn, restart)|{restart_s:.2f}|s|<=0.5")
    print(f"BENCH|12.5|start to healthy (uvicorn, empty data)|{fresh_s:.2f}|s|<=0.5")
    print(f"BENCH|12.5|idle RSS (uvicorn)|{rss:.0f}|MB|<=80")


if __name__ == "__main__":
    main()
