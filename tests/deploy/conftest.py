"""Shared fixtures for the deployment checks (run from the repo root: `make test-config`)."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# scripts/stackctl is a package run as `python scripts/stackctl`; the tests import it by name.
sys.path.insert(0, str(REPO / "scripts"))
from stackctl.hosts import resolve_hosts  # noqa: E402
from stackctl.render import RenderPlan  # noqa: E402
from stackctl.render import render as render_plan  # noqa: E402
from stackctl.settings import API_PORT_OFFSET  # noqa: E402

VENV_PYTHON = REPO / ".venv" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_stack_port() -> int:
    """A free PORT for a stack left to its default API_PORT (PORT + API_PORT_OFFSET): that one
    must exist and be free too. A plain free port is anywhere in the ephemeral range (up to 60999
    here), and above 60535 stackctl rightly refuses the default (CI drew 60911)."""
    for _ in range(100):
        port = free_port()
        if port + API_PORT_OFFSET > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + API_PORT_OFFSET))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port with a free PORT + {API_PORT_OFFSET}")


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@pytest.fixture(scope="session")
def nginx_bin() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        if IN_CI:
            pytest.fail("nginx is not installed; in CI the config checks must run (scripts/install-system-deps.sh nginx)")
        pytest.skip("nginx is not installed here (make test-config installs it: scripts/install-system-deps.sh nginx)")
    return found


def render(
    run_dir: Path,
    *,
    nginx_bin: str,
    layout: str = "fullstack",
    port: int = 3000,
    api_port: int = 8000,
    data_dir: Path | None = None,
    html_dir: Path | None = None,
    app_user: str | None = None,
    allowed_hosts: str | None = None,
    replicas: int = 1,
) -> None:
    """A native run's configs in `run_dir`, as `make run` renders them; ALLOWED_HOSTS = `allowed_hosts`
    (None: the backend's default list)."""
    data_dir = data_dir or run_dir / "data"
    env = {key: value for key, value in os.environ.items() if key != "ALLOWED_HOSTS"}
    if allowed_hosts is not None:
        env["ALLOWED_HOSTS"] = allowed_hosts
    render_plan(
        RenderPlan(
            run_dir=run_dir,
            port=port,
            bind="127.0.0.1",
            api_port=api_port,
            data_dir=data_dir,
            output_dir=data_dir / "output",
            html_dir=html_dir or run_dir / "html",
            venv=REPO / ".venv",
            nginx_bin=nginx_bin,
            app_user=app_user,
            # Workers as root when the tests run as root: pytest's tmp folders are private to their owner.
            nginx_user="root" if os.geteuid() == 0 else None,
            layout=layout,
            host_map=resolve_hosts(VENV_PYTHON, env).nginx_map,
            replicas=replicas,
        )
    )
