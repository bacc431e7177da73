"""POST /api/v1/edit/{operation} on the demo provider: each operation end to end, the mask
encoding, the validation of every bad combination, lineage, history filter, budgets."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw

from tests.api.test_users import PASSWORD, make_member, signed_in
from tests.chinese import assert_chinese
from tests.conftest import Studio, StudioFactory


def _png(width: int = 256, height: int = 192, color: str = "steelblue", mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    image = Image.new(mode, (width, height), color)
    ImageDraw.Draw(image).rectangle((width // 4, height // 4, width // 2, height // 2), fill="orange")
    image.save(buf, "PNG")
    return buf.getvalue()


def _mask(
    width: int = 256, height: int = 192, box: tuple[int, int, int, int] | None = (64, 48, 128, 96), *, alpha: bool = True
) -> bytes:
    """A brush mask as the UI paints it: opaque strokes on a transparent canvas (or white on black)."""
    if alpha:
        image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        if box:
            ImageDraw.Draw(image).rectangle(box, fill=(255, 40, 40, 255))
    else:
        image = Image.new("L", (width, height), 0)
        if box:
            ImageDraw.Draw(image).rectangle(box, fill=255)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


async def _upload(studio: Studio, data: bytes) -> str:
    response = await studio.client.post("/api/v1/uploads", files={"file": ("x.png", data, "image/png")})
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


async def _generated(studio: Studio, width: int = 512, height: int = 384) -> dict[str, Any]:
    task_id = await studio.submit({"model": "demo", "prompt": "a lake", "width": width, "height": height, "seed": 3})
    await studio.run_jobs()
    return (await studio.task(task_id))["outputs"][0]


async def _edit(studio: Studio, operation: str, body: dict[str, Any], **kw: Any) -> Any:
    return await studio.client.post(f"/api/v1/edit/{operation}", json=body, **kw)


async def _run(studio: Studio, operation: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await _edit(studio, operation, body)
    assert response.status_code == 202, response.text
    await studio.run_jobs()
    task = await studio.task(response.json()["task_id"])
    assert task["status"] == "completed", task
    return task


async def _pixels(studio: Studio, url: str) -> Image.Image:
    response = await studio.client.get(url)
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content)).convert("RGB")


async def test_inpaint_from_history_end_to_end(studio: Studio) -> None:
    parent = await _generated(studio)
    mask = await _upload(studio, _mask(512, 384, (100, 100, 300, 250)))
    task = await _run(studio, "inpaint", {"model": "demo", "source": {"image_id": parent["id"]}, "mask": {"upload_id": mask}, "prompt": "a red boat", "seed": 5})
    assert task["type"] == "edit" and task["operation"] == "inpaint" and task["is_demo"] is True
    assert task["parent_image_id"] == parent["id"]
    assert task["prompt"] == "a red boat"
    out = task["outputs"][0]
    assert (out["width"], out["height"]) == (512, 384)
    before, after = await _pixels(studio, parent["url"]), await _pixels(studio, out["url"])
    # Outside the mask (and the DEMO badge in the top-left corner) the picture is the source's.
    assert ImageChops.difference(before.crop((320, 270, 512, 384)), after.crop((320, 270, 512, 384))).getbbox() is None
    assert ImageChops.difference(before.crop((110, 110, 290, 240)), after.crop((110, 110, 290, 240))).getbbox() is not None


ZH = {"accept-language": "zh-CN,zh;q=0.9"}


async def _refused(studio: Studio, operation: str, body: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    """The refusal in both languages, and nothing queued or reserved."""
    english = await _edit(studio, operation, body)
    assert english.status_code == status, english.text
    error = english.json()["error"]
    assert error["code"] == code, error
    chinese = (await _edit(studio, operation, body, headers=ZH)).json()["error"]
    assert chinese["code"] == code
    assert_chinese(chinese["message"], error["message"], verbatim=[body.get("model"), "mask.upload_id", "expand", "aspect", "top", "bottom", "left", "right", "4K", "8K", "JPEG", "prompt", "mask", "seed", "resolution", "source"])
    history = (await studio.client.get("/api/v1/tasks")).json()
    assert not [t for t in history.get("items", []) if t["type"] == "edit"]
    return dict(error)


@pytest.fixture
async def inputs(studio: Studio) -> dict[str, str]:
    return {
        "source": await _upload(studio, _png(256, 192)),
        "mask": await _upload(studio, _mask(256, 192)),
        "mask_other_aspect": await _upload(studio, _mask(200, 200, (10, 10, 50, 50))),
        "mask_empty": await _upload(studio, _mask(256, 192, None, alpha=False)),
        "huge": await _upload(studio, _png(4200, 300)),
        "wide": await _upload(studio, _png(2000, 130)),
    }


BAD: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("mask of another size and aspect", "inpaint", {"mask": "mask_other_aspect", "prompt": "x"}, 422, "mask_size_mismatch"),
    ("empty mask", "inpaint", {"mask": "mask_empty", "prompt": "x"}, 422, "mask_empty"),
    ("inpaint without prompt", "inpaint", {"mask": "mask"}, 422, "prompt_required"),
    ("inpaint without mask", "inpaint", {"prompt": "x"}, 422, "invalid_mask"),
    ("erase with a prompt", "erase", {"mask": "mask", "prompt": "x"}, 422, "operation_not_supported"),
    ("outpaint with a mask", "outpaint", {"mask": "mask", "expand": {"top": 0.5}}, 422, "operation_not_supported"),
    ("outpaint without expand", "outpaint", {}, 422, "expand_out_of_range"),
    ("outpaint expanding nothing", "outpaint", {"expand": {"top": 0}}, 422, "expand_out_of_range"),
    ("outpaint edge above 1", "outpaint", {"expand": {"left": 1.5}}, 422, "expand_out_of_range"),
    ("outpaint to the same aspect", "outpaint", {"expand": {"aspect": "4:3"}}, 422, "expand_out_of_range"),
    ("outpaint beyond the aspect bound", "outpaint", {"source": "wide", "expand": {"left": 0.5}}, 422, "expand_out_of_range"),
    ("a model without credentials", "outpaint", {"expand": {"top": 0.5}, "model": "jimeng_t2i_v40"}, 422, "model_unavailable"),
    ("upscale with expand", "upscale", {"expand": {"top": 0.5}}, 422, "operation_not_supported"),
    ("upscale with a seed", "upscale", {"seed": 3}, 422, "operation_not_supported"),
    ("resolution on inpaint", "inpaint", {"mask": "mask", "prompt": "x", "resolution": "4k"}, 422, "operation_not_supported"),
    ("source too large", "upscale", {"source": "huge"}, 422, "source_too_large"),
    ("operation the model lacks", "inpaint", {"model": "doubao-seedream-4-0-250828", "mask": "mask", "prompt": "x"}, 422, "operation_not_supported"),
    ("unknown upload", "upscale", {"source": "0" * 64}, 422, "invalid_request"),
]


@pytest.mark.parametrize(("operation", "fields", "status", "code"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
async def test_bad_combinations_are_refused_before_any_spend(
    studio: Studio, inputs: dict[str, str], operation: str, fields: dict[str, Any], status: int, code: str
) -> None:
    body: dict[str, Any] = {"model": fields.pop("model", "demo"), "source": {"upload_id": inputs[fields.pop("source", "source")] if fields.get("source", "source") in inputs else fields.pop("source")}}
    if "mask" in fields:
        body["mask"] = {"upload_id": inputs[fields.pop("mask")]}
    body.update(fields)
    await _refused(studio, operation, body, status, code)


async def test_erase_fills_the_area_from_its_surroundings(studio: Studio) -> None:
    source = await _upload(studio, _png(256, 192, "seagreen"))
    # The orange square of the source is what gets erased.
    mask = await _upload(studio, _mask(256, 192, (60, 44, 132, 100), alpha=False))
    task = await _run(studio, "erase", {"model": "demo", "source": {"upload_id": source}, "mask": {"upload_id": mask}})
    assert task["operation"] == "erase" and task["parent_image_id"] is None
    after = await _pixels(studio, task["outputs"][0]["url"])
    # The square is gone: its middle now has the green of around it, not orange.
    r, g, b = after.getpixel((96, 72))
    assert g > r and abs(g - 139) < 40, (r, g, b)


async def test_outpaint_grows_the_canvas_and_keeps_the_source(studio: Studio) -> None:
    source_bytes = _png(200, 100)
    source = await _upload(studio, source_bytes)
    task = await _run(studio, "outpaint", {"model": "demo", "source": {"upload_id": source}, "expand": {"top": 0.5, "right": 0.25}, "prompt": "more sky"})
    out = task["outputs"][0]
    assert (out["width"], out["height"]) == (250, 150)
    after = await _pixels(studio, out["url"])
    original = Image.open(io.BytesIO(source_bytes)).convert("RGB")
    # The source sits below the new top band, at the left edge.
    assert ImageChops.difference(after.crop((100, 100, 200, 150)), original.crop((100, 50, 200, 100))).getbbox() is None
    # The target-aspect form: 2:1 -> 1:1 grows top and bottom evenly.
    square = await _run(studio, "outpaint", {"model": "demo", "source": {"upload_id": source}, "expand": {"aspect": "1:1"}})
    assert (square["outputs"][0]["width"], square["outputs"][0]["height"]) == (200, 200)
    assert square["parameters"]["expand_top"] == square["parameters"]["expand_bottom"] == 0.5


@pytest.mark.parametrize(("resolution", "expected"), [(None, (4096, 2048)), ("8k", (8192, 4096))])
async def test_upscale_output_size_on_demo(studio: Studio, resolution: str | None, expected: tuple[int, int]) -> None:
    source = await _upload(studio, _png(300, 150))
    body: dict[str, Any] = {"model": "demo", "source": {"upload_id": source}}
    if resolution:
        body["resolution"] = resolution
    task = await _run(studio, "upscale", body)
    out = task["outputs"][0]
    assert (out["width"], out["height"]) == expected
    assert task["parameters"]["resolution"] == (resolution or "4k")
    assert task["prompt"] == "" and out["seed"] is None


async def test_a_same_aspect_mask_is_scaled_and_a_grey_one_read_by_luminance(studio: Studio) -> None:
    source = await _upload(studio, _png(256, 192))
    # Drawn at half size on a screen canvas, white on black, no alpha.
    mask = await _upload(studio, _mask(128, 96, (32, 24, 64, 48), alpha=False))
    task = await _run(studio, "inpaint", {"model": "demo", "source": {"upload_id": source}, "mask": {"upload_id": mask}, "prompt": "x"})
    mask_id = task["parameters"]["references"][1]
    data, content_type = studio.services.store.load_upload(mask_id)
    sent = Image.open(io.BytesIO(data))
    assert content_type == "image/png" and sent.mode == "L" and sent.size == (256, 192)
    assert sent.getpixel((96, 72)) == 255 and sent.getpixel((10, 10)) == 0 and sent.getpixel((140, 100)) == 0


async def test_default_model_is_one_that_has_the_operation(studio: Studio) -> None:
    source = await _upload(studio, _png(64, 64))
    task = await _run(studio, "upscale", {"source": {"upload_id": source}})
    assert task["model"] == "demo" and task["provider"] == "demo"


async def test_lineage_chain_history_filter_and_cursor(studio: Studio) -> None:
    parent = await _generated(studio, 384, 288)
    mask = await _upload(studio, _mask(384, 288))
    first = await _run(studio, "inpaint", {"model": "demo", "source": {"image_id": parent["id"]}, "mask": {"upload_id": mask}, "prompt": "a boat"})
    second = await _run(studio, "outpaint", {"model": "demo", "source": {"image_id": first["outputs"][0]["id"]}, "expand": {"left": 0.5}})
    third = await _run(studio, "upscale", {"model": "demo", "source": {"image_id": second["outputs"][0]["id"]}})
    assert third["parent_image_id"] == second["outputs"][0]["id"]

    lineage = (await studio.client.get(f"/api/v1/images/{third['outputs'][0]['id']}/lineage")).json()
    steps = lineage["ancestors"]
    assert [s["image_id"] for s in steps] == [second["outputs"][0]["id"], first["outputs"][0]["id"], parent["id"]]
    assert [s["operation"] for s in steps] == ["outpaint", "inpaint", None]
    assert steps[-1]["type"] == "text2image" and lineage["from_upload"] is False and lineage["broken_at"] is None
    assert steps[0]["url"] == second["outputs"][0]["url"]

    # History by operation, with keyset pages.
    page = (await studio.client.get("/api/v1/history", params={"operation": "inpaint"})).json()
    assert [t["task_id"] for t in page["items"]] == [first["task_id"]] and page["total"] == 1
    edits = (await studio.client.get("/api/v1/history", params={"type": "edit", "page_size": 2})).json()
    assert edits["total"] == 3 and len(edits["items"]) == 2 and edits["next_cursor"]
    rest = (await studio.client.get("/api/v1/history", params={"type": "edit", "page_size": 2, "cursor": edits["next_cursor"]})).json()
    assert [t["task_id"] for t in edits["items"] + rest["items"]] == [third["task_id"], second["task_id"], first["task_id"]]
    assert (await studio.client.get("/api/v1/history", params={"operation": "smudge"})).status_code == 422

    # Deleting the middle of the chain: the lineage says where it breaks.
    assert (await studio.client.delete(f"/api/v1/history/{second['task_id']}")).status_code == 204
    broken = (await studio.client.get(f"/api/v1/images/{third['outputs'][0]['id']}/lineage")).json()
    assert broken["ancestors"] == [] and broken["broken_at"] == second["outputs"][0]["id"]
    assert (await studio.client.get("/api/v1/images/nosuchimage/lineage")).status_code == 404


async def test_retry_of_an_edit_is_the_same_edit(studio: Studio) -> None:
    parent = await _generated(studio, 384, 288)
    task = await _run(studio, "upscale", {"model": "demo", "source": {"image_id": parent["id"]}})
    retried = await studio.client.post(f"/api/v1/tasks/{task['task_id']}/retry")
    assert retried.status_code in (200, 201, 202), retried.text
    await studio.run_jobs()
    again = await studio.task(retried.json()["task_id"])
    assert again["status"] == "completed" and again["operation"] == "upscale" and again["parent_image_id"] == parent["id"]
    assert (again["outputs"][0]["width"], again["outputs"][0]["height"]) == (4096, 3072)


async def test_idempotency_key_returns_the_same_edit(studio: Studio) -> None:
    source = await _upload(studio, _png(64, 64))
    body = {"model": "demo", "source": {"upload_id": source}}
    headers = {"Idempotency-Key": "edit-once-1"}
    first = await _edit(studio, "upscale", body, headers=headers)
    second = await _edit(studio, "upscale", body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["task_id"] == second.json()["task_id"]


async def test_another_members_image_and_upload_are_not_found(studio_factory: StudioFactory) -> None:
    studio: Studio = await studio_factory(app_password=PASSWORD)
    await make_member(studio, "alice")
    await make_member(studio, "bob")
    async with signed_in(studio, "alice") as alice:
        made = await alice.post("/api/v1/generate/text2image", json={"model": "demo", "prompt": "alice's", "width": 256, "height": 256})
        await studio.run_jobs()
        image_id = (await alice.get(f"/api/v1/tasks/{made.json()['task_id']}")).json()["outputs"][0]["id"]
        upload = await alice.post("/api/v1/uploads", files={"file": ("a.png", _png(64, 64), "image/png")})
        upload_id = upload.json()["id"]
    async with signed_in(studio, "bob") as bob:
        stolen = await bob.post("/api/v1/edit/upscale", json={"model": "demo", "source": {"image_id": image_id}})
        assert stolen.status_code == 404, stolen.text
        assert stolen.json()["error"]["code"] == "not_found"
        borrowed = await bob.post("/api/v1/edit/upscale", json={"model": "demo", "source": {"upload_id": upload_id}})
        assert borrowed.status_code == 422 and borrowed.json()["error"]["details"]["field"] == "source.upload_id"
        assert (await bob.get(f"/api/v1/images/{image_id}/lineage")).status_code == 404
    async with signed_in(studio, "alice") as alice:
        mine = await alice.post("/api/v1/edit/upscale", json={"model": "demo", "source": {"image_id": image_id}})
        assert mine.status_code == 202, mine.text
