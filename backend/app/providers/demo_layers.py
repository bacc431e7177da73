"""Layers for the offline demo provider: transparent PNGs drawn locally, each marked "DEMO".

With ``layer_decomposition`` the demo answers as Ark does for a layered image: the base image plus
a few transparent layers with z-index, bounding box (absolute and on the 0-1000 scale), name and
description. Its layers cover the whole canvas (the box says where their pixels are), so the
layer panel, the ZIP and its manifest can be tried without credentials.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFont

from app.providers.base import LayerResult
from app.providers.layers import NORMALIZED_SCALE

_LAYERS = (
    ("DEMO 形状 / shape", "演示图层：半透明的圆形。Demo layer: a translucent disc."),
    ("DEMO 色带 / band", "演示图层：倾斜的色带。Demo layer: a slanted band."),
    ("DEMO 文字 / text", "演示图层：DEMO 字样。Demo layer: the word DEMO."),
)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def render_layers(width: int, height: int, seed: int) -> list[LayerResult]:
    """Three transparent layers over a ``width`` x ``height`` base; pure CPU work."""
    rng = random.Random(seed)
    m = min(width, height)
    layers: list[LayerResult] = []
    for z, (name, description) in enumerate(_LAYERS, start=1):
        canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        draw = ImageDraw.Draw(canvas)
        colour = (rng.randrange(40, 255), rng.randrange(40, 255), rng.randrange(40, 255))
        if z == 1:
            r = int(m * (0.15 + rng.random() * 0.1))
            cx, cy = rng.randrange(r, width - r), rng.randrange(r, height - r)
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*colour, 190))
        elif z == 2:
            top = rng.randrange(0, max(1, height // 2))
            band = max(8, height // 8)
            draw.polygon([(0, top), (width, top + band), (width, top + 2 * band), (0, top + band)], fill=(*colour, 150))
        else:
            font = ImageFont.load_default(size=max(12, m // 8))
            draw.text((width * 0.5, height * 0.2), "DEMO", font=font, fill=(*colour, 255), anchor="mm")
        box = canvas.getbbox() or (0, 0, width, height)
        layers.append(
            LayerResult(
                z_index=z,
                data=_png(canvas),
                box=box,
                box_normalized=(
                    round(box[0] * NORMALIZED_SCALE / width), round(box[1] * NORMALIZED_SCALE / height),
                    round(box[2] * NORMALIZED_SCALE / width), round(box[3] * NORMALIZED_SCALE / height),
                ),
                name=name,
                description=description,
                output_format="png",
            )
        )
    return layers
