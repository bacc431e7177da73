"""One native stack = one RUN_DIR: its lock, its recorded settings, its supervisord.

    RUN_DIR/stack.lock       flock'ed by whoever starts, restarts or stops this stack, for as long
                             as that takes; it holds that process's pid and command, for messages
    RUN_DIR/stack.json       the settings of the last start (settings.py), written before
                             supervisord starts, so a refusal can name them while it is starting
    RUN_DIR/supervisord.pid  written by supervisord; alive = that pid runs supervisord with our config

The lock serialises starts and stops; whether a stack runs is the live supervisord, not the lock,
so a stack whose starter was killed is still seen (and a stale pid file is not mistaken for one).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .settings import StackSettings


class LockTimeout(Exception):
    pass


@dataclass
class Lock:
    """An flock held on RUN_DIR/stack.lock; released by release() or when the process ends."""

    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the only descriptor releases the flock
            self.fd = -1

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def process_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie no longer does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def children(pid: int) -> list[int]:
    """The direct children of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[-1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class Instance:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.lock_path = run_dir / "stack.lock"
        self.state_path = run_dir / "stack.json"
        self.pidfile = run_dir / "supervisord.pid"
        self.socket = run_dir / "supervisord.sock"
        self.supervisord_conf = run_dir / "supervisord.conf"
        self.logs = run_dir / "logs"
        self.nginx_conf = run_dir / "nginx" / "nginx.conf"

    # --- the lock ---------------------------------------------------------------------------------

    def lock(self, *, wait: float = 0.0, purpose: str = "") -> Lock | None:
        """The lock, or None when another process holds it after `wait` seconds."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {purpose}\n".encode(), 0)
        return Lock(fd)

    def lock_holder(self) -> str:
        """'<pid> <what>' of the process holding the lock (or that last held it)."""
        try:
            return self.lock_path.read_text().strip()
        except OSError:
            return ""

    # --- recorded settings ------------------------------------------------------------------------

    def write_state(self, settings: StackSettings) -> None:
        state = {
            "given": dict(settings.given),
            "resolved": settings.resolved(),
            "url": settings.url,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "started_by": os.getpid(),
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.state_path)

    def read_state(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def recorded_given(self) -> Mapping[str, str]:
        state = self.read_state() or {}
        given = state.get("given")
        return {k: v for k, v in given.items() if isinstance(v, str)} if isinstance(given, dict) else {}

    def describe_recorded(self) -> str:
        """'http://127.0.0.1:3300: PORT=3300 ... DATA_DIR=/tmp/x' of the last start, or that it is unknown."""
        state = self.read_state() or {}
        resolved = state.get("resolved")
        if not isinstance(resolved, dict):
            return f"its settings are unknown (no {self.state_path.name})"
        return (
            f"{state.get('url', '?')}: PORT={resolved.get('PORT')} BIND={resolved.get('BIND') or '*'} "
            f"API_PORT={resolved.get('API_PORT')} DATA_DIR={resolved.get('DATA_DIR')}"
            + (f" REPLICAS={resolved['REPLICAS']}" if resolved.get("REPLICAS", "1") != "1" else "")
        )

    # --- supervisord ------------------------------------------------------------------------------

    def supervisord_pid(self) -> int | None:
        """The pid of this RUN_DIR's supervisord while it runs; None otherwise (stale pid files included)."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        if not process_alive(pid):
            return None
        args = " ".join(cmdline(pid))
        # The pid must still be our supervisord, not a recycled pid of something else.
        if "supervisord" not in args or str(self.supervisord_conf) not in args:
            return None
        return pid

    def forget_supervisord(self) -> None:
        for path in (self.pidfile, self.socket):
            path.unlink(missing_ok=True)
