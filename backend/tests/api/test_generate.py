from __future__ import annotations

import io

from PIL import Image

from tests.conftest import Studio


def _png(width: int = 64, height: int = 48, color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


async def test_demo_text2image_end_to_end(studio: Studio) -> None:
    task_id = await studio.submit({"model": "demo", "prompt": "一只在雪地里的红狐狸", "width": 512, "height": 384, "seed": 7})
    pending = await studio.task(task_id)
    assert pending["status"] == "pending"
    assert pending["is_demo"] is True

    await studio.run_jobs()
    task = await studio.task(task_id)
    assert task["status"] == "completed", task
    assert task["progress"] == 100
    assert task["error"] is None
    assert len(task["outputs"]) == 1 and task["images"] == [task["outputs"][0]["url"]]
    out = task["outputs"][0]
    assert (out["width"], out["height"]) == (512, 384)
    assert out["url"].startswith("/images/") and out["url"].endswith(".png")
    assert out["thumbnail_url"].endswith(".thumb.webp")

    image = await studio.client.get(out["url"])
    assert image.status_code == 200
    assert image.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(image.content)).size == (512, 384)
    thumb = await studio.client.get(out["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.content[:4] == b"RIFF"
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 384

    inspected = await studio.client.post("/api/v1/images/inspect", files={"file": ("x.png", image.content, "image/png")})
    assert inspected.status_code == 200
    meta = inspected.json()
    assert meta["found"] is True
    assert meta["metadata"]["prompt"] == "一只在雪地里的红狐狸"
    assert meta["metadata"]["task_id"] == task_id


async def test_demo_is_deterministic_for_prompt_and_seed(studio: Studio) -> None:
    body = {"model": "demo", "prompt": "same", "width": 256, "height": 256, "seed": 42}
    first = await studio.submit(body)
    second = await studio.submit(body)
    await studio.run_jobs()
    a, b = await studio.task(first), await studio.task(second)
    assert a["outputs"][0]["seed"] == 42
    ia = await studio.client.get(a["outputs"][0]["url"])
    ib = await studio.client.get(b["outputs"][0]["url"])
    pa = Image.open(io.BytesIO(ia.content)).convert("RGB").tobytes()
    pb = Image.open(io.BytesIO(ib.content)).convert("RGB").tobytes()
    assert pa == pb


async def test_num_images_and_group(studio: Studio) -> None:
    multi = await studio.submit({"model": "demo", "prompt": "three", "width": 256, "height": 256, "num_images": 3})
    group = await studio.submit({"model": "demo", "prompt": "a story", "width": 256, "height": 256, "group": {"max_images": 2}})
    await studio.run_jobs()
    m, g = await studio.task(multi), await studio.task(group)
    assert [o["index"] for o in m["outputs"]] == [0, 1, 2]
    assert len({o["url"] for o in m["outputs"]}) == 3
    assert m["expected_images"] == 3
    assert g["status"] == "completed" and len(g["outputs"]) == 2


async def test_default_model_is_demo_without_credentials(studio: Studio) -> None:
    task_id = await studio.submit({"prompt": "no model given", "width": 256, "height": 256})
    task = await studio.task(task_id)
    assert task["model"] == "demo"


async def test_random_seed_is_drawn_at_submission_and_kept(studio: Studio) -> None:
    task_id = await studio.submit({"model": "demo", "prompt": "any seed", "width": 256, "height": 256, "seed": -1})
    seed = (await studio.task(task_id))["parameters"]["seed"]
    assert isinstance(seed, int) and 0 <= seed < 2**31
    await studio.run_jobs()
    task = await studio.task(task_id)
    assert task["outputs"][0]["seed"] == seed
    remix = await studio.submit({"model": "demo", "prompt": "any seed", "width": 256, "height": 256, "seed": seed})
    await studio.run_jobs()
    a = (await studio.client.get(task["outputs"][0]["url"])).content
    b = (await studio.client.get((await studio.task(remix))["outputs"][0]["url"])).content
    from PIL import Image as PILImage

    assert PILImage.open(io.BytesIO(a)).tobytes() == PILImage.open(io.BytesIO(b)).tobytes()


async def test_idempotency_key_returns_same_task(studio: Studio) -> None:
    body = {"model": "demo", "prompt": "once", "width": 256, "height": 256}
    headers = {"Idempotency-Key": "abc-123"}
    r1 = await studio.client.post("/api/v1/generate/text2image", json=body, headers=headers)
    r2 = await studio.client.post("/api/v1/generate/text2image", json=body, headers=headers)
    assert r1.status_code == r2.status_code == 202
    assert r1.json()["task_id"] == r2.json()["task_id"]
    listed = await studio.client.get("/api/v1/tasks")
    assert len(listed.json()["items"]) == 1


async def test_image2image_with_upload_and_data_uri(studio: Studio) -> None:
    up = await studio.client.post("/api/v1/uploads", files={"file": ("ref.png", _png(), "image/png")})
    assert up.status_code == 200, up.text
    upload = up.json()
    assert (upload["width"], upload["height"], upload["content_type"]) == (64, 48, "image/png")
    import base64

    data_uri = "data:image/png;base64," + base64.b64encode(_png(color="blue")).decode()
    task_id = await studio.submit(
        {"model": "demo", "prompt": "edit", "images": [upload["id"], data_uri], "width": 256, "height": 256, "strength": 0.6},
        path="/api/v1/generate/image2image",
    )
    await studio.run_jobs()
    task = await studio.task(task_id)
    assert task["status"] == "completed", task
    assert task["type"] == "image2image"
    assert task["parameters"]["references"][0] == upload["id"]
    assert len(task["parameters"]["references"]) == 2


async def test_image2image_multipart(studio: Studio) -> None:
    response = await studio.client.post(
        "/api/v1/generate/image2image",
        data={"model": "demo", "prompt": "multipart edit", "width": "256", "height": "256"},
        files=[("images", ("a.png", _png(), "image/png")), ("images", ("b.png", _png(color="green"), "image/png"))],
    )
    assert response.status_code == 202, response.text
    await studio.run_jobs()
    task = await studio.task(response.json()["task_id"])
    assert task["status"] == "completed"
    assert len(task["parameters"]["references"]) == 2


async def test_demo_failure_marker_gives_clear_task_error(studio: Studio) -> None:
    task_id = await studio.submit({"model": "demo", "prompt": "please [demo:fail]", "width": 256, "height": 256})
    await studio.run_jobs()
    task = await studio.task(task_id)
    assert task["status"] == "failed"
    assert task["error"]["code"] == "upstream_error"
    assert "demo" in task["error"]["message"].lower()
    assert task["outputs"] == []
