"""Real processes for the crash and soak tests: the fakes and uvicorn, started and watched from
outside the way an operator would (HTTP and the SQLite file), never through in-process state."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

BACKEND = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(url: str, body: Any = None, *, method: str | None = None, timeout: float = 10) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def until(check: Callable[[], Any], timeout: float, message: str, interval: float = 0.02) -> Any:
    # Polling a separate process is the only way to observe it; the deadline bounds the test.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(message)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ARK_", "VOLCENGINE_", "VISUAL_", "DATABASE_URL", "APP_PASSWORD", "RESULT_URL"))
    }
    env.update(extra)
    return env


class Fake:
    """``python -m tests.fakes.<kind>`` as a process; ``base_url`` from its READY line."""

    def __init__(self, kind: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"tests.fakes.{kind}", "--port", "0", *args],
            cwd=BACKEND,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("READY "):
            self.stop()
            raise AssertionError(f"fake {kind} did not start: {line!r}")
        self.base_url = line.split(" ", 1)[1]
        origin = self.base_url.split("/api/")[0]
        self.origin = origin.rstrip("/")

    def stats(self, bodies: bool = False) -> dict[str, Any]:
        return http(f"{self.origin}/_fake/stats?bodies={int(bodies)}")[1]

    def faults(self, items: list[dict[str, Any]]) -> None:
        http(f"{self.origin}/_fake/faults", items)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Backend:
    """uvicorn app.main:app on a free port; restartable on the same port and data."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 40) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(self.port),
             "--no-access-log"],
            cwd=BACKEND,
            env=self.env,
            stdout=log,
            stderr=log,
        )
        log.close()
        self.starts += 1
        until(self.healthy, timeout, f"backend did not become healthy; see {self.log_path}", interval=0.05)

    def healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"backend exited with {self.proc.returncode}; see {self.log_path}")
        status, _ = http(f"{self.base}/health", timeout=2)
        return status == 200

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read the live SQLite database directly (WAL allows it while the app writes)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()
