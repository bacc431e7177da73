"""Image types we accept, told apart by their leading bytes (never a file name or a declared type).

One list for every door an image comes through: uploads, data URIs and upstream results.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ImageType:
    ext: str
    content_type: str
    pillow_format: str


PNG = ImageType("png", "image/png", "PNG")
JPEG = ImageType("jpg", "image/jpeg", "JPEG")
WEBP = ImageType("webp", "image/webp", "WEBP")
GIF = ImageType("gif", "image/gif", "GIF")
BMP = ImageType("bmp", "image/bmp", "BMP")
TIFF = ImageType("tiff", "image/tiff", "TIFF")

IMAGE_TYPES: tuple[ImageType, ...] = (PNG, JPEG, WEBP, GIF, BMP, TIFF)
TYPE_BY_EXT: dict[str, ImageType] = {t.ext: t for t in IMAGE_TYPES}

# Sizes of the BMP info headers Pillow understands; "BM" alone is too weak a signature (any text
# file starting with those two letters would pass).
_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}


def sniff_image_type(data: bytes) -> ImageType | None:
    """The image type announced by the leading bytes, or None for anything we do not accept."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return TIFF
    if len(data) >= 18 and data[:2] == b"BM" and int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES:
        return BMP
    return None
