"""The separated layout (docker-compose.yml: nginx + backend replicas + PostgreSQL) run with podman:
`make image-test`, after `scripts/image.py separated` has built volcengine-backend and
volcengine-nginx (and, without a Docker engine, the PostgreSQL stand-in).

The committed compose file is copied into a folder of the test's own with a .env beside it, the
way a user sets the stack up, and run by tests/image/compose.py (plain podman commands, compose's
semantics). Tests in this file run in order on one stack; the last ones add and kill replicas.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from tests.deploy.conftest import REPO, free_port
from tests.image.compose import Stack, containers_conf, podman_environment, wait_until

sys.path.insert(0, str(REPO / "scripts"))
import image as image_script  # noqa: E402  (scripts/image.py: the stand-in's tag)

BACKEND_IMAGE = "volcengine-backend:latest"
NGINX_IMAGE = "volcengine-nginx:latest"
# What the stack must reach in a cold start here: PostgreSQL initialised, migrated, two replicas
# and nginx healthy.
HEALTHY_WITHIN = 90.0
# Short leases, so a killed replica's job is taken over in seconds (the default is 30 s).
LEASE_SECONDS = 6

pytestmark = pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed (make image-test)")


def request(
    port: int, path: str, body: dict | None = None, timeout: float = 15  # type: ignore[type-arg]
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"} if body is not None else {},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get_json(port: int, path: str) -> dict:  # type: ignore[type-arg]
    status, _, body = request(port, path)
    assert status == 200, (path, status, body[:300])
    return json.loads(body)


def submit(port: int, prompt: str) -> str:
    status, _, body = request(port, "/api/v1/generate/text2image", {"model": "demo", "prompt": prompt})
    assert status == 202, (status, body[:300])
    return str(json.loads(body)["task_id"])


def wait_for_task(port: int, task_id: str, timeout: float = 60.0) -> dict:  # type: ignore[type-arg]
    task: dict = {}  # type: ignore[type-arg]

    def finished() -> bool:
        nonlocal task
        status, _, body = request(port, f"/api/v1/tasks/{task_id}")
        # A 502 while nginx still has a dead replica's address is retried, as a browser's poll would.
        if status != 200:
            return False
        task = json.loads(body)
        return task["status"] in ("completed", "failed", "cancelled")

    wait_until(f"task {task_id}", finished, timeout, interval=0.3)
    return task


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    for image in (BACKEND_IMAGE, NGINX_IMAGE):
        if podman_probe("image", "exists", image) != 0:
            pytest.fail(f"no image {image}: run `python3 scripts/image.py separated` (make image-test) first")
    work = tmp_path_factory.mktemp("separated")
    conf = work / "containers.conf"
    conf.write_text(containers_conf(REPO / "scripts" / "podman" / "containers.conf", work / "networks"))
    (work / "networks").mkdir()
    project_dir = work / "project"
    project_dir.mkdir()
    shutil.copyfile(REPO / "docker-compose.yml", project_dir / "docker-compose.yml")
    # The user's .env: compose interpolates the file with it and hands it to the backends.
    settings = {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
        "PORT": str(free_port()),
        "NGINX_RESOLVER": "auto",
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    if not image_script.docker_answers():
        settings["POSTGRES_IMAGE"] = image_script.POSTGRES
    (project_dir / ".env").write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    box = Stack(
        project_dir / "docker-compose.yml",
        env=settings,
        podman_env=podman_environment(conf),
        project=f"studio-sep-{uuid.uuid4().hex[:8]}",
    )
    try:
        started = time.monotonic()
        box.up(timeout=HEALTHY_WITHIN)
        box.ready_after["all"] = time.monotonic() - started
        yield box
    finally:
        box.down()


def podman_probe(*args: str) -> int:
    return subprocess.run(["podman", *args], env=image_script.podman_env(), capture_output=True).returncode


def port_of(stack: Stack) -> int:
    return int(stack.env["PORT"])


def psql(stack: Stack, sql: str) -> str:
    [postgres] = stack.containers["postgres"]
    done = stack.podman("exec", postgres, "psql", "-U", "studio", "-d", "studio", "-tAc", sql)
    return done.stdout.strip()


def test_the_stack_comes_up_healthy_in_compose_order(stack: Stack) -> None:
    assert len(stack.containers["backend"]) == 2  # deploy.replicas (BACKEND_REPLICAS, default 2)
    [migrate] = stack.containers["migrate"]
    assert stack.state(migrate) == "exited" and stack.exit_code(migrate) == 0
    assert "prestart: alembic upgrade head" in stack.logs(migrate)
    for service in ("postgres", "backend", "nginx"):
        for container in stack.containers[service]:
            assert stack.healthy(container), container
    assert stack.ready_after["all"] < HEALTHY_WITHIN
    print("ready after: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stack.ready_after.items()))


def test_nginx_asks_the_networks_dns_for_the_replicas(stack: Stack) -> None:
    [nginx] = stack.containers["nginx"]
    written = stack.podman("exec", nginx, "cat", "/etc/nginx/studio/resolver.conf").stdout
    first = stack.podman("exec", nginx, "sh", "-c", "sed -n 's/^nameserver //p' /etc/resolv.conf | head -n 1")
    assert f"resolver {first.stdout.strip()} valid=10s ipv6=off;" in written
    # The backends' addresses under their service name, from inside nginx's container.
    addresses = stack.podman("exec", nginx, "getent", "ahostsv4", "backend").stdout
    replicas = {
        stack.podman("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout.strip()
        for name in stack.containers["backend"]
    }
    assert replicas <= {line.split()[0] for line in addresses.splitlines()}


def test_the_spa_and_the_api_answer_through_nginx(stack: Stack) -> None:
    port = port_of(stack)
    status, headers, body = request(port, "/")
    assert status == 200 and b'<div id="app"' in body
    assert headers["Content-Type"].startswith("text/html")
    assert get_json(port, "/health")["status"] == "healthy"
    assert request(port, "/api/v1/models")[0] == 200
    # Another host name is refused by nginx, as in the one image.
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": "studio.example.com"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=10)
    assert refused.value.code == 421


def test_a_generation_through_nginx_is_stored_in_postgresql_and_served_from_the_volume(stack: Stack) -> None:
    port = port_of(stack)
    task = wait_for_task(port, submit(port, "a lighthouse in the separated stack"))
    assert task["status"] == "completed", task
    [output] = task["outputs"]
    status, headers, body = request(port, output["url"])
    assert status == 200
    assert headers["Content-Type"] == output["content_type"]
    assert len(body) == output["bytes"]
    # nginx read it from the shared volume (read-only there), not through a backend.
    [nginx] = stack.containers["nginx"]
    relative = output["url"].split("/images/", 1)[1].split("?", 1)[0]
    size = stack.podman("exec", nginx, "stat", "-c", "%s", f"/app/data/output/{relative}").stdout.strip()
    assert int(size) == output["bytes"]
    assert psql(stack, f"SELECT status FROM tasks WHERE id = '{task['task_id']}'") == "completed"


def test_a_third_replica_is_added_and_takes_requests(stack: Stack) -> None:
    [third] = stack.scale("backend", 3)
    assert third.endswith("-backend-3")
    assert len(stack.containers["backend"]) == 3
    port = port_of(stack)
    # nginx looks the name up again within its resolver's 10 s: requests reach the new replica.
    marker = f"/api/v1/models?probe={uuid.uuid4().hex[:8]}"

    def served_by_third() -> bool:
        assert request(port, marker)[0] == 200
        return marker in stack.logs(third)

    took = wait_until("a request on the third replica", served_by_third, 30, interval=0.2)
    print(f"third replica served a request {took:.1f} s after it was healthy")


def test_a_replica_killed_mid_job_the_job_finishes_on_another(stack: Stack) -> None:
    port = port_of(stack)
    # [demo:slow] keeps the demo model busy for 3 s: long enough to kill its replica mid-run.
    task_id = submit(port, "[demo:slow] a job whose replica dies")
    owner = ""

    def leased() -> bool:
        nonlocal owner
        owner = psql(stack, f"SELECT coalesce(lease_owner, '') FROM tasks WHERE id = '{task_id}' AND status = 'processing'")
        return bool(owner)

    wait_until("the job to be claimed", leased, 15, interval=0.1)
    hosts = {stack.hostname(name): name for name in stack.containers["backend"]}
    [victim] = [name for host, name in hosts.items() if owner.startswith(f"w-{host}-")]
    # SIGKILL: no graceful hand-back of the job; removed at once, so restart policies bring it back
    # nowhere and only the others can finish the job.
    stack.podman("kill", victim)
    stack.podman("rm", "-f", "-t", "0", victim)
    stack.containers["backend"].remove(victim)
    killed_at = time.monotonic()

    # The lease is cleared when the job ends: the new owner is read while it runs (3 s again).
    owners_after: set[str] = set()

    def taken_over() -> bool:
        row = psql(stack, f"SELECT status || ' ' || coalesce(lease_owner, '') FROM tasks WHERE id = '{task_id}'")
        status, _, lease_owner = row.partition(" ")
        if lease_owner and lease_owner != owner:
            owners_after.add(lease_owner)
        return status in ("completed", "failed", "cancelled")

    wait_until("the job to end", taken_over, LEASE_SECONDS + 45, interval=0.1)
    took = time.monotonic() - killed_at
    task = get_json(port, f"/api/v1/tasks/{task_id}")
    assert task["status"] == "completed", task
    assert task["attempts"] == 2  # the killed run, then the one on another replica
    survivors = {stack.hostname(name) for name in stack.containers["backend"]}
    [finisher] = owners_after
    assert any(finisher.startswith(f"w-{host}-") for host in survivors), (finisher, survivors)
    # The image is there, through nginx.
    [output] = task["outputs"]
    assert request(port, output["url"])[0] == 200
    print(f"job finished {took:.1f} s after its replica was killed (lease {LEASE_SECONDS} s)")
