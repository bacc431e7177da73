"""Photograph-like test images for the fakes and the benchmarks.

Flat colours compress to almost nothing and decode in no time, so they make the image path look
far cheaper than real Seedream answers. These images have what costs real CPU: a smooth colour
field, hard-edged shapes, mid-frequency texture and fine grain, at the byte sizes real 2K-4K
outputs have (2K JPEG ~0.8 MB, 4K PNG ~15-20 MB).

Rendering a 4K PNG takes seconds, so every image is rendered once and kept on disk
(``FAKE_PHOTO_CACHE``, default ``~/.cache/volcengine-studio/fake-photos``; never in git) and in
memory. One image per (size, format): the content is deterministic per size, so cached and fresh
renders are interchangeable.
"""

from __future__ import annotations

import io
import os
import random
import secrets
import threading
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

# Bump when the rendering changes, so stale cache files are not used.
VERSION = 1
FORMATS = {"jpeg": ("JPEG", "jpg"), "png": ("PNG", "png")}
JPEG_QUALITY = 90
_lock = threading.Lock()


def cache_dir() -> Path:
    configured = os.environ.get("FAKE_PHOTO_CACHE")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "volcengine-studio" / "fake-photos"


@lru_cache(maxsize=16)
def photo_bytes(width: int, height: int, fmt: str = "jpeg") -> bytes:
    """The encoded photo of ``width`` x ``height`` in ``fmt`` ("jpeg" or "png"), from the cache."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown photo format {fmt!r}")
    pillow_format, ext = FORMATS[fmt]
    path = cache_dir() / f"photo-v{VERSION}-{width}x{height}.{ext}"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    with _lock:  # two threads asking for one 4K PNG render it once
        if path.exists():
            return path.read_bytes()
        out = io.BytesIO()
        options = {"quality": JPEG_QUALITY} if pillow_format == "JPEG" else {"compress_level": 6}
        render_photo(width, height).save(out, pillow_format, **options)
        data = out.getvalue()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return data


def render_photo(width: int, height: int) -> Image.Image:
    rnd = random.Random(width * 100_003 + height)
    short = max(1, min(width, height))
    # Smooth colour field (sky, background blur): low-resolution noise scaled up.
    small = (max(2, width // 96), max(2, height // 96))
    offsets = [rnd.randint(-40, 40) for _ in range(3)]
    channels = [Image.effect_noise(small, 60).point(lambda v, o=o: v + o) for o in offsets]
    base = Image.merge("RGB", channels).resize((width, height), Image.Resampling.BICUBIC)
    # Objects with hard and soft edges.
    layer = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(layer)
    mask = Image.new("L", (width, height), 0)
    mask_draw = ImageDraw.Draw(mask)
    for _ in range(60):
        x, y = rnd.randrange(width), rnd.randrange(height)
        r = rnd.randint(max(1, short // 40), max(2, short // 6))
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        if rnd.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        else:
            draw.polygon([(x + rnd.randint(-r, r), y + rnd.randint(-r, r)) for _ in range(5)], fill=colour)
        x, y = rnd.randrange(width), rnd.randrange(height)
        r = rnd.randint(max(1, short // 30), max(2, short // 5))
        mask_draw.ellipse((x - r, y - r, x + r, y + r), fill=rnd.randint(80, 200))
    mask = mask.filter(ImageFilter.GaussianBlur(max(1, width // 512)))
    image = Image.composite(layer, base, mask)
    # Texture, then film/sensor grain (at half resolution: denoised, as generated images are).
    texture = Image.effect_noise((max(1, width // 6), max(1, height // 6)), 14).resize((width, height), Image.Resampling.BICUBIC)
    image = ImageChops.add(image, Image.merge("RGB", [texture] * 3), offset=-128)
    grain = Image.effect_noise((max(1, width // 2), max(1, height // 2)), 3).resize((width, height), Image.Resampling.BILINEAR)
    return ImageChops.add(image, Image.merge("RGB", [grain] * 3), offset=-128)
