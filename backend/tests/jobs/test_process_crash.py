"""A real uvicorn process is SIGKILLed with a job in flight; after a restart the job completes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _start(port: int, data_dir: Path, extra_args: list[str] | None = None) -> subprocess.Popen[bytes]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ARK_", "VOLCENGINE_", "DATABASE_URL", "APP_PASSWORD"))
    }
    env.update(DATA_DIR=str(data_dir), LOG_LEVEL="WARNING", MIN_FREE_DISK_MB="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port), *(extra_args or [])],
        cwd=BACKEND,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _until(lambda: _healthy(port), 30, "backend did not become healthy")
    return proc


def _healthy(port: int) -> bool:
    try:
        return _request(f"http://127.0.0.1:{port}/health")["status"] == "healthy"
    except OSError:
        return False


def _until(check, timeout: float, message: str) -> None:  # type: ignore[no-untyped-def]
    # Polling a separate process is the only way to observe it; the deadline bounds the test.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(message)


def test_sigkill_mid_job_then_restart_completes(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(port, tmp_path)
    try:
        slow = _request(f"{base}/api/v1/generate/text2image", {"model": "demo", "prompt": "slow [demo:slow]", "width": 256, "height": 256})
        queued = [
            _request(f"{base}/api/v1/generate/text2image", {"model": "demo", "prompt": f"p{i}", "width": 256, "height": 256})
            for i in range(3)
        ]
        _until(
            lambda: _request(f"{base}/api/v1/tasks/{slow['task_id']}")["status"] == "processing",
            10,
            "job never started",
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc = _start(port, tmp_path)
        ids = [slow["task_id"], *(q["task_id"] for q in queued)]
        _until(
            lambda: all(_request(f"{base}/api/v1/tasks/{i}")["status"] in ("completed", "failed") for i in ids),
            30,
            "jobs did not finish after the restart",
        )
        tasks = [_request(f"{base}/api/v1/tasks/{i}") for i in ids]
        assert [t["status"] for t in tasks] == ["completed"] * 4
        assert tasks[0]["attempts"] == 2
        files = sorted((tmp_path / "output").rglob("*.png"))
        assert len(files) == 4  # one image per job, none twice, no orphans
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
