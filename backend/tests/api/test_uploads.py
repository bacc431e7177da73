"""POST /api/v1/uploads streams the file to disk and validates it there: the bytes are never
held in memory whole, whatever their size (bench/uploads_memory.py has the RSS figures)."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import Studio, StudioFactory

MB = 1024 * 1024


def _noise_png(path: Path, side: int) -> bytes:
    """A PNG of noise (it does not compress: about side² × 3 bytes)."""
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path, "PNG", compress_level=1)
    return path.read_bytes()


@pytest.fixture
async def studio(studio_factory: StudioFactory) -> Studio:
    result: Studio = await studio_factory(max_upload_mb=20)
    return result


async def test_a_large_upload_is_never_held_in_memory_whole(studio: Studio, tmp_path: Path) -> None:
    data = _noise_png(tmp_path / "big.png", 1700)  # ~8.3 MB
    assert len(data) > 8 * MB
    tracemalloc.start()
    try:
        with (tmp_path / "big.png").open("rb") as fh:  # streamed by the client in chunks
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            r = await studio.client.post("/api/v1/uploads", files={"file": ("big.png", fh, "image/png")})
            peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert r.status_code == 200, r.text
    assert r.json()["id"] == hashlib.sha256(data).hexdigest()
    # Python-side memory of the whole request (client included): a few chunks, not the file.
    assert peak < 4 * MB, f"peak {peak / MB:.1f} MB for a {len(data) / MB:.1f} MB upload"
    store = studio.services.store
    assert store.load_upload(r.json()["id"]) == (data, "image/png")
    kept = [f"{r.json()['id']}.png"] if store.serves_from_disk else []  # else an object in the bucket
    assert sorted(p.name for p in store.uploads_dir.iterdir()) == kept  # no tmp left


async def test_an_upload_over_the_limit_is_refused_while_streaming(studio_factory: StudioFactory) -> None:
    studio = await studio_factory(max_upload_mb=1)
    body = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * (3 * MB))
    r = await studio.client.post("/api/v1/uploads", files={"file": ("big.png", body, "image/png")})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "payload_too_large"
    uploads = studio.services.store.uploads_dir
    assert not uploads.exists() or list(uploads.iterdir()) == []


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 422, "invalid_request"),
        (b"GIF89a but not really a gif", 422, "invalid_request"),
        (b"hello, not an image", 415, "unsupported_media_type"),
    ],
    ids=["empty", "truncated", "not-an-image"],
)
async def test_refused_uploads_leave_nothing_behind(studio: Studio, data: bytes, status: int, code: str) -> None:
    r = await studio.client.post("/api/v1/uploads", files={"file": ("x.png", data, "image/png")})
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    uploads = studio.services.store.uploads_dir
    assert not uploads.exists() or list(uploads.iterdir()) == []


async def test_image2image_multipart_streams_its_files_too(studio: Studio, tmp_path: Path) -> None:
    data = _noise_png(tmp_path / "ref.png", 1024)
    with (tmp_path / "ref.png").open("rb") as fh:
        r = await studio.client.post(
            "/api/v1/generate/image2image",
            data={"prompt": "edit", "model": "demo"},
            files=[("images", ("ref.png", fh, "image/png"))],
        )
    assert r.status_code == 202, r.text
    task = await studio.task(r.json()["task_id"])
    assert task["parameters"]["references"] == [hashlib.sha256(data).hexdigest()]
