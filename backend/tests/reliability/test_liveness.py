"""No upstream can hold a job, a cancel interrupts at once, a lost lease stops the work, and an
upstream cannot make us read or keep more than we asked for (issue: safe to leave running)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from app.models.base import utcnow
from app.models.task import Task
from tests.chinese import assert_chinese
from tests.conftest import Studio, StudioFactory
from tests.reliability.conftest import (
    JIMENG_30,
    SEEDREAM_40,
    ArkFake,
    VisualFake,
    files_under,
    upstream_settings,
)

GEN = "images.generations"
GENERAL_30 = "high_aes_general_v30l_zt2i"  # a sync Visual model: images come back in the answer
# Whatever the code does, a test gives up after this long instead of hanging CI.
GUARD = 30.0


async def _run_in_background(studio: Studio) -> asyncio.Task[None]:
    return asyncio.create_task(studio.services.worker.run(burst=True))


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = GUARD) -> float:
    """Seconds until ``check()`` is true (polled every 20 ms), or fail after ``timeout``."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, "condition not reached in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def _finished(studio: Studio, task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal task
        task = await studio.task(task_id)
        return task["status"] in ("completed", "failed", "cancelled")

    await _until(done)
    return task


# --------------------------------------------------------------------------------------------
# 7. Total deadlines


async def test_a_dripping_json_answer_cannot_hold_a_job(studio_factory: StudioFactory, ark_fake: ArkFake) -> None:
    # 0.2 s per byte: the read timeout (5 s) never fires; the answer would take over a minute.
    ark_fake.drip_interval = 0.2
    studio = await studio_factory(**upstream_settings(ark_fake, None, upstream_read_timeout=5.0,
                                                      upstream_total_timeout=1.0))
    task_id = await studio.submit({"model": SEEDREAM_40, "prompt": "slow [fault:drip]"})
    started = time.monotonic()
    await asyncio.wait_for(studio.run_jobs(), GUARD)
    elapsed = time.monotonic() - started
    task = await studio.task(task_id)
    assert task["status"] == "failed" and task["error"]["code"] == "upstream_timeout", task
    # Possibly billed: one retry at most, each cut at the total deadline.
    assert ark_fake.stats.actions[GEN] == 2
    assert elapsed < 5.0, elapsed


async def test_a_dripping_image_download_cannot_hold_a_job(studio_factory: StudioFactory, ark_fake: ArkFake) -> None:
    ark_fake.drip_interval = 0.2
    studio = await studio_factory(**upstream_settings(ark_fake, None, upstream_read_timeout=5.0,
                                                      upstream_total_timeout=0.5, upstream_max_attempts=2))
    task_id = await studio.submit({"model": SEEDREAM_40, "prompt": "slow link [fault:url-drip]"})
    started = time.monotonic()
    await asyncio.wait_for(studio.run_jobs(), GUARD)
    task = await studio.task(task_id)
    assert task["status"] == "failed" and task["error"]["code"] == "upstream_timeout", task
    assert time.monotonic() - started < 5.0


async def test_the_job_deadline_covers_retries(studio_factory: StudioFactory, ark_fake: ArkFake) -> None:
    # Every attempt stalls 5 s (under the 10 s read timeout); four attempts would take 20 s.
    studio = await studio_factory(**upstream_settings(ark_fake, None, upstream_read_timeout=10.0, job_timeout=1.0))
    task_id = await studio.submit({"model": SEEDREAM_40, "prompt": "stuck [fault:timeout]"})
    started = time.monotonic()
    await asyncio.wait_for(studio.run_jobs(), GUARD)
    elapsed = time.monotonic() - started
    task = await studio.task(task_id)
    assert task["status"] == "failed" and task["error"]["code"] == "upstream_timeout", task
    assert "JOB_TIMEOUT" in task["error"]["message"] and task["error"]["retryable"] is True
    assert "JOB_TIMEOUT" in task["error"]["message_zh"]
    assert_chinese(task["error"]["message_zh"], task["error"]["message"])
    assert elapsed < 3.0, elapsed


# --------------------------------------------------------------------------------------------
# 8. Cancel interrupts


async def test_cancel_interrupts_a_hanging_ark_call(studio_factory: StudioFactory, ark_fake: ArkFake) -> None:
    ark_fake.timeout_seconds = 60.0
    studio = await studio_factory(**upstream_settings(ark_fake, None, upstream_read_timeout=120.0))
    task_id = await studio.submit({"model": SEEDREAM_40, "prompt": "never answers [fault:timeout]"})
    run = await _run_in_background(studio)

    async def in_flight() -> bool:
        return ark_fake.stats.in_flight == 1

    await _until(in_flight)
    started = time.monotonic()
    r = await studio.client.post(f"/api/v1/tasks/{task_id}/cancel")
    assert r.status_code == 200, r.text
    task = await _finished(studio, task_id)
    assert task["status"] == "cancelled", task
    assert time.monotonic() - started < 2.0
    await asyncio.wait_for(run, GUARD)
    assert files_under(studio.services.store.output_dir) == []


async def test_cancel_during_a_download_stores_nothing(studio_factory: StudioFactory, ark_fake: ArkFake) -> None:
    ark_fake.drip_interval = 0.5
    studio = await studio_factory(**upstream_settings(ark_fake, None, upstream_read_timeout=120.0))
    task_id = await studio.submit({"model": SEEDREAM_40, "prompt": "slow link [fault:url-drip]"})
    run = await _run_in_background(studio)

    async def downloading() -> bool:
        return ark_fake.stats.actions["files"] >= 1

    await _until(downloading)
    started = time.monotonic()
    assert (await studio.client.post(f"/api/v1/tasks/{task_id}/cancel")).status_code == 200
    task = await _finished(studio, task_id)
    assert task["status"] == "cancelled" and task["outputs"] == []
    assert time.monotonic() - started < 2.0
    await asyncio.wait_for(run, GUARD)
    assert files_under(studio.services.store.output_dir) == []


async def test_cancel_of_an_async_visual_job_is_quick_and_cancels_upstream(
    studio_factory: StudioFactory, visual_fake: VisualFake
) -> None:
    visual_fake.pending_polls = 10_000  # the upstream task never finishes by itself
    studio = await studio_factory(**upstream_settings(None, visual_fake, visual_poll_interval=0.05))
    task_id = await studio.submit({"model": JIMENG_30, "prompt": "a long one", "width": 1328, "height": 1328})
    run = await _run_in_background(studio)

    async def polling() -> bool:
        return visual_fake.stats.actions["CVSync2AsyncGetResult"] >= 1

    await _until(polling)
    started = time.monotonic()
    assert (await studio.client.post(f"/api/v1/tasks/{task_id}/cancel")).status_code == 200
    task = await _finished(studio, task_id)
    assert task["status"] == "cancelled"
    assert time.monotonic() - started < 2.0
    await asyncio.wait_for(run, GUARD)

    async def cancelled_upstream() -> bool:
        return visual_fake.stats.actions["CVCancelTask"] == 1

    await _until(cancelled_upstream, timeout=5.0)


# --------------------------------------------------------------------------------------------
# 9. A lost lease stops the work


async def test_a_lost_lease_cancels_the_running_job(studio_factory: StudioFactory, ark_fake: ArkFake) -> None:
    ark_fake.timeout_seconds = 60.0
    studio = await studio_factory(**upstream_settings(ark_fake, None, upstream_read_timeout=120.0))
    worker = studio.services.worker
    task_id = await studio.submit({"model": SEEDREAM_40, "prompt": "taken over [fault:timeout]"})
    run = await _run_in_background(studio)

    async def in_flight() -> bool:
        return ark_fake.stats.in_flight == 1

    await _until(in_flight)
    # Another worker took the job over (this one stalled past its lease).
    later = utcnow() + timedelta(seconds=300)
    stmt = update(Task).where(Task.id == task_id).values(lease_owner="w-other", lease_expires_at=later)
    await studio.services.db.run_write(lambda session: session.execute(stmt))
    await worker.heartbeat_once()

    async def stopped() -> bool:
        return task_id not in worker.active_ids and ark_fake.stats.in_flight == 0

    assert await _until(stopped, timeout=5.0) < 2.0
    task = await studio.task(task_id)
    # Not finished by us: the job is the other worker's to finish (and it is not billed twice).
    assert task["status"] == "processing"
    assert ark_fake.stats.actions[GEN] == 1
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)


