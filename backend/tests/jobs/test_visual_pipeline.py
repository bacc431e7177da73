"""The whole pipeline against the fake Visual API (signed requests, async tasks, resume)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image
from sqlalchemy import select

from app.models.task import Task
from tests.conftest import Studio, StudioFactory, restart_takeover
from tests.fakes.visual import FakeVisualServer

AK = "AKLTvisualTestKey77"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


SK = "visual-secret-key-9d1e"


@pytest.fixture
async def fake_visual() -> AsyncIterator[FakeVisualServer]:
    async with FakeVisualServer(access_key=AK, secret_key=SK) as fake:
        yield fake


@pytest.fixture
async def visual_studio(studio_factory: StudioFactory, fake_visual: FakeVisualServer) -> Studio:
    studio: Studio = await studio_factory(
        volcengine_access_key=AK,
        volcengine_secret_key=SK,
        visual_base_url=fake_visual.base_url,
        result_url_hosts=["127.0.0.1"],
    )
    return studio


async def test_async_model_submits_once_and_stores(visual_studio: Studio, fake_visual: FakeVisualServer) -> None:
    task_id = await visual_studio.submit({"model": "jimeng_t2i_v30", "prompt": "竹林里的熊猫", "width": 1328, "height": 1328})
    await visual_studio.run_jobs()
    task = await visual_studio.task(task_id)
    assert task["status"] == "completed", task
    assert len(task["outputs"]) == 1
    assert fake_visual.stats.actions["CVSync2AsyncSubmitTask"] == 1
    assert fake_visual.stats.actions["CVSync2AsyncGetResult"] >= 1


async def test_jimeng_46_sends_its_scale_as_a_percentage(visual_studio: Studio, fake_visual: FakeVisualServer) -> None:
    upload = await visual_studio.client.post(
        "/api/v1/uploads", files={"file": ("ref.png", _png(), "image/png")}
    )
    assert upload.status_code in (200, 201), upload.text
    task_id = await visual_studio.submit(
        {"model": "jimeng_seedream46_cvtob", "prompt": "同一只猫，换成水彩画风", "size": "2K", "strength": 0.35,
         "images": [upload.json()["id"]]},
        path="/api/v1/generate/image2image",
    )
    await visual_studio.run_jobs()
    task = await visual_studio.task(task_id)
    assert task["status"] == "completed", task
    [body] = fake_visual.stats.bodies_for("CVSync2AsyncSubmitTask")
    assert body["req_key"] == "jimeng_seedream46_cvtob"
    assert body["scale"] == 35 and body["size"] == 4_194_304 and body["force_single"] is True
    assert len(body["binary_data_base64"]) == 1
    assert len(task["outputs"]) == 1


async def test_sync_model(visual_studio: Studio, fake_visual: FakeVisualServer) -> None:
    task_id = await visual_studio.submit({"model": "high_aes_general_v30l_zt2i", "prompt": "a bridge", "width": 1024, "height": 1024})
    await visual_studio.run_jobs()
    task = await visual_studio.task(task_id)
    assert task["status"] == "completed", task
    assert fake_visual.stats.actions["CVProcess"] == 1


async def test_wrong_secret_is_an_auth_error(studio_factory: StudioFactory, fake_visual: FakeVisualServer) -> None:
    studio: Studio = await studio_factory(
        volcengine_access_key=AK,
        volcengine_secret_key="not-the-secret",
        visual_base_url=fake_visual.base_url,
        result_url_hosts=["127.0.0.1"],
    )
    task_id = await studio.submit({"model": "jimeng_t2i_v30", "prompt": "x", "width": 1024, "height": 1024})
    await studio.run_jobs()
    task = await studio.task(task_id)
    assert task["status"] == "failed"
    assert task["error"]["code"] == "upstream_auth_failed"
    assert "not-the-secret" not in str(task)


async def test_moderation_code_maps_to_content_moderation(visual_studio: Studio) -> None:
    task_id = await visual_studio.submit({"model": "jimeng_t2i_v30", "prompt": "x [fault:code=50412]", "width": 1024, "height": 1024})
    await visual_studio.run_jobs()
    task = await visual_studio.task(task_id)
    assert task["status"] == "failed"
    assert task["error"]["code"] == "content_moderation"


async def test_crash_while_polling_resumes_by_task_id(visual_studio: Studio, fake_visual: FakeVisualServer) -> None:
    """Killed after the upstream task was submitted: the restart polls it, never submits again."""
    fake_visual.pending_polls = 1000  # stays "generating" until we let it finish
    services = visual_studio.services
    task_id = await visual_studio.submit({"model": "jimeng_t2i_v30", "prompt": "resume me", "width": 1024, "height": 1024})
    run = asyncio.create_task(services.worker.run(burst=True))  # type: ignore[union-attr]

    async def submitted() -> None:
        while True:
            async with services.db.read() as session:
                row = (await session.execute(select(Task).where(Task.id == task_id))).scalar_one()
            if row.checkpoint.get("provider", {}).get("tasks") or row.checkpoint.get("provider", {}).get("upstream_task_id"):
                return
            await asyncio.sleep(0.005)

    await asyncio.wait_for(submitted(), timeout=10)
    for job, _, _ in list(services.worker._active.values()):  # type: ignore[union-attr]
        job.cancel()
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)

    for upstream_task in fake_visual.tasks.values():
        upstream_task.pending_polls = 0
    await restart_takeover(services.worker.queue, "restarted")
    await visual_studio.run_jobs()
    task = await visual_studio.task(task_id)
    assert task["status"] == "completed", task
    assert fake_visual.stats.actions["CVSync2AsyncSubmitTask"] == 1
