"""The edit operations end to end against the fake Visual API: the documented wire format of each
req_key (checked by the fake), the result stored with its lineage, and a crash mid-edit resumed
from the checkpointed upstream task without paying twice."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from app.models.task import Task
from app.storage import metadata as image_metadata
from tests.conftest import Studio, StudioFactory, restart_takeover
from tests.fakes.common import Fault
from tests.fakes.visual import INPAINT_KEY, OUTPAINT_KEY, UPSCALE_KEY, FakeVisualServer

AK = "AKLTvisualEditKey31"
SK = "visual-edit-secret-4c2a"


def _png(width: int, height: int, color: tuple[int, int, int] = (30, 90, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def _brush(width: int, height: int) -> bytes:
    """What the UI's brush uploads: red strokes on a transparent canvas, half the source's size."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((width // 4, height // 4, width // 2, height // 2), fill=(255, 0, 0, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
async def fake_visual() -> AsyncIterator[FakeVisualServer]:
    async with FakeVisualServer(access_key=AK, secret_key=SK, max_image_side=8192) as fake:
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


async def _upload(studio: Studio, data: bytes) -> str:
    response = await studio.client.post("/api/v1/uploads", files={"file": ("x.png", data, "image/png")})
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


async def _edit(studio: Studio, operation: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await studio.client.post(f"/api/v1/edit/{operation}", json={"model": "jimeng_t2i_v40", **body})
    assert response.status_code == 202, response.text
    await studio.run_jobs()
    task = await studio.task(response.json()["task_id"])
    assert task["status"] == "completed", task
    return task


def _submitted(fake: FakeVisualServer) -> dict[str, Any]:
    [body] = fake.stats.bodies_for("CVSync2AsyncSubmitTask")
    assert isinstance(body, dict)
    return body


def _decode(item: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(item)))


async def test_inpaint_sends_source_and_single_channel_mask(visual_studio: Studio, fake_visual: FakeVisualServer) -> None:
    source = await _upload(visual_studio, _png(640, 480))
    mask = await _upload(visual_studio, _brush(320, 240))
    task = await _edit(visual_studio, "inpaint", {"source": {"upload_id": source}, "mask": {"upload_id": mask}, "prompt": "一只白鹭", "seed": 9})
    body = _submitted(fake_visual)
    assert body["req_key"] == INPAINT_KEY and body["prompt"] == "一只白鹭" and body["seed"] == 9
    sent_source, sent_mask = (_decode(item) for item in body["binary_data_base64"])
    assert sent_source.size == sent_mask.size == (640, 480)
    assert sent_mask.mode == "L" and {level for level, count in enumerate(sent_mask.histogram()) if count} == {0, 255}
    # The brush's ellipse, scaled to the source: redraw inside, keep outside.
    assert sent_mask.getpixel((240, 180)) == 255 and sent_mask.getpixel((10, 10)) == 0
    [poll] = fake_visual.stats.bodies_for("CVSync2AsyncGetResult")[-1:]
    assert poll["req_key"] == INPAINT_KEY
    assert task["operation"] == "inpaint" and task["is_demo"] is False
    assert (task["outputs"][0]["width"], task["outputs"][0]["height"]) == (640, 480)


async def test_erase_sends_the_documented_removal_prompt(visual_studio: Studio, fake_visual: FakeVisualServer) -> None:
    source = await _upload(visual_studio, _png(400, 300))
    mask = await _upload(visual_studio, _brush(400, 300))
    task = await _edit(visual_studio, "erase", {"source": {"upload_id": source}, "mask": {"upload_id": mask}})
    body = _submitted(fake_visual)
    assert body["req_key"] == INPAINT_KEY and body["prompt"] == "删除"
    assert task["prompt"] == "删除" and task["operation"] == "erase"


