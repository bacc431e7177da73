from __future__ import annotations

import errno
import hashlib
import io
import os
import threading
from collections import namedtuple
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from app.core.errors import (
    ImageUnreadable,
    NotFound,
    PayloadTooLarge,
    StorageFull,
)
from app.storage import files, metadata
from app.storage.files import ImageStore, StoredImage
from app.storage.uploads import UploadInfo, validate_upload_file
from tests.storage.images import decode, encode, picture

CREATED = datetime(2026, 11, 29, 13, 45)
PARAMS = {"prompt": "a red fox", "seed": 1, "model": "demo"}
IMAGE_ID = "ab12cd34ef56"


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "data" / "output", tmp_path / "data" / "uploads", min_free_bytes=0)


def _all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("fmt", "ext", "content_type"),
    [("PNG", "png", "image/png"), ("JPEG", "jpg", "image/jpeg"), ("WEBP", "webp", "image/webp")],
)
def test_store_output_writes_image_and_thumbnail(store: ImageStore, fmt: str, ext: str, content_type: str) -> None:
    data = encode(picture((640, 480)), fmt)
    record = store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS)

    stored = (store.output_dir / record.rel_path).read_bytes()
    assert record == StoredImage(
        rel_path=f"2026/11/29/{IMAGE_ID}.{ext}",
        thumb_rel_path=f"2026/11/29/{IMAGE_ID}.thumb.webp",
        width=640,
        height=480,
        bytes=len(stored),
        sha256=hashlib.sha256(stored).hexdigest(),
        content_type=content_type,
    )
    assert decode(stored).tobytes() == decode(data).tobytes()
    assert metadata.read(stored) == {"app": metadata.APP_NAME, "version": 1, **PARAMS}
    thumb = decode((store.output_dir / record.thumb_rel_path).read_bytes())
    assert (thumb.format, thumb.size) == ("WEBP", (384, 288))
    assert _all_files(store.output_dir) == sorted([record.rel_path, record.thumb_rel_path])
    assert store.url_for(record.rel_path) == f"/images/2026/11/29/{IMAGE_ID}.{ext}"
    assert oct((store.output_dir / record.rel_path).stat().st_mode & 0o777) == oct(0o644 & ~_umask())


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def test_gif_is_kept_byte_for_byte(store: ImageStore) -> None:
    data = encode(picture((64, 48)), "GIF")
    record = store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS)
    assert record.rel_path.endswith(".gif")
    assert (store.output_dir / record.rel_path).read_bytes() == data
    assert (store.output_dir / record.thumb_rel_path).exists()


@pytest.mark.parametrize(
    ("fmt", "mode", "options"),
    [
        ("BMP", "RGB", {}),
        ("BMP", "RGBA", {}),
        ("BMP", "P", {}),
        ("BMP", "1", {}),
        ("TIFF", "RGB", {}),
        ("TIFF", "RGBA", {"compression": "tiff_lzw"}),
        ("TIFF", "L", {}),
        ("TIFF", "I;16", {}),
    ],
)
def test_bmp_and_tiff_are_stored_as_png_with_the_same_pixels(
    store: ImageStore, fmt: str, mode: str, options: dict[str, str]
) -> None:
    """Browsers (and our nginx, which serves png/jpg/webp/gif only) do not show BMP or TIFF: they
    are converted to PNG, which is lossless for every one of these modes."""
    source = picture((64, 48), "L" if mode == "I;16" else mode)
    if mode == "I;16":
        source = source.point(lambda v: v * 257, "I").convert("I;16")
    data = encode(source, fmt, **options)
    record = store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS)
    assert record.rel_path == f"2026/11/29/{IMAGE_ID}.png"
    assert record.content_type == "image/png"
    assert (record.width, record.height) == (64, 48)
    stored = (store.output_dir / record.rel_path).read_bytes()
    assert stored.startswith(b"\x89PNG")
    original, converted = decode(data), decode(stored)
    assert converted.format == "PNG"
    assert converted.mode == original.mode
    assert converted.get_flattened_data() == original.get_flattened_data()
    # Now a PNG, the file carries its parameters like every other image.
    assert metadata.read(stored)["prompt"] == PARAMS["prompt"]
    assert _all_files(store.output_dir) == sorted([record.rel_path, record.thumb_rel_path])
    # Stored again (a job run twice): the same file, nothing rewritten.
    inode = (store.output_dir / record.rel_path).stat().st_ino
    assert store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS) == record
    assert (store.output_dir / record.rel_path).stat().st_ino == inode


