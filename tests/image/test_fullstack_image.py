"""The built one image (volcengine-fullstack), run with podman: `make image-test`.

Each container is started on a volume (a host folder) and published with `-p PORT:80`; requests
go to 127.0.0.1 (a loopback name: the studio answers other names only when ALLOWED_HOSTS has them).
Tests in this file run in order on one container (`studio`); the last ones restart or break it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.deploy.conftest import REPO, free_port
from tests.image.compose import wait_until

IMAGE = os.environ.get("STUDIO_IMAGE", "volcengine-fullstack:latest")
CONTAINERS_CONF = REPO / "scripts" / "podman" / "containers.conf"
HEALTHY_WITHIN = 30.0
APP_UID = 1000

pytestmark = pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed (make image-test)")


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    done = subprocess.run(["podman", *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


@dataclass
class Container:
    volume: Path
    extra: list[str] = field(default_factory=list)
    name: str = field(default_factory=lambda: f"studio-test-{uuid.uuid4().hex[:8]}")
    port: int = field(default_factory=free_port)
    healthy_after: float = 0.0

    def start(self) -> Container:
        podman(
            "run", "-d", "--name", self.name, "-p", f"127.0.0.1:{self.port}:80",
            "-v", f"{self.volume}:/app/data", *self.extra, IMAGE,
        )
        started = time.monotonic()
        try:
            wait_until(f"{self.name} healthy", self.healthy, HEALTHY_WITHIN)
        except TimeoutError:
            raise AssertionError(f"not healthy within {HEALTHY_WITHIN:g} s:\n{self.logs()}") from None
        self.healthy_after = time.monotonic() - started
        return self

    def healthy(self) -> bool:
        # The image's own HEALTHCHECK command, run now rather than at its 30 s interval.
        if self.state() not in ("running", ""):
            raise AssertionError(f"{self.name} is {self.state()}:\n{self.logs()}")
        return podman("healthcheck", "run", self.name, check=False).returncode == 0

    def state(self) -> str:
        return podman("inspect", "--format", "{{.State.Status}}", self.name, check=False).stdout.strip()

    def exec(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, *args, check=check)

    def logs(self) -> str:
        done = podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def remove(self) -> None:
        podman("rm", "-f", "-t", "5", self.name, check=False)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.url(path), headers={"Host": host} if host else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def get_json(self, path: str) -> dict:  # type: ignore[type-arg]
        status, _, body = self.get(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def generate(self, prompt: str, timeout: float = 60.0) -> dict:  # type: ignore[type-arg]
        request = urllib.request.Request(
            self.url("/api/v1/generate/text2image"),
            data=json.dumps({"model": "demo", "prompt": prompt}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.status == 202
            task_id = json.loads(resp.read())["task_id"]
        task: dict = {}  # type: ignore[type-arg]

        def finished() -> bool:
            nonlocal task
            task = self.get_json(f"/api/v1/tasks/{task_id}")
            return task["status"] in ("completed", "failed", "cancelled")

        wait_until(f"task {task_id}", finished, timeout)
        assert task["status"] == "completed", task
        return task

    def supervisor_status(self) -> dict[str, str]:
        out = self.exec("supervisorctl", "status", check=False).stdout
        return {line.split()[0]: line.split()[1] for line in out.splitlines() if line.strip()}

    def uvicorn_pid(self) -> int:
        return int(self.exec("supervisorctl", "pid", "uvicorn").stdout.strip())


@pytest.fixture(scope="module")
def volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("studio-data")


@pytest.fixture(scope="module")
def studio(volume: Path) -> Iterator[Container]:
    if podman("image", "exists", IMAGE, check=False).returncode != 0:
        pytest.fail(f"no image {IMAGE}: run `make image` first")
    box = Container(volume)
    try:
        yield box.start()
    finally:
        box.remove()


@pytest.fixture(scope="module")
def demo_task(studio: Container) -> dict:  # type: ignore[type-arg]
    return studio.generate("a lighthouse in the image test")


def test_the_image_keeps_its_healthcheck() -> None:
    """Built `--format docker`: the OCI format would have dropped HEALTHCHECK silently."""
    config = json.loads(podman("image", "inspect", IMAGE).stdout)[0]
    check = config.get("Healthcheck") or config.get("Config", {}).get("Healthcheck")
    assert check and "/health" in " ".join(check["Test"])


def test_healthy_by_its_own_healthcheck_within_30s(studio: Container) -> None:
    assert studio.healthy()
    assert studio.healthy_after < HEALTHY_WITHIN
    print(f"healthy after {studio.healthy_after:.1f} s")


def test_the_spa_loads_through_the_published_port(studio: Container) -> None:
    status, headers, body = studio.get("/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b'<div id="app"' in body
    assert studio.get("/", host="localhost")[0] == 200
    # A name not on ALLOWED_HOSTS is refused, by nginx and the API alike.
    assert studio.get("/", host="studio.example.com")[0] == 421
    assert studio.get("/api/v1/models", host="studio.example.com")[0] == 421


def test_a_demo_generation_completes_and_nginx_serves_its_image(
    studio: Container, volume: Path, demo_task: dict  # type: ignore[type-arg]
) -> None:
    [output] = demo_task["outputs"]
    status, headers, body = studio.get(output["url"])
    assert status == 200
    assert headers["Content-Type"] == output["content_type"]
    assert len(body) == output["bytes"]
    stored = list((volume / "output").rglob("*.*"))
    assert any(p.stat().st_size == output["bytes"] for p in stored), stored


def test_uvicorn_runs_as_app_and_nginx_workers_as_www_data(studio: Container) -> None:
    rows = [line.split(None, 1) for line in podman("top", studio.name, "user", "args").stdout.splitlines()[1:]]
    users = {args.strip(): user for user, args in rows}
    [uvicorn_user] = {u for a, u in users.items() if "uvicorn" in a}
    assert uvicorn_user == "app"
    assert {u for a, u in users.items() if a.startswith("nginx: worker")} == {"www-data"}
    assert {u for a, u in users.items() if a.startswith("nginx: master")} == {"root"}


def test_supervisorctl_status_shows_both_running(studio: Container) -> None:
    # Healthy comes first: supervisord counts uvicorn RUNNING only after its startsecs (5 s).
    both = {"uvicorn": "RUNNING", "nginx": "RUNNING", "exit-on-fatal": "RUNNING"}
    wait_until("all RUNNING", lambda: studio.supervisor_status() == both, 10)


def test_logs_reach_podman_logs(studio: Container) -> None:
    logs = studio.logs()
    assert "success: uvicorn entered RUNNING state" in logs
    assert "success: nginx entered RUNNING state" in logs
    assert "Application startup complete" in logs  # uvicorn's own output


def test_uvicorn_killed_inside_is_restarted_by_supervisor(studio: Container) -> None:
    before = studio.uvicorn_pid()
    studio.exec("sh", "-c", f"kill -9 {before}")  # the shell's kill: no procps here
    wait_until(
        "uvicorn back", lambda: studio.supervisor_status().get("uvicorn") == "RUNNING" and studio.healthy(), 30
    )
    assert studio.uvicorn_pid() != before
    assert "exited: uvicorn (terminated by SIGKILL" in studio.logs()


def test_recreated_on_the_same_volume_keeps_history_and_images(
    studio: Container, demo_task: dict  # type: ignore[type-arg]
) -> None:
    studio.remove()
    studio.name = f"studio-test-{uuid.uuid4().hex[:8]}"
    studio.start()
    task = studio.get_json(f"/api/v1/tasks/{demo_task['task_id']}")
    assert task["status"] == "completed"
    history = studio.get_json("/api/v1/history")
    assert demo_task["task_id"] in [item["task_id"] for item in history["items"]]
    [output] = task["outputs"]
    assert not output["missing"]
    assert studio.get(output["url"])[0] == 200


def test_a_volume_owned_by_another_uid_is_taken_over(tmp_path: Path) -> None:
    data = tmp_path / "foreign"
    (data / "output").mkdir(parents=True)
    (data / "output" / "old.txt").write_text("left by someone else")
    for path in (data, data / "output", data / "output" / "old.txt"):
        os.chown(path, 4321, 4321)
    box = Container(data)
    try:
        box.start()
        for path in (data, data / "output", data / "output" / "old.txt", data / "uploads"):
            assert path.stat().st_uid == APP_UID, path
        assert box.generate("written by app into a volume that was not theirs")["status"] == "completed"
    finally:
        box.remove()


def test_a_program_that_keeps_failing_takes_the_container_down(tmp_path: Path) -> None:
    box = Container(tmp_path)
    try:
        box.start()
        # uvicorn can no longer start: supervisor's retries end FATAL, and exit-on-fatal stops it all.
        box.exec("chmod", "-x", "/opt/venv/bin/uvicorn")
        box.exec("sh", "-c", f"kill -9 {box.uvicorn_pid()}")
        wait_until("the container to exit", lambda: box.state() == "exited", 60, interval=0.5)
        logs = box.logs()
        assert "gave up: uvicorn entered FATAL state" in logs
        assert "exit-on-fatal: uvicorn entered FATAL" in logs
    finally:
        box.remove()
