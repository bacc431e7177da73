"""`make run` / `restart` / `stop` on a real native stack, through the scripts make calls
(scripts/run-local.sh, stop-local.sh): one stack per RUN_DIR, refused at once while it runs or
starts, and a restart that comes back where the stack was."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from stackctl.instance import Instance
from stackctl.rpc import Supervisor
from stackctl.settings import resolve

from .conftest import REPO, free_port, free_stack_port

RUN_LOCAL = REPO / "scripts" / "run-local.sh"
STOP_LOCAL = REPO / "scripts" / "stop-local.sh"
# "At once": the refusal must not wait for anything (the old second `make run` waited 120 s).
AT_ONCE = 3.0
# Settings that must not leak from the developer's environment into the stacks under test.
LEAKY = re.compile(
    r"^(ARK_|VOLCENGINE_|VOLC_|VISUAL_|APP_PASSWORD|DATABASE_URL|DATA_DIR|OUTPUT_DIR|PORT|BIND|API_PORT|RUN_DIR)"
)
# What a `make run` still starting looks like to another: stackctl's lock, held, naming its holder.
HOLD_LOCK = """
import fcntl, os, sys, time
fd = open(sys.argv[1], "a")
fcntl.flock(fd, fcntl.LOCK_EX)
fd.truncate(0)
fd.write(f"{os.getpid()} run\\n")
fd.flush()
print("locked", flush=True)
time.sleep(60)
"""


def clean_env(run_dir: Path, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not LEAKY.match(key)}
    # No .env (real keys); uvicorn as whoever runs the tests (no user to create); a quick verdict.
    env.update(RUN_DIR=str(run_dir), STUDIO_ENV_FILE="", STUDIO_USER="", HEALTH_TIMEOUT="60", **settings)
    return env


def run_local(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run([str(RUN_LOCAL), *args], env=env, capture_output=True, text=True, timeout=150)
    return result, time.monotonic() - started


def healthy(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture
def need_stack_tools(nginx_bin: str) -> None:
    if not (REPO / ".venv" / "bin" / "supervisord").exists():
        pytest.skip("no .venv with supervisord (make venv)")


def test_run_refuses_at_once_while_another_run_holds_the_lock(tmp_path: Path) -> None:
    """A `make run` still starting (it holds RUN_DIR/stack.lock) makes a second one refuse at once,
    naming the PORT and DATA_DIR of the stack being started."""
    run_dir = tmp_path / "run"
    instance = Instance(run_dir)
    run_dir.mkdir()
    instance.write_state(resolve({"PORT": "3377", "DATA_DIR": "/srv/first"}))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(instance.lock_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        env = clean_env(run_dir, PORT=str(free_stack_port()), DATA_DIR=str(tmp_path / "second"))
        for args in ((), ("--check",)):
            result, took = run_local(env, *args)
            assert result.returncode == 1, result.stdout + result.stderr
            assert took < AT_ONCE, took
            assert f"another run of {run_dir} is under way (pid {holder.pid})" in result.stderr
            assert "PORT=3377" in result.stderr and "DATA_DIR=/srv/first" in result.stderr
        assert not (tmp_path / "second").exists()  # nothing was started or created
    finally:
        holder.kill()
        holder.wait()
        subprocess.run([str(STOP_LOCAL), "--quiet"], env=clean_env(run_dir), capture_output=True, timeout=120)


@dataclass
class Stack:
    root: Path
    run_dir: Path
    data_dir: Path
    port: int
    bind: str

    @property
    def instance(self) -> Instance:
        return Instance(self.run_dir)

    def uvicorn_environ(self) -> dict[str, str]:
        pid = {p["name"]: p["pid"] for p in Supervisor(self.instance.socket).processes()}["uvicorn"]
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.fixture(scope="module")
def stack(nginx_bin: str) -> Iterator[Stack]:
    """A stack started like `make run PORT=<port> BIND=127.0.0.2 DATA_DIR=<dir>`."""
    if not (REPO / ".venv" / "bin" / "supervisord").exists():
        pytest.skip("no .venv with supervisord (make venv)")
    # Not pytest's tmp_path: that is private to its owner, and nginx's workers must read the images.
    root = Path(tempfile.mkdtemp(prefix="studio-stack-"))
    root.chmod(0o755)
    stack = Stack(root, root / "run", root / "data", free_stack_port(), "127.0.0.2")
    env = clean_env(stack.run_dir, PORT=str(stack.port), BIND=stack.bind, DATA_DIR=str(stack.data_dir))
    result, _ = run_local(env)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield stack
    finally:
        subprocess.run([str(STOP_LOCAL)], env=clean_env(stack.run_dir), capture_output=True, timeout=120)
        subprocess.run(["rm", "-rf", str(root)], check=False)


def test_second_run_refuses_at_once_naming_the_running_stack(stack: Stack) -> None:
    pid = stack.instance.supervisord_pid()
    assert pid is not None
    # A bare second `make run`, and one with other settings: both refused, the stack left alone.
    for settings in ({}, {"PORT": str(free_stack_port()), "DATA_DIR": str(stack.root / "other")}):
        result, took = run_local(clean_env(stack.run_dir, **settings))
        assert result.returncode == 1, result.stdout + result.stderr
        assert took < AT_ONCE, took
        assert "already running" in result.stderr
        assert f"PORT={stack.port}" in result.stderr and f"DATA_DIR={stack.data_dir}" in result.stderr
        assert stack.instance.supervisord_pid() == pid
        assert healthy(stack.bind, stack.port)
    assert not (stack.root / "other").exists()


def demo_image(stack: Stack) -> tuple[str, bytes]:
    """Generate one demo image through the stack; its URL and bytes."""
    base = f"http://{stack.bind}:{stack.port}"
    request = urllib.request.Request(
        f"{base}/api/v1/generate/text2image",
        data=json.dumps({"model": "demo", "prompt": "restart keeps me"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        task_id = json.loads(resp.read())["task_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/v1/tasks/{task_id}", timeout=10) as resp:
            task = json.loads(resp.read())
        if task["status"] == "completed":
            url = task["outputs"][0]["url"]
            with urllib.request.urlopen(f"{base}{url}", timeout=10) as resp:
                return url, resp.read()
        time.sleep(0.2)
    raise AssertionError(f"the demo task did not complete: {task}")


def test_restart_comes_back_with_the_port_bind_and_data_dir_it_was_given(stack: Stack) -> None:
    before = stack.instance.supervisord_pid()
    # A real image in the history (a stray file with no history would rightly stop the start-up).
    image_url, image_bytes = demo_image(stack)

    # a bare `make restart`: nothing given now
    result, _ = run_local(clean_env(stack.run_dir), "--restart")
    assert result.returncode == 0, result.stdout + result.stderr
    after = stack.instance.supervisord_pid()
    assert after is not None and after != before
    assert healthy(stack.bind, stack.port)  # same BIND and PORT ...
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", stack.port)) != 0  # ... and not the default address
    assert stack.uvicorn_environ()["DATA_DIR"] == str(stack.data_dir)  # same data for the API ...
    with urllib.request.urlopen(f"http://{stack.bind}:{stack.port}{image_url}", timeout=5) as resp:
        assert resp.read() == image_bytes  # ... and for nginx


def test_restart_takes_a_setting_given_again_and_keeps_the_others(stack: Stack) -> None:
    port = free_port()
    result, _ = run_local(clean_env(stack.run_dir, PORT=str(port)), "--restart")
    assert result.returncode == 0, result.stdout + result.stderr
    assert healthy(stack.bind, port) and not healthy(stack.bind, stack.port)
    assert stack.uvicorn_environ()["DATA_DIR"] == str(stack.data_dir)
    stack.port = port
    # and the next bare restart keeps the new PORT
    result, _ = run_local(clean_env(stack.run_dir), "--restart")
    assert result.returncode == 0, result.stdout + result.stderr
    assert healthy(stack.bind, port)


def test_run_fails_at_once_when_its_port_is_taken(tmp_path: Path, need_stack_tools: None) -> None:
    """nginx binds the port it was given; that it could not is read from its state, not a log."""
    root = Path(tempfile.mkdtemp(prefix="studio-taken-"))
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result, took = run_local(
                clean_env(root / "run", PORT=str(port), API_PORT=str(free_port()), DATA_DIR=str(root / "data"))
            )
        assert result.returncode == 1
        assert took < 30, took  # not the health timeout (60 s here)
        assert f"PORT {port} is in use by pid {os.getpid()} " in result.stderr
        assert "stopped it again" in result.stderr
        assert Instance(root / "run").supervisord_pid() is None
    finally:
        subprocess.run([str(STOP_LOCAL), "--quiet"], env=clean_env(root / "run"), capture_output=True, timeout=120)
        subprocess.run(["rm", "-rf", str(root)], check=False)


def test_a_stack_port_leaves_room_for_the_default_api_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI drew PORT=60911 for a stack left to API_PORT = PORT + 5000, and stackctl refused it."""
    from . import conftest

    draws = iter([60911, 65000, *range(41000, 41100)])  # the first free PORT + 5000 from 46000 on
    monkeypatch.setattr(conftest, "free_port", lambda: next(draws))
    assert 41000 <= conftest.free_stack_port() < 41100
