"""Layered answers of the fake Ark (``layer_decomposition``), kept apart from ``tests.fakes.ark``.

Shape as in the official SDK's types (volcenginesdkarkruntime/types/images/images.py): the base
image (``z_index`` 0, no box) then one item per transparent PNG layer with ``z_index``,
``bounding_box {absolute, normalized}``, ``name``, ``description`` and ``output_format``. Each
layer's PNG is cut to its box (the box says where it goes on the canvas); in stream mode each
image is an ``image_generation.partial_succeeded`` frame numbered by ``image_index``.

Prompt markers (with the usual ``times=N``): ``[fault:layers-bare]`` (layers without box, name
or description), ``[fault:layers-normalized]`` (only the 0-1000 boxes), ``[fault:layers-garbage]``
(a box that is not four ordered integers), ``[fault:layers-nobase]`` (layers but no base),
``[fault:layer-url-404]`` (every layer's URL answers 404), ``[fault:layer-failed]`` (stream: a
``partial_failed`` frame for the last layer).
"""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image, ImageDraw

LAYER_FAMILIES = {"5.0-pro"}
NAMES = (
    ("天空", "蓝色渐变的天空背景 / the blue sky behind"),
    ("山", "远处的山峦 / the mountains in the distance"),
    ("人物", "前景中的人物 / the person in front"),
    ("文字", "标题文字 / the title text"),
    ("装饰", "装饰性的光斑 / decorative glints"),
)


def layer_png(width: int, height: int, seed: int) -> bytes:
    """A transparent PNG: a translucent disc on nothing, so its alpha matters."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    colour = ((seed * 67) % 200 + 40, (seed * 131) % 200 + 40, (seed * 29) % 200 + 40)
    draw.ellipse((0, 0, width - 1, height - 1), fill=(*colour, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def boxes(width: int, height: int, count: int) -> list[tuple[int, int, int, int]]:
    """Boxes spread over the canvas, each a fifth to a half of it, all inside it."""
    result = []
    for i in range(count):
        x0 = (width * (i % 4)) // 8
        y0 = (height * (i % 3)) // 6
        x1 = min(width, x0 + max(8, width // 2 - (i % 3) * width // 10))
        y1 = min(height, y0 + max(8, height // 2 - (i % 2) * height // 10))
        result.append((x0, y0, x1, y1))
    return result


def layer_items(
    base_width: int, base_height: int, count: int, *, faults: set[str], b64: bool, add_file: Any
) -> list[dict[str, Any]]:
    """The layer items of one layered image (without the base), bottom first."""
    items = []
    for i, (x0, y0, x1, y1) in enumerate(boxes(base_width, base_height, count)):
        data = layer_png(x1 - x0, y1 - y0, i + 1)
        item: dict[str, Any] = {"size": f"{x1 - x0}x{y1 - y0}", "output_format": "png", "z_index": i + 1}
        if b64:
            item["b64_json"] = base64.b64encode(data).decode("ascii")
        else:
            item["url"] = add_file(data, content_type="image/png",
                                   fault="url-404" if "layer-url-404" in faults else None)
        normalized = [round(x0 * 1000 / base_width), round(y0 * 1000 / base_height),
                      round(x1 * 1000 / base_width), round(y1 * 1000 / base_height)]
        if "layers-bare" not in faults:
            name, description = NAMES[i % len(NAMES)]
            item["name"], item["description"] = name, description
            if "layers-normalized" in faults:
                item["bounding_box"] = {"normalized": normalized}
            else:
                item["bounding_box"] = {"absolute": [x0, y0, x1, y1], "normalized": normalized}
        if "layers-garbage" in faults and i == 0:
            item["bounding_box"] = {"absolute": [x1, y0, x0]}
        items.append(item)
    return items
