"""Shared fixtures: an app per test on its own temp DATA_DIR, driven in-process.

The worker never runs in the background here: tests call ``run_jobs()`` (burst mode), which
returns once every runnable job has finished, so nothing sleeps waiting for a job.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from app.core.config import Settings
from app.jobs.queue import JobQueue
from app.main import create_app
from app.models.base import utcnow
from app.models.task import Task, TaskStatus
from app.services.container import Services
from tests.pg import Cluster
from tests.s3server import MotoServer

# `make test-pg` sets this: every app a test builds runs on a fresh PostgreSQL database.
ON_POSTGRES = os.environ.get("STUDIO_TEST_DB", "sqlite") == "postgresql"
# `make test-s3` sets this: every app a test builds keeps its images in a bucket of its own on an
# S3-compatible test server (moto), for the storage, API and archive tests (marked `storage`).
ON_S3 = os.environ.get("STUDIO_TEST_STORAGE", "local") == "s3"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: about SQLite itself (its file, its locking); not run on PostgreSQL")
    config.addinivalue_line(
        "markers", "local_storage_only: about files on the data volume itself; not run with STUDIO_TEST_STORAGE=s3"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ON_S3:
        on_disk = pytest.mark.skip(reason="about files on disk; the local-storage run covers it")
        for item in items:
            if item.get_closest_marker("local_storage_only"):
                item.add_marker(on_disk)
    if not ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="SQLite-specific; the SQLite run covers it")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throw-away cluster per test session, with a migrated template database."""
    cluster = Cluster()
    cluster.start()
    try:
        cluster.make_template()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One S3-compatible test server per session (moto, a child process on 127.0.0.1)."""
    server = MotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def storage_server(request: pytest.FixtureRequest) -> MotoServer | None:
    return request.getfixturevalue("moto_server") if ON_S3 else None


def s3_overrides(server: MotoServer) -> dict[str, Any]:
    """Settings for a studio whose images live in a new, empty bucket of ``server``."""
    config = server.config(addressing="path")
    server.create_bucket(config)
    return {
        "storage_backend": "s3",
        "s3_endpoint": config.endpoint,
        "s3_bucket": config.bucket,
        "s3_region": config.region,
        "s3_access_key_id": config.access_key_id.get_secret_value(),
        "s3_secret_access_key": config.secret_access_key.get_secret_value(),
        "s3_prefix": config.prefix,
        "s3_addressing_style": "path",
    }


@pytest.fixture(scope="session")
def database_cluster(request: pytest.FixtureRequest) -> Cluster | None:
    return request.getfixturevalue("pg_cluster") if ON_POSTGRES else None


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "retry_backoff_scale": 0.0,
        "visual_poll_interval": 0.0,
        "min_free_disk_mb": 1.0,
        # pytest keeps the temp dirs of recent runs: no 16 MB reserve in each; tests that are about
        # the reserve set it.
        "disk_reserve_mb": 0.0,
        "generation_rate_limit_per_minute": 0,
        "log_level": "WARNING",
        # The host name of the in-process client (httpx ASGITransport), allowed explicitly.
        "allowed_hosts": "testserver",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass
class Studio:
    app: FastAPI
    client: httpx.AsyncClient
    services: Services

    async def run_jobs(self) -> None:
        assert self.services.worker is not None
        await self.services.worker.run(burst=True)

    async def submit(self, body: dict[str, Any], path: str = "/api/v1/generate/text2image", **kw: Any) -> str:
        response = await self.client.post(path, json=body, **kw)
        assert response.status_code == 202, response.text
        return str(response.json()["task_id"])

    async def task(self, task_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/tasks/{task_id}")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data


StudioFactory = Callable[..., Any]


@asynccontextmanager
async def running_studio(data_dir: Path, **overrides: Any) -> AsyncIterator[Studio]:
    """A studio stopped when the block ends (to restart on the same data, as an operator would)."""
    app = create_app(make_settings(data_dir, **overrides), start_worker=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            yield Studio(app=app, client=client, services=app.state.services)


@pytest.fixture
async def studio_factory(
    tmp_path: Path, database_cluster: Cluster | None, storage_server: MotoServer | None
) -> AsyncIterator[StudioFactory]:
    stack: list[Any] = []
    databases: list[str] = []

    async def make(**overrides: Any) -> Studio:
        if storage_server is not None and "storage_backend" not in overrides:
            overrides = {**s3_overrides(storage_server), **overrides}
        if database_cluster is not None and "database_url_override" not in overrides:
            name = await database_cluster.create_database()
            databases.append(name)
            overrides["database_url_override"] = database_cluster.url(name)
        settings = make_settings(overrides.pop("data_dir", tmp_path / "data"), **overrides)
        app = create_app(settings, start_worker=False)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        stack.append(lifespan)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        stack.append(client)
        return Studio(app=app, client=client, services=app.state.services)

    yield make
    for item in reversed(stack):
        await item.__aexit__(None, None, None)
    for name in databases:
        assert database_cluster is not None
        await database_cluster.drop_database(name)


@pytest.fixture
async def studio(studio_factory: StudioFactory) -> Studio:
    result: Studio = await studio_factory()
    return result


async def restart_takeover(queue: JobQueue, worker_id: str) -> None:
    """What a new process finds after a crash: on SQLite (one node) it recovers every abandoned
    lease at once; on PostgreSQL (replicas) it waits for them to run out, so time passes here."""
    stmt = (
        update(Task)
        .where(Task.status == TaskStatus.PROCESSING)
        .values(lease_expires_at=utcnow() - timedelta(seconds=1))
    )
    if not queue.db.is_sqlite:
        await queue.db.run_write(lambda session: session.execute(stmt))
    await queue.recover_abandoned(worker_id)
