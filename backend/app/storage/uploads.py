"""Validation of image bytes that come from outside: uploads and data URIs.

Every check runs before any pixel is decoded: size, real type from the magic bytes (never the file
name or the client's content type), then dimensions from the header, and only then a decode that
proves the file is whole.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from app.core.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from app.core.images import ImageType, sniff_image_type

DEFAULT_ALLOWED = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/tiff", "image/gif")
MIN_SIDE = 14

_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class UploadInfo:
    sha256: str
    ext: str
    content_type: str
    width: int
    height: int
    bytes: int


EXIF_ORIENTATION_TAG = 0x0112


def exif_orientation(im: Image.Image) -> int:
    """EXIF orientation 1-8 (1 when absent or unreadable: a broken EXIF block must not fail a file).

    For PNG only an eXIf chunk before the image data counts: finding a later one means decoding
    every pixel first (Pillow loads the image to reach it), and the PNG extension asks writers to
    put it first anyway.
    """
    if im.format == "PNG" and "exif" not in im.info:
        return 1
    try:
        value = im.getexif().get(EXIF_ORIENTATION_TAG, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def oriented_size(im: Image.Image) -> tuple[int, int]:
    """Size as displayed: orientations 5-8 swap width and height."""
    width, height = im.size
    return (height, width) if exif_orientation(im) >= 5 else (width, height)


def _too_many_pixels(size: tuple[int, int] | None, max_pixels: int) -> InvalidRequest:
    limit_mp = max_pixels / 1_000_000
    if size is None:
        # Pillow refused the header before we could read the size: far above any sane limit.
        en, zh = "The image has", "图片像素数"
    else:
        en, zh = f"The image is {size[0]}×{size[1]} pixels,", f"图片尺寸为 {size[0]}×{size[1]} 像素，"
    return InvalidRequest(
        f"{en} more than the {limit_mp:g} megapixel limit (decompression bomb protection)",
        message_zh=f"{zh}超过 {limit_mp:g} 百万像素的上限（防解压炸弹保护）",
        code="invalid_request",
    )


def _undecodable() -> InvalidRequest:
    return InvalidRequest(
        "The image could not be decoded: the file is truncated or corrupt",
        message_zh="图片无法解码：文件不完整或已损坏",
        code="invalid_request",
    )


def open_checked(source: bytes | Path, image_type: ImageType, max_pixels: int) -> Image.Image:
    """Open with Pillow restricted to the sniffed format and check the header's pixel count.

    Restricting ``formats`` stops a polyglot from being read as some other format than the one
    its magic bytes announce. Nothing is decoded yet: Pillow reads only the header here.
    """
    try:
        im = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=[image_type.pillow_format])
    except Image.DecompressionBombError:
        # Pillow's own ceiling (2 × Image.MAX_IMAGE_PIXELS) tripped before ours could.
        raise _too_many_pixels(None, max_pixels) from None
    # Pillow's plugins leak struct.error and SyntaxError on malformed headers.
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error):
        raise _undecodable() from None
    width, height = im.size
    if width <= 0 or height <= 0:
        raise _undecodable()
    if width * height > max_pixels:
        raise _too_many_pixels((width, height), max_pixels)
    return im


def decode_fully(im: Image.Image) -> None:
    """Decode every byte of pixel data so a truncated or corrupt file is caught now.

    For JPEG, ``draft`` lets libjpeg use its DCT scaling (down to 1/8): the whole entropy-coded
    stream is still parsed, so truncation is still detected, at a fraction of the memory and time.
    """
    try:
        if im.format == "JPEG":
            im.draft(None, (max(1, im.width // 8), max(1, im.height // 8)))
        im.load()
    except Exception:
        raise _undecodable() from None


def accepted_type(data: bytes, allowed: tuple[str, ...] = DEFAULT_ALLOWED) -> ImageType:
    """The image type of bytes a caller sent, from their leading bytes: ``InvalidRequest`` when there
    are none, ``UnsupportedMediaType`` when they are not an image type we accept."""
    if not data:
        raise InvalidRequest("The file is empty", message_zh="文件为空", code="invalid_request")
    image_type = sniff_image_type(data)
    if image_type is None or image_type.content_type not in allowed:
        names = ", ".join(ct.removeprefix("image/").upper() for ct in allowed)
        raise UnsupportedMediaType(
            f"Unsupported file type; accepted image types: {names}",
            message_zh=f"不支持的文件类型；支持的图片格式：{names}",
        )
    return image_type


def validate_upload(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    allowed: tuple[str, ...] = DEFAULT_ALLOWED,
) -> UploadInfo:
    """Check a reference image a caller sent; raise an ``AppError`` a user can act on."""
    if len(data) > max_bytes:
        limit_mb = max_bytes / _MB
        raise PayloadTooLarge(
            f"The file is {len(data) / _MB:.1f} MB; the limit is {limit_mb:g} MB",
            message_zh=f"文件大小为 {len(data) / _MB:.1f} MB，超过 {limit_mb:g} MB 的上限",
        )
    image_type = accepted_type(data, allowed)
    width, height = _check_pixels(data, image_type, max_pixels)
    return UploadInfo(
        sha256=hashlib.sha256(data).hexdigest(),
        ext=image_type.ext,
        content_type=image_type.content_type,
        width=width,
        height=height,
        bytes=len(data),
    )


def validate_upload_file(
    path: Path,
    *,
    sha256: str,
    max_pixels: int,
    allowed: tuple[str, ...] = DEFAULT_ALLOWED,
) -> UploadInfo:
    """``validate_upload`` for an upload received into a file (its size limit already enforced,
    its hash computed on the way): Pillow reads the file as it decodes, never all of it at once."""
    with path.open("rb") as fh:
        head = fh.read(64)
    image_type = accepted_type(head, allowed)
    width, height = _check_pixels(path, image_type, max_pixels)
    return UploadInfo(
        sha256=sha256,
        ext=image_type.ext,
        content_type=image_type.content_type,
        width=width,
        height=height,
        bytes=path.stat().st_size,
    )


def _check_pixels(source: bytes | Path, image_type: ImageType, max_pixels: int) -> tuple[int, int]:
    """Displayed size of a whole image within the pixel limits, or an ``AppError``."""
    with open_checked(source, image_type, max_pixels) as im:
        width, height = oriented_size(im)
        if min(width, height) < MIN_SIDE:
            raise InvalidRequest(
                f"The image is {width}×{height} pixels; each side must be at least {MIN_SIDE} pixels",
                message_zh=f"图片尺寸为 {width}×{height} 像素，每边至少需要 {MIN_SIDE} 像素",
                code="invalid_request",
            )
        decode_fully(im)
    return width, height


_DATA_URI_RE = re.compile(r"^data:(?P<mime>image/[A-Za-z0-9.+-]+)(?P<params>(?:;[^;,]*)*?);base64,", re.IGNORECASE)


def decode_data_uri(uri: str, max_bytes: int) -> bytes:
    """Bytes of a ``data:image/...;base64,...`` URI; its declared type is ignored (sniffed later)."""
    match = _DATA_URI_RE.match(uri[:256])
    if match is None:
        raise InvalidRequest(
            "Images must be given as data:image/...;base64,... URIs or upload ids",
            message_zh="图片必须是 data:image/...;base64,... 格式的 Data URI 或上传文件的 id",
            code="invalid_request",
        )
    payload = uri[match.end() :].strip()
    padding = len(payload) - len(payload.rstrip("="))
    # Refuse on the length alone so an oversized string is never decoded into a second copy.
    estimated = len(payload) * 3 // 4 - padding
    if estimated > max_bytes:
        limit_mb = max_bytes / _MB
        raise PayloadTooLarge(
            f"The image is larger than the {limit_mb:g} MB limit",
            message_zh=f"图片超过 {limit_mb:g} MB 的大小上限",
        )
    if not payload:
        raise InvalidRequest("The file is empty", message_zh="文件为空", code="invalid_request")
    try:
        # Strict: the standard alphabet with correct padding; whitespace or URL-safe characters
        # mean a client bug we would rather report than guess around.
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(
            "The data URI does not contain valid base64",
            message_zh="Data URI 中的 base64 内容无效",
            code="invalid_request",
        ) from None
