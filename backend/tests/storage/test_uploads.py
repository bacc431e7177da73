from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.core import images
from app.core.errors import (
    AppError,
    InvalidRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from app.core.images import sniff_image_type
from app.storage import uploads
from app.storage.uploads import decode_data_uri, validate_upload, validate_upload_file
from tests.storage.images import encode, picture, png_header_only

MB = 1024 * 1024
LIMITS = {"max_bytes": 10 * MB, "max_pixels": 36_000_000}


def _valid_png() -> bytes:
    return encode(picture((64, 48)), "PNG")


# (name, data, error class, text expected in the English message)
REFUSED: list[tuple[str, bytes, type[AppError], str]] = [
    ("empty", b"", InvalidRequest, "The file is empty"),
    ("too-large", b"\x89PNG\r\n\x1a\n" + b"\x00" * (11 * MB), PayloadTooLarge, "10 MB"),
    ("svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', UnsupportedMediaType, "Unsupported"),
    ("svg-xml", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', UnsupportedMediaType, "PNG"),
    ("html", b"<!DOCTYPE html><html><script>alert(1)</script></html>", UnsupportedMediaType, "Unsupported"),
    ("pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", UnsupportedMediaType, "Unsupported"),
    ("text", b"hello", UnsupportedMediaType, "Unsupported"),
    ("bm-but-not-bmp", b"BM" + b"\x00" * 64, UnsupportedMediaType, "Unsupported"),
    ("polyglot", b"\x89PNG\r\n\x1a\n" + b"<html>garbage</html>" * 10, InvalidRequest, "could not be decoded"),
    ("png-truncated", _valid_png()[:200], InvalidRequest, "could not be decoded"),
    ("jpeg-truncated", encode(picture((300, 200)), "JPEG")[:900], InvalidRequest, "could not be decoded"),
    ("webp-truncated", encode(picture((300, 200)), "WEBP")[:300], InvalidRequest, "could not be decoded"),
    ("bomb", png_header_only(50_000, 50_000), InvalidRequest, "decompression bomb"),
    ("over-our-limit", png_header_only(10_000, 5_000), InvalidRequest, "10000×5000 pixels, more than the 36 megapixel"),
    ("bomb-beyond-pillow", png_header_only(100_000, 100_000), InvalidRequest, "decompression bomb"),
    ("too-small", encode(picture((10, 10)), "PNG"), InvalidRequest, "at least 14 pixels"),
    ("too-thin", encode(picture((500, 13)), "JPEG"), InvalidRequest, "at least 14 pixels"),
]


@pytest.mark.parametrize(("name", "data", "error", "text"), REFUSED, ids=[case[0] for case in REFUSED])
def test_refused_uploads(name: str, data: bytes, error: type[AppError], text: str) -> None:
    with pytest.raises(error) as caught:
        validate_upload(data, **LIMITS)
    assert type(caught.value) is error
    assert text in caught.value.message
    assert caught.value.message_zh != caught.value.message
    if error is InvalidRequest:
        assert caught.value.code == "invalid_request" and caught.value.status_code == 422


def test_bomb_is_refused_from_the_header_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(uploads, "decode_fully", no_decoding)
    started = time.perf_counter()
    with pytest.raises(InvalidRequest, match="decompression bomb"):
        validate_upload(png_header_only(50_000, 50_000), **LIMITS)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("fmt", "ext", "content_type", "kwargs"),
    [
        ("PNG", "png", "image/png", {}),
        ("JPEG", "jpg", "image/jpeg", {}),
        ("WEBP", "webp", "image/webp", {}),
        ("BMP", "bmp", "image/bmp", {}),
        ("TIFF", "tiff", "image/tiff", {}),
        ("GIF", "gif", "image/gif", {}),
        ("JPEG", "jpg", "image/jpeg", {"progressive": True}),
    ],
)
def test_accepted_types_are_sniffed_from_bytes(fmt: str, ext: str, content_type: str, kwargs: dict) -> None:
    data = encode(picture((64, 48)), fmt, **kwargs)
    info = validate_upload(data, **LIMITS)
    assert info == uploads.UploadInfo(
        sha256=hashlib.sha256(data).hexdigest(),
        ext=ext,
        content_type=content_type,
        width=64,
        height=48,
        bytes=len(data),
    )


def test_minimum_side_is_inclusive() -> None:
    assert validate_upload(encode(picture((14, 14)), "PNG"), **LIMITS).width == 14


def test_exactly_at_the_limits_is_accepted() -> None:
    data = encode(picture((100, 100)), "PNG")
    assert validate_upload(data, max_bytes=len(data), max_pixels=10_000).bytes == len(data)
    with pytest.raises(PayloadTooLarge):
        validate_upload(data, max_bytes=len(data) - 1, max_pixels=10_000)
    with pytest.raises(InvalidRequest, match="decompression bomb"):
        validate_upload(data, max_bytes=len(data), max_pixels=9_999)


def test_rotated_exif_reports_displayed_size() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    info = validate_upload(encode(picture((64, 48)), "JPEG", exif=exif), **LIMITS)
    assert (info.width, info.height) == (48, 64)


def test_allowed_list_is_enforced() -> None:
    with pytest.raises(UnsupportedMediaType):
        validate_upload(encode(picture((64, 48)), "GIF"), **LIMITS, allowed=("image/png", "image/jpeg"))


def test_sniffing_ignores_what_the_name_would_say() -> None:
    # The bytes decide; there is no file name or client content type to be fooled by.
    assert sniff_image_type(encode(picture(), "JPEG")) is images.JPEG
    assert sniff_image_type(b"GIF89a" + b"\x00" * 10) is images.GIF
    assert sniff_image_type(b"RIFF\x00\x00\x00\x00WAVE") is None


# ------------------------------------------------------------------------------------------
# data URIs


def test_data_uri_round_trip() -> None:
    data = _valid_png()
    assert decode_data_uri("data:image/png;base64," + base64.b64encode(data).decode(), 10 * MB) == data
    # The declared type is not trusted (sniffing happens later), and parameters are allowed.
    uri = "DATA:image/jpeg;name=x.png;BASE64," + base64.b64encode(data).decode()
    assert decode_data_uri(uri, 10 * MB) == data


@pytest.mark.parametrize(
    ("uri", "text"),
    [
        ("https://example.com/a.png", "data:image"),
        ("data:text/html;base64,PGh0bWw+", "data:image"),
        ("data:image/png,%89PNG", "data:image"),
        ("data:image/png;base64,", "empty"),
        ("data:image/png;base64,iVBOR w0KGgo=", "base64"),
        ("data:image/png;base64,iVBORw0KGgo", "base64"),
        ("data:image/png;base64,iVBORw0K-_go=", "base64"),
        ("data:image/png;base64,iVBORw0KGgo=\u00e9", "base64"),
    ],
)
def test_bad_data_uris(uri: str, text: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_data_uri(uri, 10 * MB)
    assert text in caught.value.message


def test_oversized_data_uri_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("decoded an oversized payload")

    monkeypatch.setattr(uploads.base64, "b64decode", no_decoding)
    uri = "data:image/png;base64," + "A" * (4 * (MB // 3 + 2))
    with pytest.raises(PayloadTooLarge, match="1 MB"):
        decode_data_uri(uri, MB)


def test_data_uri_at_the_exact_limit_is_accepted() -> None:
    payload = b"\x01" * 1000
    assert decode_data_uri("data:image/png;base64," + base64.b64encode(payload).decode(), 1000) == payload
    with pytest.raises(PayloadTooLarge):
        decode_data_uri("data:image/png;base64," + base64.b64encode(payload).decode(), 999)


@pytest.mark.parametrize(("fmt", "kwargs"), [("PNG", {}), ("JPEG", {"quality": 90}), ("WEBP", {}), ("TIFF", {})])
def test_a_file_validates_as_its_bytes_do(tmp_path: Path, fmt: str, kwargs: dict[str, Any]) -> None:
    data = encode(picture((120, 80)), fmt, **kwargs)
    path = tmp_path / "upload.tmp"
    path.write_bytes(data)
    from_bytes = validate_upload(data, **LIMITS)
    assert validate_upload_file(path, sha256=from_bytes.sha256, max_pixels=LIMITS["max_pixels"]) == from_bytes


@pytest.mark.parametrize(
    ("data", "error"),
    [(b"", InvalidRequest), (b"plain text", UnsupportedMediaType), (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, InvalidRequest)],
    ids=["empty", "not-an-image", "truncated"],
)
def test_a_file_is_refused_as_its_bytes_are(tmp_path: Path, data: bytes, error: type[AppError]) -> None:
    path = tmp_path / "upload.tmp"
    path.write_bytes(data)
    with pytest.raises(error):
        validate_upload_file(path, sha256="0" * 64, max_pixels=LIMITS["max_pixels"])
