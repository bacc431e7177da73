"""Photograph-like outputs of the fakes: real content, realistic sizes, rendered once."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image, ImageFilter, ImageStat

from tests.fakes import photos
from tests.fakes.ark import SEEDREAM_40, FakeArkServer


@pytest.fixture
def photo_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("FAKE_PHOTO_CACHE", str(tmp_path))
    photos.photo_bytes.cache_clear()
    yield tmp_path
    photos.photo_bytes.cache_clear()


def test_photo_has_detail_and_is_cached_on_disk(photo_cache: Path) -> None:
    data = photos.photo_bytes(640, 480, "jpeg")
    with Image.open(io.BytesIO(data)) as im:
        assert (im.format, im.size) == ("JPEG", (640, 480))
        # Not flat colour: strong edges and grain everywhere (a flat render has ~0 edge energy).
        edges = ImageStat.Stat(im.convert("L").filter(ImageFilter.FIND_EDGES)).mean[0]
        assert edges > 8
    files = list(photo_cache.iterdir())
    assert [f.name for f in files] == [f"photo-v{photos.VERSION}-640x480.jpg"]
    # A later process reads the file instead of rendering: replace it and see it served.
    files[0].write_bytes(b"cached")
    photos.photo_bytes.cache_clear()
    assert photos.photo_bytes(640, 480, "jpeg") == b"cached"


def test_photo_byte_sizes_are_realistic(photo_cache: Path) -> None:
    # Scaled check at 1K (a 2K JPEG is ~4x these bytes): JPEG ~0.2 MB, PNG ~1.2 MB per megapixel.
    jpeg = photos.photo_bytes(1024, 1024, "jpeg")
    png = photos.photo_bytes(1024, 1024, "png")
    assert 120_000 < len(jpeg) < 400_000
    assert 700_000 < len(png) < 2_500_000
    with Image.open(io.BytesIO(png)) as im:
        assert (im.format, im.mode, im.size) == ("PNG", "RGB", (1024, 1024))
    with pytest.raises(ValueError):
        photos.photo_bytes(8, 8, "gif")


async def test_ark_fake_serves_photos_at_the_requested_size(photo_cache: Path) -> None:
    async with FakeArkServer(api_key="k", max_image_side=None, photo_format="png") as fake, aiohttp.ClientSession() as http:
        body: dict[str, Any] = {"model": SEEDREAM_40, "prompt": "p", "watermark": False, "size": "1024x1024"}
        async with http.post(f"{fake.base_url}/images/generations", json=body,
                             headers={"Authorization": "Bearer k"}) as resp:
            url = (await resp.json())["data"][0]["url"]
        async with http.get(url) as resp:
            assert resp.content_type == "image/png"
            data = await resp.read()
    assert data == photos.photo_bytes(1024, 1024, "png")
