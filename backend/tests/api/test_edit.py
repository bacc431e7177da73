"""POST /api/v1/edit/{operation} on the demo provider: each operation end to end, the mask
encoding, the validation of every bad combination, lineage, history filter, budgets."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw

from tests.chinese import assert_chinese
from tests.conftest import Studio


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
