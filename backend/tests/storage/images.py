"""Small deterministic test images, built in memory."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image

QUADRANT_COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0))


def picture(size: tuple[int, int] = (97, 61), mode: str = "RGB") -> Image.Image:
    """A detailed image (fractal) so lossy codecs have real work and pixel diffs would show."""
    base = Image.effect_mandelbrot(size, (-2.0, -1.2, 0.8, 1.2), 60)
    if mode == "L":
        return base
    rgb = Image.merge("RGB", (base, base.rotate(90, expand=False), base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    if mode == "RGBA":
        alpha = Image.linear_gradient("L").resize(size)
        rgba = rgb.copy()
        rgba.putalpha(alpha)
        return rgba
    return rgb.convert(mode)


def quadrants(size: tuple[int, int] = (200, 100)) -> Image.Image:
    """Four solid colours (top-left, top-right, bottom-left, bottom-right) to check orientation."""
    im = Image.new("RGB", size)
    w, h = size
    for index, colour in enumerate(QUADRANT_COLOURS):
        x, y = (index % 2) * w // 2, (index // 2) * h // 2
        im.paste(colour, (x, y, x + w // 2, y + h // 2))
    return im


def encode(im: Image.Image, fmt: str, **kwargs: Any) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **kwargs)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def png_chunk(chunk_type: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + chunk_type + body + struct.pack(">I", zlib.crc32(chunk_type + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG claiming ``width``×``height`` with one tiny IDAT: a decompression bomb's header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
