"""End-to-end fixtures: the real native stack (supervisord + nginx + uvicorn, rendered by the same
scripts as `make run`) on free ports with a temporary DATA_DIR, a fake Ark server in front of it,
and headless Debian Chromium driven by Playwright. Never downloads a browser.

Run with `make test-e2e` (it installs nginx, chromium and builds the frontend first).
Screenshots land in e2e/artifacts/screenshots (printed at the end of the session).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BACKEND = REPO / "backend"
PYTHON = REPO / ".venv" / "bin" / "python"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOTS = REPO / "e2e" / "artifacts" / "screenshots"
ARK_KEY = "e2e-ark-key"
# The fake Ark answers after this long, so a task lasts long enough to watch its events stream.
ARK_LATENCY_MS = 1500
# Settings that must not leak from the developer's environment into the stack under test.
LEAKY_SETTINGS = re.compile(
    r"^(ARK_|VOLCENGINE_|VOLC_|VISUAL_|APP_PASSWORD|DATABASE_URL|DATA_DIR|OUTPUT_DIR|DEFAULT_MODEL|"
    r"RESULT_URL_HOSTS|CORS_ORIGINS|PORT|BIND|API_PORT|RUN_DIR|MAX_|SERVE_IMAGES|RUN_WORKER|ALLOWED_HOSTS|"
    r"TRUSTED_PROXIES|AUTH_FAILURES|REPLICAS|JOB_)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    base_url: str
    port: int
    data_dir: Path
    run_dir: Path
    ark_url: str
    api_port: int  # uvicorn, behind nginx

    def url(self, path: str) -> str:
        return self.base_url + path

    def get(self, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(self.url(path), headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def post_json(
        self, path: str, body: dict, headers: dict | None = None, method: str = "POST"
    ) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.url(path),
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def generate(
        self, prompt: str, model: str = "demo", timeout: float = 60.0, headers: dict | None = None, **extra: object
    ) -> dict:
        """Submit a text-to-image task through nginx (``extra``: more of the request body) and wait
        until it is finished."""
        status, body = self.post_json(
            "/api/v1/generate/text2image", {"model": model, "prompt": prompt, **extra}, headers
        )
        assert status == 202, body
        task_id = body["task_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, _, raw = self.get(f"/api/v1/tasks/{task_id}", headers)
            task = json.loads(raw)
            if task["status"] in ("completed", "failed", "cancelled"):
                assert task["status"] == "completed", task
                return task
            time.sleep(0.2)
        raise TimeoutError(f"task {task_id} did not finish within {timeout} s")


def _start_fake_ark(latency_ms: int = ARK_LATENCY_MS) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [str(PYTHON), "-m", "tests.fakes.ark", "--port", "0", "--api-key", ARK_KEY, "--latency-ms", str(latency_ms)],
        cwd=BACKEND,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("READY "):
                return proc, line.split(None, 1)[1].strip()
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("the fake Ark server did not start:\n" + "".join(seen))


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports (for REPLICAS: API_PORT, API_PORT + 1, ...)."""
    for _ in range(50):
        first = free_port()
        if first + count > 65535:
            continue
        socks = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports found")


@contextlib.contextmanager
def running_stack(ark_latency_ms: int = ARK_LATENCY_MS, **settings: str) -> Iterator[Stack]:
    """A native stack as `make run` starts it, with a fake Ark; `settings` go into its environment."""
    if not (BACKEND / "app" / "main.py").exists():
        pytest.skip("backend/app/main.py does not exist yet")
    if not (BACKEND / "tests" / "fakes" / "ark.py").exists():
        pytest.skip("backend/tests/fakes/ark.py does not exist yet")
    # Not pytest's tmp_path: that is private to its owner, and nginx's workers must read the images.
    root = Path(tempfile.mkdtemp(prefix="studio-e2e-"))
    root.chmod(0o755)
    data_dir, run_dir = root / "data", root / "run"
    fake, ark_url = _start_fake_ark(ark_latency_ms)
    port, api_port = free_port(), free_ports(int(settings.get("REPLICAS", "1")))
    env = {key: value for key, value in os.environ.items() if not LEAKY_SETTINGS.match(key)}
    env.update(
        PORT=str(port),
        BIND="127.0.0.1",
        API_PORT=str(api_port),
        DATA_DIR=str(data_dir),
        RUN_DIR=str(run_dir),
        STUDIO_ENV_FILE="",  # never the developer's .env (real keys)
        ARK_API_KEY=ARK_KEY,
        ARK_BASE_URL=ark_url,
        RESULT_URL_HOSTS="127.0.0.1",
        RETRY_BACKOFF_SCALE="0",
        LOG_LEVEL="INFO",
        HEALTH_TIMEOUT="90",
        **settings,
    )
    started = subprocess.run(
        [str(REPO / "scripts" / "run-local.sh")], env=env, capture_output=True, text=True, timeout=180
    )
    if started.returncode != 0:
        fake.kill()
        pytest.fail(f"the stack did not start:\n{started.stdout}\n{started.stderr}")
    print(f"\n[e2e] stack on http://127.0.0.1:{port} (data {data_dir}, logs {run_dir}/logs, fake Ark {ark_url})")
    try:
        yield Stack(f"http://127.0.0.1:{port}", port, data_dir, run_dir, ark_url, api_port)
    finally:
        subprocess.run(
            [str(REPO / "scripts" / "stop-local.sh")], env={**env, "RUN_DIR": str(run_dir)}, capture_output=True, timeout=120
        )
        fake.terminate()
        try:
            fake.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fake.kill()
        if os.environ.get("E2E_KEEP", "") == "":
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The default stack: no APP_PASSWORD, no ALLOWED_HOSTS."""
    with running_stack() as running:
        yield running


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/install-system-deps.sh chromium (make test-e2e does it)")
    if not (REPO / "frontend" / "dist" / "index.html").exists():
        pytest.skip("no frontend build (make frontend-build)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser, stack: Stack):
    """A fresh browser profile: Chinese, light theme, downloads allowed."""
    ctx = browser.new_context(
        base_url=stack.base_url,
        locale="zh-CN",
        color_scheme="light",
        viewport={"width": 1360, "height": 900},
        accept_downloads=True,
    )
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture(scope="session")
def screenshots() -> Iterator[Path]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield SCREENSHOTS
    count = len(list(SCREENSHOTS.glob("*.png")))
    print(f"\n[e2e] {count} screenshots in {SCREENSHOTS.resolve()}", file=sys.stderr)


def pytest_terminal_summary(terminalreporter) -> None:
    if SCREENSHOTS.exists():
        terminalreporter.write_line(f"e2e screenshots: {SCREENSHOTS.resolve()}")
