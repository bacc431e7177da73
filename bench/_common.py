"""Shared machinery of the benchmark scripts (files starting with ``_`` are not run by ``make bench``).

Every script:
- uses 127.0.0.1 only, on ports the OS hands out;
- starts its own processes (fake upstream, uvicorn, supervisord) in their own process groups and
  kills them on exit, on Ctrl-C and on SIGTERM (``Procs`` + ``install_signal_handlers``);
- prints figures and never asserts; a target is reported as "met" / "MISSED".
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BACKEND = ROOT / "backend"
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
UVICORN = VENV / "bin" / "uvicorn"
HOST = "127.0.0.1"
if str(BACKEND) not in sys.path:
    sys.path.insert(0, str(BACKEND))  # `import app...` and `tests.fakes...` when run by hand


# --------------------------------------------------------------------------------------------
# Signals: turn SIGTERM into the same unwinding as Ctrl-C so ``finally`` blocks clean up.


def install_signal_handlers() -> None:
    def _raise(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGHUP, _raise)


# --------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Proc:
    """A child process in its own process group, stdout+stderr to a log file."""

    def __init__(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None,
                 cwd: Path = BACKEND, log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        full_env = {**os.environ, **(env or {})}
        self.started = time.monotonic()
        self.popen = subprocess.Popen(
            list(argv), cwd=cwd, env=full_env, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 8.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class Procs:
    """Owns the processes and the temp directory of one script run; ``with Procs() as p:``."""

    def __init__(self, prefix: str = "studio-bench-") -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=prefix))
        self.items: list[Proc] = []
        self.cleanups: list[Any] = []

    def __enter__(self) -> Procs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, name: str, argv: Sequence[str], **kw: Any) -> Proc:
        proc = Proc(name, argv, log_dir=self.tmp, **kw)
        self.items.append(proc)
        return proc

    def close(self) -> None:
        # Ignore a second Ctrl-C while cleaning up: leaving processes behind is worse.
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for fn in reversed(self.cleanups):
                with contextlib.suppress(Exception):
                    fn()
            for proc in reversed(self.items):
                with contextlib.suppress(Exception):
                    proc.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)
        finally:
            signal.signal(signal.SIGINT, old)

    # -- the two kinds of process every script needs -------------------------------------------
    def fake_ark(self, *, latency_ms: float = 0.0, api_key: str = "bench-key", name: str = "fake-ark",
                 photo_format: str | None = None, frame_delay: float = 0.0) -> str:
        """Start the fake Ark server; returns its base URL.

        ``photo_format`` ("jpeg" / "png"): photograph-like images at the requested size
        (tests/fakes/photos.py, rendered once and cached on disk) instead of flat 512 px JPEGs.
        ``frame_delay``: seconds between the frames of a streamed group.
        """
        argv = [str(PY), "-m", "tests.fakes.ark", "--port", "0", "--api-key", api_key, "--latency-ms", str(latency_ms)]
        if photo_format:
            argv += ["--photo-format", photo_format, "--max-image-side", "0"]
        if frame_delay:
            argv += ["--frame-delay", str(frame_delay)]
        proc = self.start(name, argv)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for line in proc.log_path.read_text(errors="replace").splitlines():
                if line.startswith("READY "):
                    return line.split(" ", 1)[1].strip()
            if not proc.alive():
                break
            time.sleep(0.05)
        raise RuntimeError(f"fake Ark did not start:\n{proc.tail()}")

    def backend(self, *, env: dict[str, str] | None = None, name: str = "uvicorn",
                data_dir: Path | None = None, timeout: float = 60.0) -> tuple[Proc, str]:
        """Start ``uvicorn app.main:app`` on a free port; returns (proc, origin) once healthy."""
        port = free_port()
        data_dir = data_dir or (self.tmp / f"data-{name}")
        base_env = {
            "DATA_DIR": str(data_dir),
            "GENERATION_RATE_LIMIT_PER_MINUTE": "0",  # the benchmark is one client sending hundreds
            "PYTHONUNBUFFERED": "1",
        }
        # Never inherit credentials or a stray DATABASE_URL from the caller's shell.
        clean = {k: "" for k in ("ARK_API_KEY", "VOLCENGINE_ACCESS_KEY", "VOLCENGINE_SECRET_KEY", "DATABASE_URL",
                                 "APP_PASSWORD", "OUTPUT_DIR")}
        proc = self.start(
            name,
            [str(UVICORN), "app.main:app", "--host", HOST, "--port", str(port), "--no-access-log",
             "--log-level", "warning"],
            env={**clean, **base_env, **(env or {})},
        )
        origin = f"http://{HOST}:{port}"
        wait_healthy(origin + "/health", timeout, proc)
        return proc, origin


def wait_healthy(url: str, timeout: float, proc: Proc | None = None) -> float:
    """Poll ``url`` until it answers 200 healthy; returns the seconds it took."""
    start = time.monotonic()
    last = "no answer"
    while time.monotonic() - start < timeout:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                body = json.loads(resp.read() or b"{}")
                if resp.status == 200 and body.get("status") == "healthy":
                    return time.monotonic() - start
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            last = str(exc)
        time.sleep(0.02)
    raise RuntimeError(f"{url} not healthy within {timeout} s ({last})" + (f"\n{proc.tail()}" if proc else ""))


# --------------------------------------------------------------------------------------------
# Memory


def proc_status_kb(pid: int, field: str) -> int | None:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (and its reaped children) has used, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    # fields[0] is field 3 (state): utime/stime are fields 14/15, cutime/cstime 16/17.
    ticks = sum(int(x) for x in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and of every live descendant (the image worker processes and their fork
    server are children of uvicorn that it never reaps, so ``cpu_seconds`` alone misses them)."""
    return sum(cpu_seconds(p) for p in tree_pids(pid))


