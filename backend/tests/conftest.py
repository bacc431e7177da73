"""Shared fixtures: an app per test on its own temp DATA_DIR, driven in-process.

The worker never runs in the background here: tests call ``run_jobs()`` (burst mode), which
returns once every runnable job has finished, so nothing sleeps waiting for a job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.core.config import Settings
from app.main import create_app
from app.services.container import Services


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "retry_backoff_scale": 0.0,
        "visual_poll_interval": 0.0,
        "min_free_disk_mb": 1.0,
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


@pytest.fixture
async def studio_factory(tmp_path: Path) -> AsyncIterator[StudioFactory]:
    stack: list[Any] = []

    async def make(**overrides: Any) -> Studio:
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


@pytest.fixture
async def studio(studio_factory: StudioFactory) -> Studio:
    result: Studio = await studio_factory()
    return result