def test_second_store_of_same_bytes_rewrites_nothing(store: ImageStore) -> None:
    data = encode(picture((200, 100)), "JPEG")
    first = store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS)
    image, thumb = store.output_dir / first.rel_path, store.output_dir / first.thumb_rel_path
    before = (image.stat().st_ino, image.stat().st_mtime_ns, thumb.stat().st_ino)

    assert store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS) == first
    assert (image.stat().st_ino, image.stat().st_mtime_ns, thumb.stat().st_ino) == before

    # A crash between the two writes leaves the image without its thumbnail: a re-run repairs it.
    thumb.unlink()
    assert store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS) == first
    assert thumb.exists() and image.stat().st_ino == before[0]


def test_store_with_new_metadata_replaces_the_file(store: ImageStore) -> None:
    data = encode(picture((200, 100)), "PNG")
    first = store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS)
    second = store.store_output(IMAGE_ID, data, created=CREATED, metadata={"prompt": "other"})
    assert second.sha256 != first.sha256 and second.rel_path == first.rel_path
    assert metadata.read((store.output_dir / second.rel_path).read_bytes())["prompt"] == "other"
    assert len(_all_files(store.output_dir)) == 2


def test_concurrent_stores_of_one_id_agree(store: ImageStore) -> None:
    data = encode(picture((300, 200)), "PNG")
    results: list[StoredImage] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert _all_files(store.output_dir) == sorted([results[0].rel_path, results[0].thumb_rel_path])


@pytest.mark.parametrize("image_id", ["short", "a" * 65, "../../etc/x", "ab cd ef gh", "abcdefgh.png", "", "ab12cd34\x00"])
def test_invalid_image_ids_are_refused(store: ImageStore, image_id: str) -> None:
    with pytest.raises(ValueError):
        store.store_output(image_id, encode(picture(), "PNG"), created=CREATED, metadata=PARAMS)


@pytest.mark.parametrize(
    "data",
    [
        b"<html>502 Bad Gateway</html>",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
        encode(picture((400, 300)), "JPEG")[:1500],
        encode(picture((400, 300)), "PNG")[:-30],
    ],
    ids=["html", "png-garbage", "jpeg-truncated", "png-truncated"],
)
def test_undecodable_output_is_refused_and_leaves_nothing(store: ImageStore, data: bytes) -> None:
    with pytest.raises(ImageUnreadable) as caught:
        store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS)
    # A download cut short or answered by an error page may well succeed next time.
    assert caught.value.retryable is True
    assert not store.output_dir.exists() or _all_files(store.output_dir) == []


