from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from app.models.base import utcnow
from app.models.task import Task, TaskStatus
from tests.conftest import Studio


async def _set_times(studio: Studio, task_id: str, seconds: float, status: str = TaskStatus.COMPLETED) -> None:
    start = utcnow() - timedelta(minutes=5)
    stmt = (
        update(Task)
        .where(Task.id == task_id)
        .values(status=status, started_at=start, completed_at=start + timedelta(seconds=seconds))
    )
    await studio.services.db.run_write(lambda session: session.execute(stmt))


async def test_median_of_completed_tasks_per_model(studio: Studio) -> None:
    r = await studio.client.get("/api/v1/models/durations")
    assert r.status_code == 200 and r.json() == {"items": []}

    ids = [await studio.submit({"model": "demo", "prompt": f"timed {i}"}) for i in range(4)]
    await studio.run_jobs()
    for task_id, seconds in zip(ids, (2.0, 4.0, 30.0, 6.0), strict=True):
        await _set_times(studio, task_id, seconds)
    # failed and cancelled tasks say nothing about how long a success takes
    failed = await studio.submit({"model": "demo", "prompt": "failed one"})
    await studio.run_jobs()
    await _set_times(studio, failed, 500.0, TaskStatus.FAILED)

    items = (await studio.client.get("/api/v1/models/durations")).json()["items"]
    assert items == [{"model": "demo", "median_seconds": 5.0, "samples": 4}]


async def test_only_the_latest_fifty_count(studio: Studio) -> None:
    ids = [await studio.submit({"model": "demo", "prompt": f"many {i}"}) for i in range(55)]
    await studio.run_jobs()
    # the five oldest were slow; the model got faster since
    for n, task_id in enumerate(ids):
        await _set_times(studio, task_id, 100.0 if n < 5 else 3.0)
    stmt = update(Task).where(Task.id.in_(ids[:5])).values(created_at=utcnow() - timedelta(days=1))
    await studio.services.db.run_write(lambda session: session.execute(stmt))
    items = (await studio.client.get("/api/v1/models/durations")).json()["items"]
    assert items == [{"model": "demo", "median_seconds": 3.0, "samples": 50}]
