"""Scale-out as users run it: `make run REPLICAS=3` on PostgreSQL, one nginx in front.

300 jobs against the fake Ark (1 s latency) through nginx; one replica is SIGKILLed while they run.
Every job completes exactly once, the upstream is called at most once per job plus the calls the
killed replica had in flight, the history lists 300, and a live channel held on one replica sees
the completions of jobs that the others ran (PostgreSQL LISTEN/NOTIFY). Prints the figures.

With STUDIO_TEST_STORAGE=s3 (`make test-s3`) the same stack keeps its images in a bucket of an
S3-compatible test server (moto) instead: the same checks, plus every image in the bucket and served
by a redirect to a presigned URL that the page's CSP allows.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from e2e.conftest import BACKEND, REPO, Stack, running_stack

JOBS = 300
REPLICAS = 3
LEASE_SECONDS = 4
MAX_CONCURRENT_JOBS = 16
ON_S3 = os.environ.get("STUDIO_TEST_STORAGE", "local") == "s3"


def _load_cluster() -> Any:
    return _load("pg")


def _load(name: str) -> Any:
    # backend/tests/<name>.py, by path: the repository's own tests/ package shadows backend's here.
    spec = importlib.util.spec_from_file_location(f"studio_backend_{name}", BACKEND / "tests" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    import asyncio

    pg = _load_cluster()
    cluster = pg.Cluster()
    try:
        cluster.start()
    except pg.ClusterUnavailable as exc:
        pytest.fail(f"PostgreSQL is needed (scripts/install-system-deps.sh postgresql): {exc}")
    try:
        # On a thread of its own: Playwright's sync API may hold this thread's event loop.
        with ThreadPoolExecutor(1) as one:
            one.submit(asyncio.run, cluster._admin("CREATE DATABASE studio")).result()
        yield cluster.url("studio")
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def bucket() -> Iterator[Any]:
    """(server, config) of an empty bucket with STUDIO_TEST_STORAGE=s3, else None."""
    if not ON_S3:
        yield None
        return
    server = _load("s3server").MotoServer()
    server.start()
    try:
        config = server.config(addressing="path")
        server.create_bucket(config)
        yield server, config
    finally:
        server.stop()


@pytest.fixture(scope="module")
def replicated(pg_url: str, bucket: Any) -> Iterator[Stack]:
    storage = bucket[0].env(bucket[1]) if bucket is not None else {}
    with running_stack(
        **storage,
        ark_latency_ms=1000,
        REPLICAS=str(REPLICAS),
        DATABASE_URL=pg_url,
        JOB_LEASE_SECONDS=str(LEASE_SECONDS),
        MAX_CONCURRENT_JOBS=str(MAX_CONCURRENT_JOBS),
        GENERATION_RATE_LIMIT_PER_MINUTE="0",
    ) as stack:
        yield stack


def _supervisorctl(stack: Stack, *args: str) -> str:
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "supervisorctl"), "-c", str(stack.run_dir / "supervisord.conf"), *args],
        capture_output=True, text=True, timeout=30,
    )
    return done.stdout


def _fake_calls(stack: Stack) -> int:
    origin = stack.ark_url.split("/api/", 1)[0]  # the fake's control routes live at its root
    with urllib.request.urlopen(origin + "/_fake/stats?bodies=0", timeout=10) as resp:
        stats = json.loads(resp.read())
    return int(stats["actions"].get("images.generations", 0))


class LiveChannel(threading.Thread):
    """GET /api/v1/events on one replica directly; records when each task was seen completed."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.completed: dict[str, float] = {}
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with urllib.request.urlopen(self.url, timeout=120) as resp:
                self.ready.set()
                event, data = "", ""
                for raw in resp:
                    line = raw.decode().rstrip("\r\n")
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data = line[5:].strip()
                    elif not line and event == "task" and data:
                        task = json.loads(data)
                        if task["status"] == "completed":
                            self.completed.setdefault(task["task_id"], time.monotonic())
                        event, data = "", ""
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def test_status_names_every_replica(replicated: Stack) -> None:
    env = {**os.environ, "RUN_DIR": str(replicated.run_dir)}
    shown = subprocess.run(
        [str(REPO / "scripts" / "status-local.sh")], env=env, capture_output=True, text=True, timeout=60
    ).stdout
    for index in range(REPLICAS):
        assert f"uvicorn-{index}" in shown
        assert f"127.0.0.1:{replicated.api_port + index}/health healthy" in shown, shown
    assert "REPLICAS=3" in shown