def test_png_with_bad_crc_is_refused(store: ImageStore) -> None:
    data = bytearray(encode(picture((64, 48)), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF
    with pytest.raises(ImageUnreadable):
        store.store_output(IMAGE_ID, bytes(data), created=CREATED, metadata=PARAMS)


def test_pixel_cap_applies_to_outputs(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "o", tmp_path / "u", 0, max_output_pixels=100 * 100)
    with pytest.raises(ImageUnreadable, match="pixel limit") as caught:
        store.store_output(IMAGE_ID, encode(picture((101, 100)), "PNG"), created=CREATED, metadata=PARAMS)
    assert caught.value.retryable is False


DiskUsage = namedtuple("DiskUsage", "total used free")


def test_low_disk_space_refuses_before_writing(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(picture((64, 48)), "PNG")
    store.min_free_bytes = 1000
    monkeypatch.setattr(files.shutil, "disk_usage", lambda _path: DiskUsage(10**9, 10**9, 1000 + len(data)))
    with pytest.raises(StorageFull, match="Not enough disk space") as caught:
        store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS)
    assert caught.value.code == "insufficient_storage"
    assert not store.output_dir.exists()
    assert store.check_free_space() is None
    assert "Not enough disk space" in (store.check_free_space(len(data)) or "")
    assert store.free_bytes() == 1000 + len(data)


def _failing_write(fail_from_call: int, error: int = errno.ENOSPC):
    real_write = os.write
    calls = {"n": 0}

    def write(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] >= fail_from_call:
            raise OSError(error, os.strerror(error))
        return real_write(fd, data)

    return write


@pytest.mark.parametrize("fail_from_call", [1, 2], ids=["image-write", "thumbnail-write"])
def test_disk_full_during_write_leaves_no_file(
    store: ImageStore, monkeypatch: pytest.MonkeyPatch, fail_from_call: int
) -> None:
    monkeypatch.setattr(files.os, "write", _failing_write(fail_from_call))
    with pytest.raises(StorageFull, match="Not enough disk space"):
        store.store_output(IMAGE_ID, encode(picture((64, 48)), "PNG"), created=CREATED, metadata=PARAMS)
    assert _all_files(store.output_dir) == []


def test_other_io_errors_propagate_and_leave_no_tmp(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_fsync(_fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(files.os, "fsync", broken_fsync)
    with pytest.raises(OSError) as caught:
        store.store_output(IMAGE_ID, encode(picture((64, 48)), "PNG"), created=CREATED, metadata=PARAMS)
    assert caught.value.errno == errno.EIO
    assert _all_files(store.output_dir) == []


def test_embed_failure_keeps_the_image_without_metadata(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> bytes:
        raise ValueError("odd container")

    monkeypatch.setattr(files.image_metadata, "embed", refuse)
    data = encode(picture((64, 48)), "JPEG")
    record = store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS)
    assert (store.output_dir / record.rel_path).read_bytes() == data


# ------------------------------------------------------------------------------------------
# Deleting and serving


def test_delete_output(store: ImageStore) -> None:
    record = store.store_output(IMAGE_ID, encode(picture(), "PNG"), created=CREATED, metadata=PARAMS)
    store.delete_output(record.rel_path, record.thumb_rel_path)
    assert _all_files(store.output_dir) == []
    store.delete_output(record.rel_path, record.thumb_rel_path)  # already gone: fine
    store.delete_output(record.rel_path, None)


def test_output_exists(store: ImageStore) -> None:
    record = store.store_output(IMAGE_ID, encode(picture(), "PNG"), created=CREATED, metadata=PARAMS)
    assert store.output_exists(record.rel_path)
    (store.output_dir / record.rel_path).unlink()
    assert not store.output_exists(record.rel_path)
    assert store.output_exists(record.thumb_rel_path)
    assert not store.output_exists("../../etc/passwd")


@pytest.mark.parametrize("rel_path", ["../x.png", "2026/11/29/../../../../etc/passwd", "/etc/passwd", "app.db"])
def test_delete_refuses_paths_outside_the_layout(store: ImageStore, rel_path: str) -> None:
    with pytest.raises(ValueError):
        store.delete_output(rel_path, None)


def test_resolve_output_serves_stored_files(store: ImageStore) -> None:
    record = store.store_output(IMAGE_ID, encode(picture(), "PNG"), created=CREATED, metadata=PARAMS)
    assert store.resolve_output(record.rel_path) == (store.output_dir / record.rel_path).resolve()
    assert store.resolve_output(record.thumb_rel_path) == (store.output_dir / record.thumb_rel_path).resolve()


@pytest.mark.parametrize(
    "rel_path",
    [
        "../x",
        "../../etc/passwd",
        "2026/11/29/../../../../etc/passwd",
        "2026/11/29/../29/ab12cd34ef56.png",
        "%2e%2e/%2e%2e/etc/passwd",
        "2026/11/29/%2e%2e",
        "/etc/passwd",
        "//etc/passwd",
        "/2026/11/29/ab12cd34ef56.png",
        "2026\\11\\29\\ab12cd34ef56.png",
        "2026/11/29/ab12cd34ef56.png\x00.jpg",
        "2026/11/29/ab12cd34ef56.png/",
        "2026/11/29/./ab12cd34ef56.png",
        "2026//11/29/ab12cd34ef56.png",
        "2026/11/29/ab12cd34ef56.PNG",
        "2026/11/29/ab12cd34ef56.svg",
        "2026/11/29/.ab12cd34ef56.png.abc.tmp",
        "2026/11/29/missing12345.png",
        "",
        "app.db",
    ],
)
def test_resolve_output_refuses_anything_else(store: ImageStore, rel_path: str) -> None:
    store.store_output(IMAGE_ID, encode(picture(), "PNG"), created=CREATED, metadata=PARAMS)
    assert store.resolve_output(rel_path) is None


def test_resolve_output_refuses_symlinks(store: ImageStore, tmp_path: Path) -> None:
    store.store_output(IMAGE_ID, encode(picture(), "PNG"), created=CREATED, metadata=PARAMS)
    day = store.output_dir / "2026/11/29"
    (day / "etcpasswd1.png").symlink_to("/etc/passwd")
    (day / "inside1234.png").symlink_to(day / f"{IMAGE_ID}.png")
    outside = tmp_path / "outside" / "2026" / "12" / "01"
    outside.mkdir(parents=True)
    (outside / "escaped12.png").write_bytes(encode(picture(), "PNG"))
    (store.output_dir / "2026/12").mkdir()
    (store.output_dir / "2026/12/01").symlink_to(outside)
    assert store.resolve_output("2026/11/29/etcpasswd1.png") is None
    assert store.resolve_output("2026/11/29/inside1234.png") is None
    assert store.resolve_output("2026/12/01/escaped12.png") is None


def test_resolve_output_refuses_directories(store: ImageStore) -> None:
    (store.output_dir / "2026/11/29/dirdirdir1.png").mkdir(parents=True)
    assert store.resolve_output("2026/11/29/dirdirdir1.png") is None


# ------------------------------------------------------------------------------------------
# Health and housekeeping


def test_check_writable(store: ImageStore, tmp_path: Path) -> None:
    assert store.check_writable() is None
    assert _all_files(store.output_dir) == []
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    broken = ImageStore(blocker / "output", tmp_path / "u", 0)
    reason = broken.check_writable()
    assert reason is not None and reason.startswith("Output directory is not writable")


def test_check_writable_on_a_full_disk_leaves_no_probe_file(
    store: ImageStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.output_dir.mkdir(parents=True)

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", full)
    for _ in range(3):
        assert store.check_writable() == "Data volume is full: No space left on device"
    assert list(store.output_dir.iterdir()) == []


def test_find_orphans_and_clean_tmp(store: ImageStore) -> None:
    record = store.store_output(IMAGE_ID, encode(picture(), "PNG"), created=CREATED, metadata=PARAMS)
    day = store.output_dir / "2026/11/29"
    stale = day / ".zz99zz99zz.png.abc123.tmp"
    stale.write_bytes(b"partial")
    os.utime(stale, (1_000, 1_000))
    fresh = day / ".zz88zz88zz.png.def456.tmp"
    fresh.write_bytes(b"in progress")
    stray = day / "zz77zz77zz.jpg"
    stray.write_bytes(b"x")
    store.uploads_dir.mkdir(parents=True)
    stale_upload = store.uploads_dir / ".abc.png.000000.tmp"
    stale_upload.write_bytes(b"partial")
    os.utime(stale_upload, (1_000, 1_000))

    known = {record.rel_path, record.thumb_rel_path}
    assert store.find_orphans(known) == sorted(
        ["2026/11/29/.zz99zz99zz.png.abc123.tmp", "2026/11/29/.zz88zz88zz.png.def456.tmp", "2026/11/29/zz77zz77zz.jpg"]
    )
    assert store.clean_tmp(older_than_seconds=3600, now=fresh.stat().st_mtime + 60) == sorted([stale, stale_upload])
    assert fresh.exists() and stray.exists() and not stale.exists()


# ------------------------------------------------------------------------------------------
# Uploads


def _receive(store: ImageStore, data: bytes, max_bytes: int = 10**7) -> tuple[files.IncomingUpload, UploadInfo]:
    incoming = store.receive_upload(io.BytesIO(data), max_bytes)
    return incoming, validate_upload_file(incoming.path, sha256=incoming.sha256, max_pixels=10**7)


def test_receive_keep_and_load_upload_deduplicates(store: ImageStore) -> None:
    data = encode(picture((64, 48)), "WEBP")
    incoming, info = _receive(store, data)
    assert (incoming.sha256, incoming.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert incoming.path.parent == store.uploads_dir and incoming.path.name.endswith(".tmp")
    path = store.keep_upload(incoming, info)
    assert path == store.uploads_dir / f"{info.sha256}.webp"
    inode = path.stat().st_ino
    again, info = _receive(store, data)
    assert store.keep_upload(again, info) == path and path.stat().st_ino == inode
    assert sorted(p.name for p in store.uploads_dir.iterdir()) == [path.name]
    assert store.load_upload(info.sha256) == (data, "image/webp")


@pytest.mark.parametrize("upload_id", ["0" * 64, "../" + "0" * 61, "A" * 64, "0" * 63, "", "0" * 64 + ".png"])
def test_load_upload_unknown_or_malformed_is_not_found(store: ImageStore, upload_id: str) -> None:
    with pytest.raises(NotFound) as caught:
        store.load_upload(upload_id)
    assert caught.value.status_code == 404 and caught.value.message_zh != caught.value.message


def test_keep_upload_checks_info_matches(store: ImageStore) -> None:
    incoming, _ = _receive(store, encode(picture((64, 48)), "PNG"))
    _, other = _receive(store, encode(picture((64, 48)), "JPEG"))
    with pytest.raises(ValueError):
        store.keep_upload(incoming, other)


def test_receive_upload_stops_at_the_limit_and_leaves_nothing(store: ImageStore) -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        store.receive_upload(io.BytesIO(b"\0" * (3 * 1024 * 1024)), 2 * 1024 * 1024)
    assert caught.value.message == "The file is larger than the 2 MB limit."
    assert _all_files(store.uploads_dir) == []


def test_receive_upload_disk_full_is_a_507(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(picture((64, 48)), "PNG")

    def full(fd: int) -> None:  # delayed allocation: the disk says it is full at fsync
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(StorageFull) as caught:
        store.receive_upload(io.BytesIO(data), 10**7)
    assert caught.value.status_code == 507
    assert _all_files(store.uploads_dir) == []


def test_stored_jpeg_keeps_full_resolution(store: ImageStore) -> None:
    # The thumbnail decodes a JPEG at reduced DCT scale; the stored file must not be affected.
    data = encode(picture((1200, 900)), "JPEG")
    record = store.store_output(IMAGE_ID, data, created=CREATED, metadata=PARAMS)
    assert Image.open(store.output_dir / record.rel_path).size == (1200, 900)