# --------------------------------------------------------------------------------------------
# 10. Bounded answers


async def test_an_oversized_json_answer_is_refused_without_reading_it_all(
    studio_factory: StudioFactory, ark_fake: ArkFake
) -> None:
    studio = await studio_factory(**upstream_settings(ark_fake, None, upstream_max_response_mb=2))
    task_id = await studio.submit({"model": SEEDREAM_40, "prompt": "flood [fault:huge:mb=60]"})
    await asyncio.wait_for(studio.run_jobs(), GUARD)
    task = await studio.task(task_id)
    assert task["status"] == "failed" and "larger than 2 MB" in task["error"]["message"], task
    # Refusing it again would fetch it again: not retried.
    assert ark_fake.stats.actions[GEN] == 1


async def test_an_oversized_visual_answer_is_refused(studio_factory: StudioFactory, visual_fake: VisualFake) -> None:
    studio = await studio_factory(**upstream_settings(None, visual_fake, upstream_max_response_mb=1))
    task_id = await studio.submit({"model": GENERAL_30, "prompt": "flood [fault:huge:mb=30]"})
    await asyncio.wait_for(studio.run_jobs(), GUARD)
    task = await studio.task(task_id)
    assert task["status"] == "failed" and "larger than 1 MB" in task["error"]["message"], task
    assert visual_fake.stats.actions["CVProcess"] == 1


async def test_a_group_never_keeps_more_images_than_asked(studio_factory: StudioFactory, ark_fake: ArkFake) -> None:
    studio = await studio_factory(**upstream_settings(ark_fake, None))
    task_id = await studio.submit({"model": SEEDREAM_40, "prompt": "three [fault:extra:37]", "group": {"max_images": 3}})
    await asyncio.wait_for(studio.run_jobs(), GUARD)
    task = await studio.task(task_id)
    assert task["status"] == "completed"
    assert [o["index"] for o in task["outputs"]] == [0, 1, 2]
    assert len(files_under(studio.services.store.output_dir)) == 6  # 3 images + 3 thumbnails


async def test_a_visual_answer_with_extra_images_keeps_one(studio_factory: StudioFactory, visual_fake: VisualFake) -> None:
    studio = await studio_factory(**upstream_settings(None, visual_fake))
    task_id = await studio.submit({"model": GENERAL_30, "prompt": "one [fault:extra:3]"})
    await asyncio.wait_for(studio.run_jobs(), GUARD)
    task = await studio.task(task_id)
    assert task["status"] == "completed" and len(task["outputs"]) == 1, task
