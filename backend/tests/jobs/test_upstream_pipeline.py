"""The whole pipeline (API → queue → provider → download → storage) against the fake Ark server."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from app.models.task import Task
from tests.conftest import Studio, StudioFactory, restart_takeover
from tests.fakes.ark import FakeArkServer

ARK_KEY = "ark-test-key-3f9c2a"
SEEDREAM_40 = "doubao-seedream-4-0-250828"


@pytest.fixture
async def fake_ark() -> AsyncIterator[FakeArkServer]:
    async with FakeArkServer(api_key=ARK_KEY) as fake:
        yield fake


@pytest.fixture
async def ark_studio(studio_factory: StudioFactory, fake_ark: FakeArkServer) -> Studio:
    studio: Studio = await studio_factory(
        ark_api_key=ARK_KEY, ark_base_url=fake_ark.base_url, result_url_hosts=["127.0.0.1"]
    )
    return studio


async def test_ark_text2image_stores_the_downloaded_image(ark_studio: Studio, fake_ark: FakeArkServer) -> None:
    models = (await ark_studio.client.get("/api/v1/models")).json()
    assert models["default_model"] == SEEDREAM_40
    task_id = await ark_studio.submit({"model": SEEDREAM_40, "prompt": "a lighthouse", "size": "1280x720"})
    await ark_studio.run_jobs()
    task = await ark_studio.task(task_id)
    assert task["status"] == "completed", task
    assert task["is_demo"] is False
    out = task["outputs"][0]
    assert out["content_type"] == "image/jpeg" and out["url"].endswith(".jpg")
    data = (await ark_studio.client.get(out["url"])).content
    assert Image.open(io.BytesIO(data)).format == "JPEG"
    [body] = fake_ark.stats.bodies_for("images.generations")
    assert body["watermark"] is False
    assert body["size"] == "1280x720"
    assert ARK_KEY not in str(task)


def _nginx_serves(url: str) -> bool:
    """Whether the committed nginx config serves this /images URL (it 404s anything else)."""
    conf = (Path(__file__).resolve().parents[3] / "nginx" / "nginx.conf").read_text()
    pattern = re.search(r'if \(\$uri !~ "(\^/images/[^"]+)"\)', conf)
    assert pattern is not None, "the /images location of nginx/nginx.conf changed shape"
    return re.match(pattern.group(1), url) is not None


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
async def test_ark_results_in_bmp_or_tiff_are_stored_as_png(
    ark_studio: Studio, fake_ark: FakeArkServer, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    sent: list[bytes] = []

    def render(width: int, height: int) -> bytes:
        out = io.BytesIO()
        Image.effect_mandelbrot((96, 64), (-2.0, -1.2, 0.8, 1.2), 60).convert("RGB").save(out, fmt)
        sent.append(out.getvalue())
        return out.getvalue()

    monkeypatch.setattr(fake_ark, "render", render)
    task_id = await ark_studio.submit({"model": SEEDREAM_40, "prompt": "a lighthouse", "size": "2K"})
    await ark_studio.run_jobs()
    task = await ark_studio.task(task_id)
    assert task["status"] == "completed", task
    out = task["outputs"][0]
    assert out["content_type"] == "image/png" and out["url"].endswith(".png"), out
    assert _nginx_serves(out["url"]) and _nginx_serves(out["thumbnail_url"])
    response = await ark_studio.client.get(out["url"])
    assert response.status_code == 200
    stored = Image.open(io.BytesIO(response.content))
    assert stored.format == "PNG"
    assert stored.get_flattened_data() == Image.open(io.BytesIO(sent[0])).get_flattened_data()


async def test_ark_group_keeps_images_around_a_partial_failure(ark_studio: Studio, fake_ark: FakeArkServer) -> None:
    task_id = await ark_studio.submit(
        {"model": SEEDREAM_40, "prompt": "four seasons [fault:partial:1]", "size": "2K", "group": {"max_images": 3}}
    )
    await ark_studio.run_jobs()
    task = await ark_studio.task(task_id)
    assert task["status"] == "completed", task
    assert [o["index"] for o in task["outputs"]] == [0, 2]
    assert [f["index"] for f in task["failures"]] == [1]
    assert task["failures"][0]["code"] == "content_moderation"
    assert task["failures"][0]["message_zh"].startswith("生成的图片未通过火山引擎内容审核。")
    assert fake_ark.stats.actions["images.generations"] == 1


@pytest.mark.parametrize(
    ("marker", "code", "calls"),
    [
        ("[fault:moderation-input]", "content_moderation", 1),
        ("[fault:auth]", "upstream_auth_failed", 1),
        ("[fault:429:times=10]", "upstream_rate_limited", 4),
        ("[fault:url-html]", "upstream_error", 1),
    ],
)
async def test_ark_failures_become_clear_task_errors(
    ark_studio: Studio, fake_ark: FakeArkServer, marker: str, code: str, calls: int
) -> None:
    task_id = await ark_studio.submit({"model": SEEDREAM_40, "prompt": f"x {marker}", "size": "2K"})
    await ark_studio.run_jobs()
    task = await ark_studio.task(task_id)
    assert task["status"] == "failed"
    assert task["error"]["code"] == code
    assert fake_ark.stats.actions["images.generations"] == calls
    assert ARK_KEY not in task["error"]["message"]


async def test_ark_429_then_success_is_retried(ark_studio: Studio, fake_ark: FakeArkServer) -> None:
    task_id = await ark_studio.submit({"model": SEEDREAM_40, "prompt": "busy [fault:429:times=2]", "size": "2K"})
    await ark_studio.run_jobs()
    task = await ark_studio.task(task_id)
    assert task["status"] == "completed", task
    assert fake_ark.stats.actions["images.generations"] == 3


async def test_crash_after_generation_downloads_without_paying_again(
    ark_studio: Studio, fake_ark: FakeArkServer
) -> None:
    """The process dies after the upstream answered, before the image was downloaded."""
    services = ark_studio.services
    task_id = await ark_studio.submit({"model": SEEDREAM_40, "prompt": "pay once", "size": "2K"})
    runner = services.worker.runner  # type: ignore[union-attr]
    real_fetch = runner.s.fetch
    crashed = asyncio.Event()

    async def dying_fetch(url: str):
        crashed.set()
        raise asyncio.CancelledError()  # the worker is killed mid-download

    runner.s.fetch = dying_fetch
    run = asyncio.create_task(services.worker.run(burst=True))  # type: ignore[union-attr]
    await asyncio.wait_for(crashed.wait(), timeout=10)
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    async with services.db.read() as session:
        row = (await session.execute(select(Task).where(Task.id == task_id))).scalar_one()
    assert row.status == "processing"
    assert "0" in row.checkpoint["urls"]

    runner.s.fetch = real_fetch
    await restart_takeover(services.worker.queue, "new-process")
    await ark_studio.run_jobs()
    task = await ark_studio.task(task_id)
    assert task["status"] == "completed", task
    assert len(task["outputs"]) == 1
    assert fake_ark.stats.actions["images.generations"] == 1