def tree_pids(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn may fork reloaders; supervisord has children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


class RssSampler:
    """Samples VmRSS of a process every ``interval`` s in a thread; ``peak_mb`` also reads VmHWM."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = proc_status_kb(self.pid, "VmRSS")
            if rss:
                self.peak_kb = max(self.peak_kb, rss)
            self._stop.wait(self.interval)

    @property
    def peak_mb(self) -> float:
        hwm = proc_status_kb(self.pid, "VmHWM") or 0
        return max(self.peak_kb, hwm) / 1024


# --------------------------------------------------------------------------------------------
# Figures


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank-with-interpolation percentile (p in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "n/a"
    return "met" if ok else "MISSED"


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{_dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} | nproc {os.cpu_count()} | {cpu} | "
            f"Python {platform.python_version()} | load avg {load}")


def header(title: str) -> None:
    print(f"## {title}")
    print(f"   {machine()}")
    sys.stdout.flush()


def parse_iso(value: str | None) -> float | None:
    if not value:
        return None
    return _dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


# --------------------------------------------------------------------------------------------
# Machine-readable figures: ``make bench`` ends with a table of every such line (bench/_summary.py).


def bench_line(item: str, name: str, value: float | None, unit: str, target: str) -> None:
    """Print ``BENCH|<item>|<name>|<value>|<unit>|<target>`` on stdout.

    ``target`` is ``<= N``, ``>= N`` or ``-`` (no target); the summary judges the value by it.
    A value of None (the figure could not be measured) is printed as ``nan``.
    """
    shown = "nan" if value is None or value != value else f"{value:.4g}"
    for field_ in (item, name, unit, target):
        if "|" in field_ or "\n" in field_:
            raise ValueError(f"bench_line field {field_!r} contains | or a newline")
    print(f"BENCH|{item}|{name}|{shown}|{unit}|{target}", flush=True)


def load_test_module(name: str) -> Any:
    """A module of backend/tests (``pg``: the throw-away PostgreSQL cluster, ``s3server``: moto)
    loaded by path, without making the tests a package of the benchmarks."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "backend" / "tests" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
