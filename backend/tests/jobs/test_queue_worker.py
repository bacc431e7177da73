"""Durable jobs: atomic claims, crash recovery, cancel, per-provider caps."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.jobs.handlers import CANCELLED, INTERNAL_ERROR, INTERRUPTED, NO_IMAGE
from app.jobs.queue import JobQueue
from app.jobs.worker import Worker, default_worker_id
from app.models.task import Image, Task
from tests.chinese import assert_chinese
from tests.conftest import Studio, StudioFactory, restart_takeover


async def _submit_many(studio: Studio, n: int, prompt: str = "job") -> list[str]:
    return [
        await studio.submit({"model": "demo", "prompt": f"{prompt} {i}", "width": 256, "height": 256}) for i in range(n)
    ]


async def test_concurrent_claims_never_share_a_job(studio: Studio) -> None:
    ids = await _submit_many(studio, 30)
    queue = JobQueue(studio.services.db, lease_seconds=30)
    results = await asyncio.gather(*[queue.claim(f"w{i}", 4) for i in range(10)])
    claimed = [job.task_id for batch in results for job in batch]
    assert len(claimed) == len(set(claimed)) == 30
    assert set(claimed) == set(ids)
    assert await queue.claim("late", 10) == []


async def test_stale_lease_is_reclaimed_and_job_completes(studio: Studio) -> None:
    [task_id] = await _submit_many(studio, 1)
    clock_now = [None]
    queue = JobQueue(studio.services.db, lease_seconds=30)
    [job] = await queue.claim("dead-worker", 1)
    assert job.task_id == task_id and job.attempts == 1
    # A live lease is not claimable by others...
    assert await queue.claim("other", 1) == []
    # ...until it runs out.
    from app.models.base import utcnow

    clock_now[0] = utcnow() + timedelta(seconds=31)
    later = JobQueue(studio.services.db, lease_seconds=30, clock=lambda: clock_now[0])
    [again] = await later.claim("other", 1)
    assert again.task_id == task_id and again.attempts == 2


def test_the_worker_id_names_its_host_and_tells_processes_apart() -> None:
    # In a container the host name is the container's id: the lease says which replica holds a job.
    first, second = default_worker_id("3f6d3e4fb77e"), default_worker_id("3f6d3e4fb77e")
    assert first.startswith("w-3f6d3e4fb77e-") and second.startswith("w-3f6d3e4fb77e-")
    assert first != second
    long_name = default_worker_id("h" * 200)
    assert len(long_name) <= 64  # tasks.lease_owner is String(64)
    assert default_worker_id("").startswith("w-unknown-")


async def test_a_claimed_job_is_leased_to_this_host(studio: Studio) -> None:
    import socket

    [task_id] = await _submit_many(studio, 1)
    worker = studio.services.worker
    assert worker is not None
    [job] = await worker.queue.claim(worker.worker_id, 1)
    async with studio.services.db.read() as session:
        owner = (await session.execute(select(Task.lease_owner).where(Task.id == task_id))).scalar_one()
    assert job.task_id == task_id
    assert owner == worker.worker_id
    assert owner.startswith(f"w-{socket.gethostname()[:40]}-")


@pytest.mark.sqlite_only  # PostgreSQL means replicas: only expired leases are recovered there
async def test_restart_recovers_job_left_processing(studio: Studio) -> None:
    [task_id] = await _submit_many(studio, 1)
    queue = JobQueue(studio.services.db, lease_seconds=3600)
    await queue.claim("process-that-was-killed", 1)
    # A new process starts: abandoned work is reclaimed at once, not after the hour-long lease.
    worker = studio.services.worker
    assert worker is not None
    assert await worker.queue.recover_abandoned(worker.worker_id) == 1
    await studio.run_jobs()
    task = await studio.task(task_id)
    assert task["status"] == "completed"
    assert task["attempts"] == 2


async def test_job_killed_mid_run_resumes_without_storing_twice(studio: Studio) -> None:
    """Kill the worker while a 3-image job has stored one image; the re-run stores only the rest."""
    task_id = await studio.submit({"model": "demo", "prompt": "three", "width": 256, "height": 256, "num_images": 3})
    services = studio.services
    worker = services.worker
    assert worker is not None
    stored_one = asyncio.Event()
    original_store = services.images.store_output
    calls: list[str] = []

    async def counting_store(image_id, data, **kw):
        calls.append(image_id)
        return await original_store(image_id, data, **kw)

    services.images.store_output = counting_store  # type: ignore[method-assign]

    async def watch() -> None:
        while True:
            async with services.db.read() as session:
                n = len((await session.execute(select(Image).where(Image.task_id == task_id))).scalars().all())
            if n >= 1:
                stored_one.set()
                return
            await asyncio.sleep(0.001)

    run = asyncio.create_task(worker.run(burst=True))
    await asyncio.wait_for(watch(), timeout=10)
    # Simulate SIGKILL: the worker's tasks die without any final write.
    for task, _, _ in list(worker._active.values()):
        task.cancel()
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    await asyncio.sleep(0)
    async with services.db.read() as session:
        row = await session.get(Task, task_id)
        assert row is not None and row.status == "processing"
        before = len((await session.execute(select(Image).where(Image.task_id == task_id))).scalars().all())
    assert 1 <= before < 3 or before == 3

    fresh = Worker(queue=worker.queue, runner=worker.runner, max_concurrent=4, provider_caps={"demo": None})
    await restart_takeover(fresh.queue, fresh.worker_id)
    await fresh.run(burst=True)
    task = await studio.task(task_id)
    assert task["status"] == "completed"
    assert [o["index"] for o in task["outputs"]] == [0, 1, 2]
    # One stored file per index, no duplicates on disk.
    files = sorted(p.name for p in services.store.output_dir.rglob("*.png"))
    assert len(files) == 3
    assert len(calls) >= 3


async def test_cancel_running_job(studio: Studio) -> None:
    task_id = await studio.submit({"model": "demo", "prompt": "slow [demo:slow]", "width": 256, "height": 256})
    worker = studio.services.worker
    assert worker is not None
    run = asyncio.create_task(worker.run(burst=True))
    for _ in range(1000):
        if task_id in worker._active:
            break
        await asyncio.sleep(0.001)
    r = await studio.client.post(f"/api/v1/tasks/{task_id}/cancel")
    assert r.status_code == 200
    await asyncio.wait_for(run, timeout=10)
    task = await studio.task(task_id)
    assert task["status"] == "cancelled"
    assert task["error"]["code"] == "cancelled"
    assert task["error"]["message_zh"] == "已被用户取消。"


async def test_provider_caps_limit_concurrency(studio_factory: StudioFactory) -> None:
    studio: Studio = await studio_factory(max_concurrent_jobs=8)
    await _submit_many(studio, 6)
    worker = studio.services.worker
    assert worker is not None
    peak = 0
    original = worker.runner
    holder: list[Worker] = []

    async def tracking(job, cancel):
        nonlocal peak
        peak = max(peak, len(holder[0]._active))
        await original(job, cancel)

    capped = Worker(queue=worker.queue, runner=tracking, max_concurrent=8, provider_caps={"demo": 2})
    holder.append(capped)
    await capped.run(burst=True)
    assert peak <= 2
    items = (await studio.client.get("/api/v1/tasks")).json()["items"]
    assert all(i["status"] == "completed" for i in items)


async def test_poison_job_stops_after_max_attempts(studio_factory: StudioFactory) -> None:
    studio: Studio = await studio_factory(max_job_attempts=2)
    [task_id] = await _submit_many(studio, 1)
    queue = studio.services.worker.queue  # type: ignore[union-attr]
    for i in range(2):
        await queue.claim(f"crashed-{i}", 1)
        await restart_takeover(queue, "someone-else")
    await studio.run_jobs()
    task = await studio.task(task_id)
    assert task["status"] == "failed"
    assert "interrupted" in task["error"]["message"]
    assert_chinese(task["error"]["message_zh"], task["error"]["message"])
    assert "已被中断 2 次" in task["error"]["message_zh"]


@pytest.mark.parametrize("outcome", [CANCELLED, INTERRUPTED, INTERNAL_ERROR, NO_IMAGE], ids=lambda o: o["code"])
def test_outcomes_the_runner_stores_read_in_both_languages(outcome: dict[str, object]) -> None:
    assert_chinese(outcome["message_zh"], outcome["message"])
