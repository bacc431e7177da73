"""POST /api/v1/images/inspect: the parameters embedded in an image, and a clear refusal of what is
not an image."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.conftest import Studio, StudioFactory


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "teal").save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"just some text, certainly not an image\n", "notes.png"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "x.svg"),
        (b"%PDF-1.7\n" + b"\0" * 64, "doc.jpg"),
    ],
    ids=["text", "svg", "pdf"],
)
async def test_inspect_refuses_bytes_that_are_not_an_image(studio: Studio, data: bytes, filename: str) -> None:
    r = await studio.client.post("/api/v1/images/inspect", files={"file": (filename, data, "image/png")})
    assert r.status_code == 415, r.text
    assert r.json() == {
        "error": {
            "code": "unsupported_media_type",
            "message": "Unsupported file type; accepted image types: PNG, JPEG, WEBP, BMP, TIFF, GIF",
        }
    }
    zh = await studio.client.post(
        "/api/v1/images/inspect",
        files={"file": (filename, data, "image/png")},
        headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    assert zh.status_code == 415
    assert zh.json()["error"]["message"] == "不支持的文件类型；支持的图片格式：PNG, JPEG, WEBP, BMP, TIFF, GIF"


async def test_inspect_refuses_an_empty_file(studio: Studio) -> None:
    r = await studio.client.post("/api/v1/images/inspect", files={"file": ("e.png", b"", "image/png")})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == {"code": "invalid_request", "message": "The file is empty"}


async def test_inspect_an_image_without_our_metadata_is_found_false(studio: Studio) -> None:
    r = await studio.client.post("/api/v1/images/inspect", files={"file": ("p.png", _png(), "image/png")})
    assert r.status_code == 200
    assert r.json() == {"found": False, "metadata": None}


@pytest.mark.local_storage_only
async def test_a_missing_thumbnail_is_made_on_first_view(studio: Studio) -> None:
    """Thumbnails are not fsynced and a large PNG's is made after its job: whichever is missing,
    the first request for it makes it from the image."""
    task_id = await studio.submit({"model": "demo", "prompt": "first view", "size": "512x512"})
    await studio.run_jobs()
    output = (await studio.task(task_id))["outputs"][0]
    thumb_url = output["thumbnail_url"]
    thumb = studio.services.store.output_dir / thumb_url.removeprefix("/images/")
    thumb.unlink(missing_ok=True)

    r = await studio.client.get(thumb_url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.format == "WEBP" and max(im.size) == 384
    assert thumb.is_file()

    # A thumbnail of an image that does not exist is still a plain 404.
    missing = thumb_url.replace(task_id[:8], "zzzzzzzz")
    r = await studio.client.get(missing)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


@pytest.mark.local_storage_only
async def test_behind_nginx_the_api_makes_missing_thumbnails_only(studio_factory: StudioFactory) -> None:
    studio = await studio_factory(serve_images=False)
    task_id = await studio.submit({"model": "demo", "prompt": "behind nginx", "size": "512x512"})
    await studio.run_jobs()
    output = (await studio.task(task_id))["outputs"][0]
    thumb = studio.services.store.output_dir / output["thumbnail_url"].removeprefix("/images/")
    thumb.unlink()
    r = await studio.client.get(output["thumbnail_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    assert thumb.is_file()
    # Images themselves are nginx's to serve.
    r = await studio.client.get(output["url"])
    assert r.status_code == 404
