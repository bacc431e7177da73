"""The native stack (nginx + uvicorn under supervisord) for the benchmarks that need nginx.

Started with scripts/run-local.sh (what `make run` runs once its prerequisites are installed) in
a temp RUN_DIR and DATA_DIR, on free ports, ignoring .env; stopped with scripts/stop-local.sh,
which is registered as a cleanup on the owning ``Procs`` before the start, so Ctrl-C at any point
still stops it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from _common import ROOT, Procs, free_port
from _jobs import PROMPTS, submit_many, wait_finished


@dataclass
class Stack:
    origin: str  # nginx
    api_port: int
    run_dir: Path
    data_dir: Path
    started_s: float  # run-local.sh wall time

    def supervisord_pid(self) -> int | None:
        try:
            return int((self.run_dir / "supervisord.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def uvicorn_pid(self) -> int | None:
        from _common import tree_pids

        sup = self.supervisord_pid()
        if sup is None:
            return None
        for pid in tree_pids(sup):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"uvicorn" in cmd and b"app.main:app" in cmd:
                return pid
        return None


def stack_env(port: int, api_port: int, run_dir: Path, data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ARK_API_KEY", "VOLCENGINE_ACCESS_KEY", "VOLCENGINE_SECRET_KEY", "APP_PASSWORD", "DATABASE_URL",
                        "OUTPUT_DIR")}
    env.update({
        "PORT": str(port), "API_PORT": str(api_port), "RUN_DIR": str(run_dir), "DATA_DIR": str(data_dir),
        "STUDIO_ENV_FILE": "", "HEALTH_TIMEOUT": "90", "GENERATION_RATE_LIMIT_PER_MINUTE": "0",
    })
    env.update(settings)
    return env


def start_stack(procs: Procs, name: str = "stack", **settings: str) -> Stack:
    """The stack of `make run`; ``settings`` (APP_PASSWORD=...) go into its environment."""
    run_dir = procs.tmp / f"run-{name}"
    data_dir = procs.tmp / f"data-{name}"
    port, api_port = free_port(), free_port()
    env = stack_env(port, api_port, run_dir, data_dir, **settings)
    procs.cleanups.append(lambda: subprocess.run([str(ROOT / "scripts" / "stop-local.sh"), "--quiet"], env=env,
                                                 cwd=ROOT, timeout=60, capture_output=True))
    t0 = time.monotonic()
    result = subprocess.run([str(ROOT / "scripts" / "run-local.sh")], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=180)
    if result.returncode != 0:
        raise RuntimeError(f"run-local.sh failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return Stack(f"http://127.0.0.1:{port}", api_port, run_dir, data_dir, time.monotonic() - t0)


def seed_gallery(origin: str, n: int, size: str = "1024x1024") -> list[dict]:
    """``n`` completed demo tasks, made through nginx like a user would."""

    async def go() -> list[dict]:
        body = lambda i: {"model": "demo", "prompt": f"{PROMPTS[i % 4]} #{i}", "size": size}  # noqa: E731
        async with aiohttp.ClientSession() as session:
            sub = await submit_many(session, origin, body, n, 8)
            _, tasks = await wait_finished(session, origin, sub.ids, 180, interval=0.2)
            return tasks

    return asyncio.run(go())
