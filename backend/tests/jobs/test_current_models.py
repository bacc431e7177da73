"""The current models end to end: their forms in GET /api/v1/models, the new request fields on the
wire of the fake Ark, web searches recorded on the task, a MODELS_FILE model without code."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.chinese import assert_chinese
from tests.conftest import Studio, StudioFactory
from tests.fakes.ark import FakeArkServer
from tests.providers.test_models_file import NEW_ARK_MODEL

ARK_KEY = "ark-test-key-5d1e07"
LITE = "doubao-seedream-5-0-260128"
PRO = "doubao-seedream-5-0-pro-260628"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


@pytest.fixture
async def fake_ark() -> AsyncIterator[FakeArkServer]:
    async with FakeArkServer(api_key=ARK_KEY, extra_models=["doubao-seedream-9-9-991231"]) as fake:
        yield fake


async def _studio(factory: StudioFactory, fake: FakeArkServer, **overrides: Any) -> Studio:
    studio: Studio = await factory(
        ark_api_key=ARK_KEY, ark_base_url=fake.base_url, result_url_hosts=["127.0.0.1"], **overrides
    )
    return studio


@pytest.fixture
async def ark_studio(studio_factory: StudioFactory, fake_ark: FakeArkServer) -> Studio:
    return await _studio(studio_factory, fake_ark)


async def _models(studio: Studio) -> dict[str, Any]:
    response = await studio.client.get("/api/v1/models")
    assert response.status_code == 200
    return {m["id"]: m for m in response.json()["models"]}


async def test_each_new_model_has_its_form_rules(ark_studio: Studio) -> None:
    models = await _models(ark_studio)
    lite = models[LITE]
    assert lite["status"] == "active" and lite["modes"] == ["text2image", "image2image", "group"]
    assert lite["size"]["levels"] == ["2K", "3K"]
    assert (lite["size"]["min_pixels"], lite["size"]["max_pixels"]) == (3_686_400, 10_404_496)
    assert {"label": "16:9 3K", "width": 4096, "height": 2304} in lite["size"]["presets"]
    assert lite["references"]["max"] == 14
    assert lite["params"]["output_formats"] == ["jpeg", "png"]
    assert lite["params"]["web_search"] is True and lite["params"]["layer_decomposition"] is False
    assert lite["params"]["optimize_prompt"] == ["standard"]
    assert lite["provenance"]["source"].startswith("https://www.volcengine.com/docs/82379")

    pro = models[PRO]
    assert pro["modes"] == ["text2image", "image2image"] and pro["params"]["group"] is None
    assert pro["references"]["max"] == 10 and pro["size"]["max_pixels"] == 4_194_304
    assert pro["params"]["web_search"] is False and pro["params"]["layer_decomposition"] is True
    assert pro["provenance"]["source"] == "reported"

    jimeng = models["jimeng_seedream46_cvtob"]
    assert jimeng["provider"] == "visual" and jimeng["sync"] is False
    assert jimeng["references"]["max"] == 14 and jimeng["prompt_max_length"] == 800
    assert jimeng["params"]["strength"] == {"min": 0.01, "max": 1, "default": 0.5}

    retired = models["doubao-seedream-3-0-t2i-250415"]
    assert retired["status"] == "retired" and retired["available"] is True
    assert models["doubao-seedream-4-0-250828"]["params"]["web_search"] is False
    assert models["doubao-seedream-4-0-250828"]["params"]["output_formats"] == []


async def test_web_search_passes_through_and_is_recorded(ark_studio: Studio, fake_ark: FakeArkServer) -> None:
    fake_ark.web_searches = 3
    task_id = await ark_studio.submit(
        {"model": LITE, "prompt": "today's skyline", "size": "2K", "web_search": True,
         "output_format": "png"}
    )
    await ark_studio.run_jobs()
    task = await ark_studio.task(task_id)
    assert task["status"] == "completed", task
    [body] = fake_ark.stats.bodies_for("images.generations")
    assert body["tools"] == [{"type": "web_search"}] and body["output_format"] == "png"
    assert task["web_searches"] == 3
    assert task["parameters"]["web_search"] is True and task["parameters"]["output_format"] == "png"
    out = task["outputs"][0]
    assert out["content_type"] == "image/png"
    data = (await ark_studio.client.get(out["url"])).content
    assert Image.open(io.BytesIO(data)).format == "PNG"


async def test_web_searches_of_a_group_come_from_the_completed_event(ark_studio: Studio, fake_ark: FakeArkServer) -> None:
    task_id = await ark_studio.submit(
        {"model": LITE, "prompt": "a comic about this week's news", "size": "2K", "web_search": True,
         "group": {"max_images": 2}}
    )
    await ark_studio.run_jobs()
    task = await ark_studio.task(task_id)
    assert task["status"] == "completed", task
    [body] = fake_ark.stats.bodies_for("images.generations")
    assert body["stream"] is True and body["tools"] == [{"type": "web_search"}]
    # The fake counts one search per generated image.
    assert task["web_searches"] == 2 and task["billed_images"] == 2


async def test_without_web_search_nothing_is_sent_or_recorded(ark_studio: Studio, fake_ark: FakeArkServer) -> None:
    task_id = await ark_studio.submit({"model": LITE, "prompt": "a lighthouse", "size": "3K"})
    await ark_studio.run_jobs()
    task = await ark_studio.task(task_id)
    assert task["status"] == "completed", task
    [body] = fake_ark.stats.bodies_for("images.generations")
    assert "tools" not in body and "output_format" not in body and body["size"] == "3K"
    assert task["web_searches"] == 0
    assert task["outputs"][0]["content_type"] == "image/jpeg"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "doubao-seedream-4-5-251128", "prompt": "x", "web_search": True}, "web_search"),
        ({"model": PRO, "prompt": "x", "web_search": True}, "web_search"),
        ({"model": "doubao-seedream-4-0-250828", "prompt": "x", "output_format": "png"}, "output_format"),
        ({"model": PRO, "prompt": "x", "size": "3K"}, "size"),
        ({"model": LITE, "prompt": "x", "size": "4096x4096"}, "size"),
        ({"model": PRO, "prompt": "x", "group": {"max_images": 2}}, "group"),
    ],
)
async def test_new_fields_are_refused_where_the_model_lacks_them(
    ark_studio: Studio, fake_ark: FakeArkServer, body: dict[str, Any], field: str
) -> None:
    response = await ark_studio.client.post("/api/v1/generate/text2image", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["details"]["field"] == field
    zh = (await ark_studio.client.post("/api/v1/generate/text2image", json=body, headers=ZH)).json()["error"]
    assert_chinese(zh["message"], error["message"], verbatim=["Seedream", "Lite", "Pro", "JPEG"])
    assert fake_ark.stats.bodies_for("images.generations") == []


async def test_an_unknown_output_format_is_a_422(ark_studio: Studio) -> None:
    response = await ark_studio.client.post(
        "/api/v1/generate/text2image", json={"model": LITE, "prompt": "x", "output_format": "gif"}
    )
    assert response.status_code == 422


async def test_a_retired_model_still_works(ark_studio: Studio) -> None:
    task_id = await ark_studio.submit({"model": "doubao-seedream-3-0-t2i-250415", "prompt": "x", "size": "1024x1024"})
    await ark_studio.run_jobs()
    assert (await ark_studio.task(task_id))["status"] == "completed"


async def test_a_model_added_by_models_file_works_end_to_end(
    studio_factory: StudioFactory, fake_ark: FakeArkServer, tmp_path: Path
) -> None:
    path = tmp_path / "my-models.toml"
    path.write_text(NEW_ARK_MODEL, encoding="utf-8")
    studio = await _studio(studio_factory, fake_ark, models_file=path)
    models = await _models(studio)
    added = models["doubao-seedream-9-9-991231"]
    assert added["user_defined"] is True and added["available"] is True
    assert added["size"]["levels"] == ["2K"] and added["references"]["max"] == 3
    task_id = await studio.submit({"model": "doubao-seedream-9-9-991231", "prompt": "a fox"})
    await studio.run_jobs()
    task = await studio.task(task_id)
    assert task["status"] == "completed", task
    [body] = fake_ark.stats.bodies_for("images.generations")
    assert body["model"] == "doubao-seedream-9-9-991231" and body["size"] == "2K"
    # Its rules come from the file: a size above its max_pixels is refused before any call.
    response = await studio.client.post(
        "/api/v1/generate/text2image",
        json={"model": "doubao-seedream-9-9-991231", "prompt": "x", "size": "4096x4096"},
    )
    assert response.status_code == 422 and response.json()["error"]["details"]["field"] == "size"


def test_the_price_table_and_the_catalogue_agree() -> None:
    from app.billing.prices import PriceTable
    from app.providers.catalog.builtin import BUILTIN_MODELS

    table = PriceTable.load()
    assert table.gaps({spec.id: spec.price_unit for spec in BUILTIN_MODELS}) == ([], [])
    assert table.gaps({"doubao-seedream-9-9-991231": "image", "demo": "call"}) == (["doubao-seedream-9-9-991231"], ["demo"])


async def test_a_model_added_by_file_without_a_price_is_estimated_as_unconfirmed(
    studio_factory: StudioFactory, fake_ark: FakeArkServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "my-models.toml"
    path.write_text(NEW_ARK_MODEL, encoding="utf-8")
    with caplog.at_level("WARNING"):
        studio = await _studio(studio_factory, fake_ark, models_file=path)
    assert any(r.message == "prices.missing" and r.__dict__["models"] == ["doubao-seedream-9-9-991231"]
               for r in caplog.records)
    response = await studio.client.post(
        "/api/v1/usage/estimate", json={"model": "doubao-seedream-9-9-991231", "prompt": "x", "num_images": 2}
    )
    assert response.status_code == 200, response.text
    estimate = response.json()
    assert estimate["confirmed"] is False and estimate["cost_max_cny"] == 0.5 and estimate["unit"] == "image"


def test_web_searches_survive_a_rerun_through_the_checkpoint() -> None:
    """Counted into the checkpoint (saved with each stored image), so a job that runs again after
    a crash keeps the searches of the calls it will not repeat."""
    import asyncio
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from app.jobs.handlers import TaskJobContext

    def context(checkpoint: dict[str, Any]) -> TaskJobContext:
        task = SimpleNamespace(
            id="t" * 26, created_at=datetime.now(UTC), model=LITE, prompt="p", negative_prompt=None,
            parameters={"references": []}, checkpoint=checkpoint, expected_images=2, images=[], failures=[],
            unit_price_micro=0, operation=None, parent_image_id=None,
        )
        return TaskJobContext(services=None, task=task, cancel=asyncio.Event())  # type: ignore[arg-type]

    first = context({})
    first.add_web_searches(2)
    first.add_web_searches(0)
    assert first.web_searches == 2 and first.checkpoint["web_searches"] == 2
    rerun = context(dict(first.checkpoint))
    rerun.add_web_searches(1)
    assert rerun.web_searches == 3
