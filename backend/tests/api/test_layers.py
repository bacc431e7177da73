"""Layered images (issue 17 item 2c) through the API: generation on the demo provider and on the
fake Ark, storage of the whole set, resume after a crash mid-download, the ZIP with its manifest,
validation, isolation between members, deletion and the orphan scan."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.models.layers import ImageLayer
from app.models.task import Task
from tests.api.test_users import ADMIN, PASSWORD, client_of, make_member, signed_in
from tests.chinese import assert_chinese
from tests.conftest import Studio, StudioFactory, restart_takeover
from tests.fakes.ark import SEEDREAM_50_PRO, FakeArkServer
from tests.fakes.ark_layers import boxes

ARK_KEY = "ark-test-key-layers-81c"
DEMO = {"model": "demo", "prompt": "a harbour at dusk", "width": 384, "height": 256, "layer_decomposition": True}
PRO = {"model": SEEDREAM_50_PRO, "prompt": "a poster", "size": "1024x1024", "layer_decomposition": True}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


@pytest.fixture
async def fake_ark() -> AsyncIterator[FakeArkServer]:
    async with FakeArkServer(api_key=ARK_KEY, max_image_side=256) as fake:
        yield fake


@pytest.fixture
async def ark_studio(studio_factory: StudioFactory, fake_ark: FakeArkServer) -> Studio:
    studio: Studio = await studio_factory(
        ark_api_key=ARK_KEY, ark_base_url=fake_ark.base_url, result_url_hosts=["127.0.0.1"]
    )
    return studio


async def _completed(studio: Studio, body: dict[str, Any]) -> dict[str, Any]:
    task_id = await studio.submit(body)
    await studio.run_jobs()
    task = await studio.task(task_id)
    assert task["status"] == "completed", task
    return task


async def _layers(studio: Studio, image_id: str) -> dict[str, Any]:
    response = await studio.client.get(f"/api/v1/images/{image_id}/layers")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _files(studio: Studio) -> set[str]:
    root = studio.services.store.output_dir
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


# --- demo provider: the whole flow offline ---------------------------------------------------------


async def test_a_demo_layered_image_is_one_set_with_transparent_layers(studio: Studio) -> None:
    task = await _completed(studio, DEMO)
    assert task["is_demo"] is True and task["parameters"]["layer_decomposition"] is True
    [output] = task["outputs"]
    layered = await _layers(studio, output["id"])
    assert (layered["width"], layered["height"]) == (384, 256)
    assert layered["is_demo"] is True and layered["base_url"] == output["url"]
    layers = layered["layers"]
    assert [layer["position"] for layer in layers] == [1, 2, 3]
    assert [layer["z_index"] for layer in layers] == [1, 2, 3]
    for layer in layers:
        assert layer["full_canvas"] is True and layer["name"].startswith("DEMO")
        assert layer["description"] and layer["content_type"] == "image/png"
        x0, y0, x1, y1 = layer["box"]
        assert 0 <= x0 < x1 <= 384 and 0 <= y0 < y1 <= 256
        served = await studio.client.get(layer["url"])
        assert served.status_code == 200
        with Image.open(io.BytesIO(served.content)) as im:
            assert im.mode == "RGBA" and im.size == (384, 256)
            # Transparent outside the box, something drawn inside it.
            assert im.getchannel("A").getbbox() == (x0, y0, x1, y1)
        thumb = await studio.client.get(layer["thumbnail_url"])
        assert thumb.status_code == 200
        with Image.open(io.BytesIO(thumb.content)) as im:
            assert im.format == "WEBP" and im.mode == "RGBA"


async def test_the_zip_holds_png_layers_with_their_alpha_and_a_manifest(studio: Studio) -> None:
    task = await _completed(studio, DEMO)
    image_id = task["outputs"][0]["id"]
    layered = await _layers(studio, image_id)
    response = await studio.client.get(layered["zip_url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "_layers.zip" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["canvas"] == {"width": 384, "height": 256}
    assert manifest["demo"] is True and manifest["image_id"] == image_id and manifest["version"] == 1
    assert manifest["base"]["file"] == "00_base.png" and manifest["base"]["z_index"] == 0
    assert len(manifest["layers"]) == 3
    for entry, layer in zip(manifest["layers"], layered["layers"], strict=True):
        assert entry["z_index"] == layer["z_index"] and entry["name"] == layer["name"]
        assert entry["description"] == layer["description"]
        assert entry["bounding_box"] == {"absolute": layer["box"], "normalized": layer["box_normalized"]}
        assert entry["file"].startswith(f"{layer['position']:02d}_") and entry["file"].endswith(".png")
        with Image.open(io.BytesIO(archive.read(entry["file"]))) as packed:
            assert packed.mode == "RGBA"
            served = Image.open(io.BytesIO((await studio.client.get(layer["url"])).content))
            assert packed.tobytes() == served.tobytes()
    assert sorted(archive.namelist()) == sorted(["manifest.json", manifest["base"]["file"],
                                                 *(e["file"] for e in manifest["layers"])])


async def test_a_layer_file_gone_from_disk_is_marked_in_the_list_and_the_manifest(studio: Studio) -> None:
    task = await _completed(studio, DEMO)
    image_id = task["outputs"][0]["id"]
    layered = await _layers(studio, image_id)
    gone = layered["layers"][1]
    (studio.services.store.output_dir / gone["url"].removeprefix("/images/")).unlink()
    layered = await _layers(studio, image_id)
    assert [layer["missing"] for layer in layered["layers"]] == [False, True, False]
    archive = zipfile.ZipFile(io.BytesIO((await studio.client.get(layered["zip_url"])).content))
    manifest = json.loads(archive.read("manifest.json"))
    assert [entry.get("missing", False) for entry in manifest["layers"]] == [False, True, False]
    assert manifest["layers"][1]["file"] not in archive.namelist()
    assert manifest["layers"][0]["file"] in archive.namelist()


async def test_an_image_without_layers_has_an_empty_set_and_no_zip(studio: Studio) -> None:
    task = await _completed(studio, {**DEMO, "layer_decomposition": False})
    image_id = task["outputs"][0]["id"]
    assert (await _layers(studio, image_id))["layers"] == []
    response = await studio.client.get(f"/api/v1/images/{image_id}/layers.zip", headers=ZH)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert_chinese(response.json()["error"]["message"], verbatim=[image_id])  # a hex id can hold a run of letters
    missing = await studio.client.get("/api/v1/images/nosuchimage00000/layers")
    assert missing.status_code == 404


async def test_deleting_the_task_removes_the_layer_files_and_rows(studio: Studio) -> None:
    task = await _completed(studio, DEMO)
    assert len([f for f in _files(studio) if "l00" in f]) == 6  # 3 layers + 3 thumbnails
    assert await studio.services.housekeeping.find_orphans() == []
    response = await studio.client.delete(f"/api/v1/history/{task['task_id']}")
    assert response.status_code == 204
    assert _files(studio) == set()
    async with studio.services.db.read() as session:
        assert (await session.execute(select(func.count()).select_from(ImageLayer))).scalar_one() == 0


# --- validation -----------------------------------------------------------------------------------


async def test_layers_on_a_model_without_them_are_refused_in_both_languages(studio: Studio) -> None:
    response = await studio.client.post(
        "/api/v1/generate/text2image",
        json={"model": "demo", "prompt": "x", "width": 256, "height": 256, "layer_decomposition": True,
              "group": {"max_images": 2}},
        headers=ZH,
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["details"]["field"] == "layer_decomposition"
    assert_chinese(error["message"])


async def test_ark_validation_of_layered_requests(ark_studio: Studio) -> None:
    for body, field in [
        ({**PRO, "output_format": "jpeg"}, "output_format"),
        ({**PRO, "model": "doubao-seedream-4-0-250828", "size": "2K"}, "layer_decomposition"),
    ]:
        response = await ark_studio.client.post("/api/v1/generate/text2image", json=body, headers=ZH)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["details"]["field"] == field
        assert_chinese(error["message"], verbatim=["Seedream", "layer_decomposition", "PNG"])
    models = (await ark_studio.client.get("/api/v1/models")).json()["models"]
    takes = {m["id"] for m in models if m["params"]["layer_decomposition"]}
    assert SEEDREAM_50_PRO in takes and "doubao-seedream-5-0-260128" not in takes


# --- the fake Ark: the wire format, crash and resume -----------------------------------------------


async def test_an_ark_layered_image_is_stored_with_its_boxes(ark_studio: Studio, fake_ark: FakeArkServer) -> None:
    task = await _completed(ark_studio, PRO)
    [body] = fake_ark.stats.bodies_for("images.generations")
    assert body["layer_decomposition"] is True and body["output_format"] == "png"
    layered = await _layers(ark_studio, task["outputs"][0]["id"])
    width, height = layered["width"], layered["height"]
    expected = boxes(width, height, 3)
    assert [tuple(layer["box"]) for layer in layered["layers"]] == expected
    for layer, (x0, y0, x1, y1) in zip(layered["layers"], expected, strict=True):
        # The fake cuts each layer to its box: it is drawn into the box, not at 0,0.
        assert layer["full_canvas"] is False and (layer["width"], layer["height"]) == (x1 - x0, y1 - y0)
        assert layer["name"] and layer["description"]
    assert task["billed_images"] == 1


async def test_normalised_boxes_alone_give_absolute_ones_too(ark_studio: Studio) -> None:
    task = await _completed(ark_studio, {**PRO, "prompt": "n [fault:layers-normalized]"})
    layered = await _layers(ark_studio, task["outputs"][0]["id"])
    width, height = layered["width"], layered["height"]
    for layer, box in zip(layered["layers"], boxes(width, height, 3), strict=True):
        assert layer["box_normalized"] is not None
        assert all(abs(a - b) <= 1 for a, b in zip(layer["box"], box, strict=True))


async def test_garbage_layers_fail_the_task_clearly_and_leave_no_file(ark_studio: Studio) -> None:
    task_id = await ark_studio.submit({**PRO, "prompt": "x [fault:layers-garbage]"})
    await ark_studio.run_jobs()
    task = await ark_studio.task(task_id)
    assert task["status"] == "failed"
    assert task["error"]["code"] == "upstream_error" and "bounding_box" in task["error"]["message"]
    assert "bounding_box" in task["error"]["message_zh"]
    assert _files(ark_studio) == set()


async def test_a_layer_that_cannot_be_downloaded_fails_the_set_and_leaves_no_file(ark_studio: Studio) -> None:
    task_id = await ark_studio.submit({**PRO, "prompt": "x [fault:layer-url-404]"})
    await ark_studio.run_jobs()
    task = await ark_studio.task(task_id)
    assert task["status"] == "failed" and task["outputs"] == []
    assert _files(ark_studio) == set()


async def test_a_crash_mid_download_resumes_the_set_without_paying_again(
    ark_studio: Studio, fake_ark: FakeArkServer
) -> None:
    services = ark_studio.services
    task_id = await ark_studio.submit(PRO)
    runner = services.worker.runner  # type: ignore[union-attr]
    real_fetch = runner.s.fetch
    crashed = asyncio.Event()
    fetched: list[str] = []

    async def dying_fetch(url: str) -> Any:
        fetched.append(url)
        if len(fetched) == 3:  # the base and a layer are in; the process dies on the next layer
            crashed.set()
            raise asyncio.CancelledError()
        return await real_fetch(url)

    runner.s.fetch = dying_fetch
    run = asyncio.create_task(services.worker.run(burst=True))  # type: ignore[union-attr]
    await asyncio.wait_for(crashed.wait(), timeout=10)
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    async with services.db.read() as session:
        row = (await session.execute(select(Task).where(Task.id == task_id))).scalar_one()
    assert row.status == "processing"
    assert "0" in row.checkpoint["urls"] and len(row.checkpoint["layers"]["0"]) == 3

    runner.s.fetch = real_fetch
    await restart_takeover(services.worker.queue, "new-process")
    await ark_studio.run_jobs()
    task = await ark_studio.task(task_id)
    assert task["status"] == "completed", task
    assert fake_ark.stats.actions["images.generations"] == 1
    layered = await _layers(ark_studio, task["outputs"][0]["id"])
    assert [layer["position"] for layer in layered["layers"]] == [1, 2, 3]
    async with services.db.read() as session:
        assert (await session.execute(select(func.count()).select_from(ImageLayer))).scalar_one() == 3
        row = (await session.execute(select(Task).where(Task.id == task_id))).scalar_one()
    assert not row.checkpoint.get("layers") and not row.checkpoint.get("urls")
    # One file per layer and thumbnail, the base and its thumbnail: nothing twice.
    assert len(_files(ark_studio)) == 8


async def test_a_rerun_after_the_files_but_before_the_rows_overwrites_them(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after every file of the set was written, before its rows landed."""
    services = studio.services
    task_id = await studio.submit(DEMO)
    db = services.db
    real_run_write = db.run_write
    calls = {"n": 0}

    async def dying_write(fn: Any) -> Any:
        # The image row's write is the one that adds rows; die right there, once.
        if calls["n"] == 0 and "record" in getattr(fn, "__name__", ""):
            calls["n"] += 1
            raise asyncio.CancelledError()
        return await real_run_write(fn)

    monkeypatch.setattr(db, "run_write", dying_write)
    run = asyncio.create_task(services.worker.run(burst=True))  # type: ignore[union-attr]
    await asyncio.gather(run, return_exceptions=True)
    before = _files(studio)
    assert len(before) == 8  # every file of the set is there, no row points at it yet
    monkeypatch.setattr(db, "run_write", real_run_write)
    await restart_takeover(services.worker.queue, "new-process")
    await studio.run_jobs()
    task = await studio.task(task_id)
    assert task["status"] == "completed", task
    assert _files(studio) == before
    assert len((await _layers(studio, task["outputs"][0]["id"]))["layers"]) == 3