async def test_outpaint_sends_edge_ratios_and_stores_the_larger_canvas(visual_studio: Studio, fake_visual: FakeVisualServer) -> None:
    source = await _upload(visual_studio, _png(400, 300))
    task = await _edit(visual_studio, "outpaint", {"source": {"upload_id": source}, "expand": {"aspect": "16:9"}})
    body = _submitted(fake_visual)
    assert body["req_key"] == OUTPAINT_KEY and "prompt" not in body
    assert body["top"] == body["bottom"] == 0
    assert body["left"] == body["right"] == pytest.approx((16 / 9 / (4 / 3) - 1) / 2)
    out = task["outputs"][0]
    assert (out["width"], out["height"]) == (534, 300)


@pytest.mark.parametrize(("resolution", "expected"), [("4k", (4096, 3072)), ("8k", (8192, 6144))])
async def test_upscale_output_size(visual_studio: Studio, fake_visual: FakeVisualServer, resolution: str, expected: tuple[int, int]) -> None:
    source = await _upload(visual_studio, _png(400, 300))
    task = await _edit(visual_studio, "upscale", {"source": {"upload_id": source}, "resolution": resolution})
    body = _submitted(fake_visual)
    assert body["req_key"] == UPSCALE_KEY and body["resolution"] == resolution and body["scale"] == 50
    assert "prompt" not in body and "seed" not in body
    out = task["outputs"][0]
    assert (out["width"], out["height"]) == expected
    assert task["unit_price_cny"] == 0.4


async def test_a_large_history_png_is_sent_as_jpeg_under_the_limit(visual_studio: Studio, fake_visual: FakeVisualServer) -> None:
    # Noise does not compress: a 1700 x 1700 PNG of it is far above 4.7 MB.
    noisy = Image.effect_noise((1700, 1700), 120).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "PNG")
    assert len(out.getvalue()) > 4.7 * 1024 * 1024
    source = await _upload(visual_studio, out.getvalue())
    await _edit(visual_studio, "outpaint", {"source": {"upload_id": source}, "expand": {"top": 0.25}})
    [sent] = _submitted(fake_visual)["binary_data_base64"]
    assert _decode(sent).format == "JPEG" and _decode(sent).size == (1700, 1700)


async def test_crash_mid_edit_resumes_and_keeps_the_lineage(visual_studio: Studio, fake_visual: FakeVisualServer) -> None:
    """Killed while the upstream edit runs: the restart polls the same upstream task (one paid
    submit), and the result still names its parent, in the database and in the file."""
    services = visual_studio.services
    first = await _edit(visual_studio, "upscale", {"source": {"upload_id": await _upload(visual_studio, _png(300, 200))}})
    parent_id = first["outputs"][0]["id"]
    fake_visual.pending_polls = 1000
    mask = await _upload(visual_studio, _brush(4096, 2731))
    response = await visual_studio.client.post(
        "/api/v1/edit/inpaint",
        json={"model": "jimeng_t2i_v40", "source": {"image_id": parent_id}, "mask": {"upload_id": mask}, "prompt": "a kite"},
    )
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    run = asyncio.create_task(services.worker.run(burst=True))  # type: ignore[union-attr]

    async def submitted() -> None:
        while True:
            async with services.db.read() as session:
                row = (await session.execute(select(Task).where(Task.id == task_id))).scalar_one()
            if (row.checkpoint.get("provider") or {}).get("tasks"):
                return
            await asyncio.sleep(0.005)

    await asyncio.wait_for(submitted(), timeout=20)
    for job, _, _ in list(services.worker._active.values()):  # type: ignore[union-attr]
        job.cancel()
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)

    for upstream_task in fake_visual.tasks.values():
        upstream_task.pending_polls = 0
    await restart_takeover(services.worker.queue, "restarted")  # type: ignore[union-attr]
    await visual_studio.run_jobs()
    task = await visual_studio.task(task_id)
    assert task["status"] == "completed", task
    assert len(fake_visual.stats.bodies_for("CVSync2AsyncSubmitTask")) == 2  # the upscale, then this one: once
    assert task["parent_image_id"] == parent_id and task["operation"] == "inpaint"
    image = await visual_studio.client.get(task["outputs"][0]["url"])
    embedded = image_metadata.read(image.content)
    assert embedded is not None
    assert embedded["parent_image_id"] == parent_id and embedded["operation"] == "inpaint"
    lineage = (await visual_studio.client.get(f"/api/v1/images/{task['outputs'][0]['id']}/lineage")).json()
    assert [step["image_id"] for step in lineage["ancestors"]] == [parent_id]
    assert lineage["ancestors"][0]["operation"] == "upscale" and lineage["from_upload"] is True