def test_three_replicas_lose_nothing_when_one_is_killed(replicated: Stack, bucket: Any) -> None:
    calls_before = _fake_calls(replicated)
    channel = LiveChannel(f"http://127.0.0.1:{replicated.api_port}/api/v1/events")
    channel.start()
    assert channel.ready.wait(30), channel.error

    def submit(i: int) -> str:
        status, body = replicated.post_json("/api/v1/generate/text2image", {"model": "doubao-seedream-4-0-250828",
                                                                            "prompt": f"replica job {i}"})
        assert status == 202, body
        return str(body["task_id"])

    begun = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(submit, range(JOBS)))
    submitted = time.monotonic() - begun
    assert len(set(ids)) == JOBS

    # Kill the last replica (not the one holding the live channel) while jobs run on it.
    time.sleep(1.5)
    victim = int(_supervisorctl(replicated, "pid", f"uvicorn-{REPLICAS - 1}").strip())
    in_flight_at_kill = _fake_calls(replicated) - calls_before
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()

    deadline = time.monotonic() + 120
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        pending = [i for i in ids if statuses.get(i) not in ("completed", "failed", "cancelled")]
        if not pending:
            break
        for task_id in pending[:60]:
            _, _, raw = replicated.get(f"/api/v1/tasks/{task_id}")
            statuses[task_id] = json.loads(raw)["status"]
        time.sleep(0.3)
    total = time.monotonic() - begun
    done_after_kill = time.monotonic() - killed_at
    assert [i for i in ids if statuses.get(i) != "completed"] == []

    calls = _fake_calls(replicated) - calls_before
    # At most one call per job, plus those the killed replica had in flight (no checkpoint yet).
    assert JOBS <= calls <= JOBS + MAX_CONCURRENT_JOBS, calls

    # The history shows each job once.
    _, _, raw = replicated.get("/api/v1/history?page_size=100&q=replica%20job")
    listed: list[str] = []
    page = json.loads(raw)
    listed += [item["task_id"] for item in page["items"]]
    cursor_page = 2
    while len(listed) < page["total"]:
        _, _, raw = replicated.get(f"/api/v1/history?page_size=100&page={cursor_page}&q=replica%20job")
        listed += [item["task_id"] for item in json.loads(raw)["items"]]
        cursor_page += 1
    assert page["total"] == JOBS
    assert sorted(listed) == sorted(ids)

    # The live channel on replica 0 saw every completion, most of them run by the other replicas.
    deadline = time.monotonic() + 10
    while len(channel.completed) < JOBS and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(channel.completed) >= set(ids), (len(channel.completed), channel.error)

    # The killed replica was restarted by supervisord.
    assert "RUNNING" in _supervisorctl(replicated, "status", f"uvicorn-{REPLICAS - 1}")

    print(
        f"\n[replicas] {JOBS} jobs, {REPLICAS} replicas on PostgreSQL, fake Ark 1 s: submitted in {submitted:.2f} s, "
        f"all done in {total:.2f} s ({JOBS / total:.1f} jobs/s); upstream calls {calls} "
        f"({calls - JOBS} repeated; {in_flight_at_kill} calls made when uvicorn-{REPLICAS - 1} was killed); "
        f"last job done {done_after_kill:.2f} s after the kill (lease {LEASE_SECONDS} s)"
    )
    if bucket is not None:
        _check_the_bucket(replicated, bucket, ids)


def _check_the_bucket(stack: Stack, bucket: Any, ids: list[str]) -> None:
    """Every image of the run is an object (none on disk), served through nginx by a redirect to a
    presigned URL of the bucket, which the page's CSP allows."""
    from app.core.images import sniff_image_type
    from app.storage.s3 import S3Client

    _server, config = bucket
    client = S3Client(config)
    try:
        keys = [found.key for found in client.list_objects("output/")]
    finally:
        client.close()
    images = [key for key in keys if ".thumb." not in key]
    assert len(images) == JOBS, len(images)
    assert not list((stack.data_dir / "output").rglob("*.png")) if (stack.data_dir / "output").exists() else True
    _, _, raw = stack.get(f"/api/v1/tasks/{ids[0]}")
    url = json.loads(raw)["outputs"][0]["url"]

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(stack.base_url + url, timeout=10)
        raise AssertionError("expected a redirect")
    except urllib.error.HTTPError as answer:
        assert answer.code == 302, answer.code
        location = answer.headers["Location"]
    assert location.startswith(config.endpoint + "/") and "X-Amz-Signature=" in location
    with urllib.request.urlopen(location, timeout=10) as image:
        assert sniff_image_type(image.read()) is not None
    try:
        with urllib.request.urlopen(stack.base_url + "/", timeout=10) as page:
            csp = page.headers["Content-Security-Policy"]
    except urllib.error.HTTPError as missing:  # no frontend/dist built: the headers are the same
        csp = missing.headers["Content-Security-Policy"]
    assert f"img-src 'self' data: blob: {config.endpoint};" in csp, csp