# --- isolation ------------------------------------------------------------------------------------


async def test_another_member_cannot_see_a_layered_set(studio_factory: StudioFactory) -> None:
    guarded: Studio = await studio_factory(app_password=PASSWORD)
    await make_member(guarded, "alice")
    await make_member(guarded, "bob")
    async with signed_in(guarded, "alice") as alice, signed_in(guarded, "bob") as bob:
        response = await alice.post("/api/v1/generate/text2image", json=DEMO)
        assert response.status_code == 202
        await guarded.run_jobs()
        task = (await alice.get(f"/api/v1/tasks/{response.json()['task_id']}")).json()
        image_id = task["outputs"][0]["id"]
        layered = (await alice.get(f"/api/v1/images/{image_id}/layers")).json()
        layer_url = layered["layers"][0]["url"]
        assert (await alice.get(layer_url)).status_code == 200
        assert (await alice.get(layered["zip_url"])).status_code == 200
        for path in (f"/api/v1/images/{image_id}/layers", layered["zip_url"], layer_url,
                     layered["layers"][0]["thumbnail_url"]):
            denied = await bob.get(path)
            assert denied.status_code == 404, path
        check = "/api/v1/auth/check"
        assert (await alice.get(check, headers={"X-Original-URI": layer_url})).status_code == 204
        assert (await bob.get(check, headers={"X-Original-URI": layer_url})).status_code == 403
        async with client_of(guarded) as nobody:
            assert (await nobody.get(f"/api/v1/images/{image_id}/layers")).status_code == 401
        assert (await guarded.client.get(f"/api/v1/images/{image_id}/layers", headers=ADMIN)).status_code == 200


async def test_rebuilding_the_history_from_files_does_not_turn_layers_into_images(
    studio: Studio, tmp_path: Path
) -> None:
    from app.services.rebuild import rebuild_history

    task = await _completed(studio, DEMO)
    report = await rebuild_history(studio.services.db, studio.services.store, studio.services.catalog)
    assert report.tasks_added == 0 and report.images_found == 8 - 4  # images only, not thumbnails
    assert not report.skipped
    assert len((await studio.task(task["task_id"]))["outputs"]) == 1