async def test_edits_are_estimated_and_held_to_the_budget(studio_factory: StudioFactory, fake_visual: FakeVisualServer) -> None:
    studio: Studio = await studio_factory(
        volcengine_access_key=AK, volcengine_secret_key=SK, visual_base_url=fake_visual.base_url,
        result_url_hosts=["127.0.0.1"], budget_daily_cny=0.5,
    )
    source = await _upload(studio, _png(400, 300))
    body = {"model": "jimeng_t2i_v40", "source": {"upload_id": source}}
    first = await studio.client.post("/api/v1/edit/upscale", json=body)
    assert first.status_code == 202, first.text
    pending = await studio.task(first.json()["task_id"])
    assert pending["unit_price_cny"] == 0.4 and pending["cost_max_cny"] == 0.4
    # 0.4 reserved of 0.5: a second upscale would pass the budget, refused before any call.
    second = await studio.client.post("/api/v1/edit/upscale", json=body)
    assert second.status_code == 402, second.text
    assert second.json()["error"]["code"] == "budget_exceeded"
    assert not fake_visual.stats.bodies_for("CVSync2AsyncSubmitTask")
    await studio.run_jobs()
    done = await studio.task(first.json()["task_id"])
    assert done["status"] == "completed" and done["cost_cny"] == 0.4 and done["billed_images"] == 1


async def test_edit_estimates_name_the_operations_price(visual_studio: Studio) -> None:
    upscale = (await visual_studio.client.get("/api/v1/edit/upscale/estimate", params={"model": "jimeng_t2i_v40"})).json()
    assert upscale == {"model": "jimeng_t2i_v40", "images_max": 1, "unit": "image", "unit_price_cny": 0.4,
                       "cost_max_cny": 0.4, "confirmed": False}
    erase = (await visual_studio.client.get("/api/v1/edit/erase/estimate", params={"model": "jimeng_t2i_v40"})).json()
    assert erase["cost_max_cny"] == 0.2
    demo = (await visual_studio.client.get("/api/v1/edit/inpaint/estimate", params={"model": "demo"})).json()
    assert demo["cost_max_cny"] == 0 and demo["confirmed"] is True
    lacking = await visual_studio.client.get("/api/v1/edit/inpaint/estimate", params={"model": "jimeng_t2i_v30"})
    assert lacking.status_code == 422 and lacking.json()["error"]["code"] == "operation_not_supported"


async def test_upstream_faults_on_an_edit_are_stored_like_a_generations(visual_studio: Studio, fake_visual: FakeVisualServer) -> None:
    source = await _upload(visual_studio, _png(400, 300))
    mask = await _upload(visual_studio, _brush(400, 300))
    body = {"model": "jimeng_t2i_v40", "source": {"upload_id": source}, "mask": {"upload_id": mask}}
    refused = await visual_studio.client.post("/api/v1/edit/inpaint", json={**body, "prompt": "x [fault:code=50412]"})
    await visual_studio.run_jobs()
    task = await visual_studio.task(refused.json()["task_id"])
    assert task["status"] == "failed" and task["error"]["code"] == "content_moderation"
    assert task["cost_cny"] == 0
    # Output moderation once: one more try with another seed, then stored.
    fake_visual.pending_polls = 0
    fake_visual.faults.push(Fault("moderation-output", action="CVSync2AsyncGetResult"))
    retried = await visual_studio.client.post("/api/v1/edit/inpaint", json={**body, "prompt": "y again", "seed": 5})
    await visual_studio.run_jobs()
    done = await visual_studio.task(retried.json()["task_id"])
    assert done["status"] == "completed", done["error"]
    seeds = [b["seed"] for b in fake_visual.stats.bodies_for("CVSync2AsyncSubmitTask") if b.get("prompt") == "y again"]
    assert seeds[0] == 5 and len(seeds) == 2 and seeds[1] != 5
