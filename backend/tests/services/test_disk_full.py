"""A full volume: deleting history and favourites still work (the disk reserve is given back for
them), and what cannot work answers a clear 507, never a 500. The real thing, on a full tmpfs, is
in tests/reliability/test_storage_faults.py; here the failure is injected."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import DatabaseFull
from tests.conftest import Studio, StudioFactory


@pytest.fixture
async def studio(studio_factory: StudioFactory) -> Studio:
    result: Studio = await studio_factory(disk_reserve_mb=0.0625, min_free_disk_mb=0)
    return result


def _full_for(studio: Studio, monkeypatch: pytest.MonkeyPatch, failures: int) -> Callable[[], int]:
    """The next ``failures`` write transactions meet a full volume; returns how many did."""
    real = studio.services.db.write
    seen = 0

    @asynccontextmanager
    async def write() -> AsyncIterator[AsyncSession]:
        nonlocal seen
        if seen < failures:
            seen += 1
            raise DatabaseFull()
        async with real() as session:
            yield session

    monkeypatch.setattr(studio.services.db, "write", write)
    return lambda: seen


async def _completed(studio: Studio) -> str:
    task_id = await studio.submit({"model": "demo", "prompt": "keep", "width": 256, "height": 256})
    await studio.run_jobs()
    return task_id


@pytest.mark.sqlite_only  # the SQLite file and its disk reserve
async def test_favourite_and_delete_give_back_the_reserve_on_a_full_volume(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    reserve = studio.services.settings.disk_reserve_path
    assert reserve is not None and reserve.stat().st_size == 64 * 1024
    task_id = await _completed(studio)
    failed = _full_for(studio, monkeypatch, failures=1)
    r = await studio.client.patch(f"/api/v1/history/{task_id}", json={"favorite": True})
    assert r.status_code == 200, r.text
    assert r.json()["favorite"] is True
    assert failed() == 1 and not reserve.exists()

    await studio.services.housekeeping.run_once()  # room again: the reserve comes back
    assert reserve.exists()
    failed = _full_for(studio, monkeypatch, failures=1)
    r = await studio.client.delete(f"/api/v1/history/{task_id}")
    assert r.status_code == 204, r.text
    assert failed() == 1 and not reserve.exists()
    assert (await studio.client.get("/api/v1/history")).json()["items"] == []


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "The data volume is full: the database cannot record this change. Free space on the volume "
             "(or enlarge it), then try again."),
        ({"Accept-Language": "zh-CN"}, "数据卷已满，数据库无法保存此更改。请释放磁盘空间（或扩容）后重试。"),
    ],
)
async def test_with_no_reserve_left_the_answer_is_a_clear_507(
    studio: Studio, monkeypatch: pytest.MonkeyPatch, headers: dict[str, Any], message: str
) -> None:
    task_id = await _completed(studio)
    _full_for(studio, monkeypatch, failures=3)
    r = await studio.client.patch(f"/api/v1/history/{task_id}", json={"favorite": True}, headers=headers)
    assert r.status_code == 507, r.text
    assert r.json() == {"error": {"code": "insufficient_storage", "message": message}}
    r = await studio.client.delete(f"/api/v1/history/{task_id}", headers=headers)
    assert r.status_code == 507, r.text
    assert (await studio.task(task_id))["status"] == "completed"  # nothing half deleted
