"""What the image path spends less on: fsyncs, decodes, and large PNG thumbnails left for later."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from app.core.errors import ImageUnreadable
from app.storage import files
from app.storage.files import ImageStore, check_png_chunks
from tests.storage.images import decode, encode, picture

CREATED = datetime(2026, 11, 30, 9, 0)
PARAMS = {"prompt": "a harbour at dawn", "seed": 7, "model": "demo"}
IMAGE_ID = "cost1234abcd"


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "output", tmp_path / "uploads", min_free_bytes=0)


@pytest.fixture
def small_deferral(monkeypatch: pytest.MonkeyPatch) -> None:
    # Large-PNG handling without rendering a multi-megapixel image in every run.
    monkeypatch.setattr(files, "DEFERRED_THUMBNAIL_PIXELS", 100 * 100)


def _fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record what is fsynced: "file" for regular files, "dir" for directories."""
    seen: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        seen.append("dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file")
        real(fd)

    monkeypatch.setattr(files.os, "fsync", spy)
    return seen


def test_the_image_is_fsynced_the_thumbnail_not_and_the_directory_once(
    store: ImageStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    (store.output_dir / "2026" / "11" / "30").mkdir(parents=True)  # the day's directory exists
    seen = _fsyncs(monkeypatch)
    stored = store.store_output(IMAGE_ID, encode(picture((120, 90)), "JPEG"), created=CREATED, metadata=PARAMS)
    assert not stored.thumbnail_pending
    assert (store.output_dir / stored.thumb_rel_path).is_file()
    # One fsync of the image's bytes and one of the directory holding both renames.
    assert seen == ["file", "dir"]


def test_a_large_png_is_stored_with_its_thumbnail_pending(
    store: ImageStore, small_deferral: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []
    real_load = Image.Image.load

    def counting_load(im: Image.Image) -> object:
        decoded.append(im.format or "?")
        return real_load(im)

    monkeypatch.setattr(Image.Image, "load", counting_load)
    data = encode(picture((160, 120)), "PNG")
    stored = store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS)
    monkeypatch.setattr(Image.Image, "load", real_load)
    assert stored.thumbnail_pending
    assert (stored.width, stored.height) == (160, 120)
    assert (store.output_dir / stored.rel_path).is_file()
    assert not (store.output_dir / stored.thumb_rel_path).exists()
    # Its pixels were never decoded on the job's path: the chunk CRCs were the proof.
    assert "PNG" not in decoded

    assert store.ensure_thumbnail(stored.rel_path, stored.thumb_rel_path) is True
    thumb = decode((store.output_dir / stored.thumb_rel_path).read_bytes())
    assert thumb.format == "WEBP" and thumb.size == (160, 120)
    # Asked again (a second viewer): nothing to do, the same file.
    mtime = (store.output_dir / stored.thumb_rel_path).stat().st_mtime_ns
    assert store.ensure_thumbnail(stored.rel_path, stored.thumb_rel_path) is True
    assert (store.output_dir / stored.thumb_rel_path).stat().st_mtime_ns == mtime


def test_a_rerun_of_a_large_png_keeps_the_thumbnail_pending(store: ImageStore, small_deferral: None) -> None:
    data = encode(picture((160, 120)), "PNG")
    first = store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS)
    again = store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS)
    assert again == first and again.thumbnail_pending


def test_a_lost_thumbnail_is_made_again(store: ImageStore) -> None:
    stored = store.store_output(IMAGE_ID, encode(picture((120, 90)), "JPEG"), created=CREATED, metadata=PARAMS)
    thumb = store.output_dir / stored.thumb_rel_path
    thumb.unlink()  # not fsynced: a crash may lose it
    assert store.ensure_thumbnail(stored.rel_path, stored.thumb_rel_path) is True
    assert decode(thumb.read_bytes()).size == (120, 90)


def test_no_thumbnail_for_an_image_that_is_gone(store: ImageStore, small_deferral: None) -> None:
    stored = store.store_output(IMAGE_ID, encode(picture((160, 120)), "PNG"), created=CREATED, metadata=PARAMS)
    store.delete_output(stored.rel_path, stored.thumb_rel_path)
    assert store.ensure_thumbnail(stored.rel_path, stored.thumb_rel_path) is False
    assert list(store.output_dir.rglob("*.webp")) == []
    with pytest.raises(ValueError):
        store.ensure_thumbnail("../../etc/passwd", stored.thumb_rel_path)


def test_an_undecodable_stored_image_has_no_thumbnail(store: ImageStore, small_deferral: None) -> None:
    stored = store.store_output(IMAGE_ID, encode(picture((160, 120)), "PNG"), created=CREATED, metadata=PARAMS)
    (store.output_dir / stored.rel_path).write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(ImageUnreadable):
        store.ensure_thumbnail(stored.rel_path, stored.thumb_rel_path)
    assert not (store.output_dir / stored.thumb_rel_path).exists()


def _png() -> bytearray:
    return bytearray(encode(picture((64, 48)), "PNG"))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d.__setitem__(d.index(b"IDAT") + 10, d[d.index(b"IDAT") + 10] ^ 0xFF), "bad CRC"),
        (lambda d: d.__delitem__(slice(len(d) - 6, len(d))), "truncated"),
        (lambda d: d.__delitem__(slice(d.index(b"IEND") - 4, len(d))), "before IEND"),
        (lambda d: d.__setitem__(slice(12, 16), b"IHDx"), "bad CRC"),
        (lambda d: d.__setitem__(0, 0), "not a PNG"),
    ],
)
def test_png_chunk_check_finds_damage(damage: object, message: str) -> None:
    data = _png()
    check_png_chunks(bytes(data))
    damage(data)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        check_png_chunks(bytes(data))


def test_png_chunk_check_wants_image_data() -> None:
    data = _png()
    start = data.index(b"IDAT") - 4
    length = int.from_bytes(data[start : start + 4], "big")
    del data[start : start + 12 + length]
    with pytest.raises(ValueError, match="no image data"):
        check_png_chunks(bytes(data))
