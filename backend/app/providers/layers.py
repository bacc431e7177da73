"""Reading a layered answer (Ark ``layer_decomposition``): a base image plus transparent layers.

Wire format (official SDK ``volcenginesdkarkruntime/types/images/images.py``, read 2026-11-30):
each ``data`` item (or ``image_generation.partial_succeeded`` stream frame, numbered by
``image_index``) holds ``url | b64_json``, ``size``, ``output_format`` and, for layers,
``z_index`` (the base image is 0), ``bounding_box: {absolute: [x0, y0, x1, y1] in base pixels,
normalized: [...] on 0-1000}``, ``name`` and ``description`` - all of them optional in the SDK.

Optional fields may be missing and are then left out; anything that makes the set unusable (no
base image, a layer without pixels, a box that is not four ordered integers) is the upstream's
garbage and fails the image with a clear error rather than storing a set nobody can put together.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from app.core.errors import ProviderError
from app.providers.base import ImageResult, LayerResult
from app.providers.http_errors import bad_response
from app.providers.transport import Service

logger = logging.getLogger(__name__)

# Reported: "a base image plus up to 16 layers". Far more than that is not an answer we can show.
MAX_LAYERS = 64
NORMALIZED_SCALE = 1000
_TEXT_MAX = 2000

Box = tuple[int, int, int, int]


def _garbage(service: Service, en: str, zh: str) -> ProviderError:
    return bad_response(service, en, zh, billed=True)


def _image_of(item: Mapping[str, Any]) -> tuple[str | None, bytes | None] | None:
    url = item.get("url")
    if isinstance(url, str) and url:
        return url, None
    encoded = item.get("b64_json")
    if isinstance(encoded, str) and encoded:
        try:
            return None, base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return None
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _box(value: Any, *, limit: int | None) -> Box | None | bool:
    """Four ordered non-negative integers, None when absent, False when malformed."""
    if value is None:
        return None
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 4:
        return False
    numbers = [_int(v) for v in value]
    if any(n is None or n < 0 for n in numbers):
        return False
    x0, y0, x1, y1 = (n for n in numbers if n is not None)
    if x0 > x1 or y0 > y1 or (limit is not None and max(x1, y1) > limit):
        return False
    return x0, y0, x1, y1


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:_TEXT_MAX]


def _is_layer(item: Mapping[str, Any]) -> bool:
    z = _int(item.get("z_index"))
    return (z is not None and z > 0) or item.get("bounding_box") is not None


def parse_layered(
    index: int, items: Sequence[Any], *, seed: int | None, service: Service
) -> ImageResult:
    """The base image at ``index`` with its layers, from the items of one layered answer.

    Raises ``ProviderError`` (billed: the upstream did the work) for an unusable answer.
    """
    if not items:
        raise _garbage(service, "no image in the layered answer", "分层结果中没有图片")
    if len(items) > MAX_LAYERS + 1:
        raise _garbage(
            service, f"{len(items) - 1} layers, more than the {MAX_LAYERS} we keep",
            f"返回了 {len(items) - 1} 个图层，超过了上限 {MAX_LAYERS}",
        )
    base: ImageResult | None = None
    layers: list[tuple[int, int, LayerResult]] = []
    for position, raw in enumerate(items):
        item: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        image = _image_of(item)
        if not _is_layer(item):
            if base is not None:
                raise _garbage(service, "two base images in one layered answer", "分层结果中有两张底图")
            if image is None:
                raise _garbage(service, "the layered answer's base image has no pixels", "分层结果的底图没有图片数据")
            size = item.get("size") if isinstance(item.get("size"), str) else None
            base = ImageResult(index=index, url=image[0], data=image[1], size=size, seed=seed)
            continue
        layers.append((position, *_layer(item, image, position, service)))
    if base is None:
        raise _garbage(service, "the layered answer has layers but no base image", "分层结果只有图层，没有底图")
    # Bottom first; the upstream's order breaks ties so two layers at one z_index keep theirs.
    layers.sort(key=lambda entry: (entry[1], entry[0]))
    base.layers = tuple(layer for _, _, layer in layers)
    return base


def _layer(
    item: Mapping[str, Any], image: tuple[str | None, bytes | None] | None, position: int, service: Service
) -> tuple[int, LayerResult]:
    if image is None:
        raise _garbage(service, f"layer {position} has no pixels", f"第 {position} 个图层没有图片数据")
    z = _int(item.get("z_index"))
    if z is None:
        # A box but no z_index: stack it in the order it came.
        z = position
    if z < 1:
        raise _garbage(service, f"layer {position} has z_index {z}, not above the base (0)", f"第 {position} 个图层的 z_index 为 {z}，不在底图（0）之上")
    box_obj = item.get("bounding_box")
    if box_obj is not None and not isinstance(box_obj, Mapping):
        raise _garbage(service, f"layer {position} has an unreadable bounding_box", f"第 {position} 个图层的 bounding_box 无法解析")
    box_obj = box_obj or {}
    absolute = _box(box_obj.get("absolute"), limit=None)
    normalized = _box(box_obj.get("normalized"), limit=NORMALIZED_SCALE)
    if absolute is False or normalized is False:
        raise _garbage(
            service, f"layer {position} has a bounding_box that is not [x0, y0, x1, y1]",
            f"第 {position} 个图层的 bounding_box 不是 [x0, y0, x1, y1]",
        )
    assert not isinstance(absolute, bool) and not isinstance(normalized, bool)
    fmt = item.get("output_format")
    return z, LayerResult(
        z_index=z,
        url=image[0],
        data=image[1],
        box=absolute,
        box_normalized=normalized,
        name=_text(item.get("name")),
        description=_text(item.get("description")),
        output_format=fmt if isinstance(fmt, str) else None,
    )


def complete_boxes(layer: LayerResult, width: int, height: int) -> tuple[Box | None, Box | None]:
    """Both forms of a layer's box once the base size is known: the one the upstream left out is
    derived from the other; an absolute box reaching past the canvas is clipped to it."""
    absolute, normalized = layer.box, layer.box_normalized
    if absolute is not None:
        x0, y0, x1, y1 = absolute
        absolute = (min(x0, width), min(y0, height), min(x1, width), min(y1, height))
    if absolute is None and normalized is not None:
        x0, y0, x1, y1 = normalized
        absolute = (
            round(x0 * width / NORMALIZED_SCALE), round(y0 * height / NORMALIZED_SCALE),
            round(x1 * width / NORMALIZED_SCALE), round(y1 * height / NORMALIZED_SCALE),
        )
    if normalized is None and absolute is not None and width > 0 and height > 0:
        x0, y0, x1, y1 = absolute
        normalized = (
            round(x0 * NORMALIZED_SCALE / width), round(y0 * NORMALIZED_SCALE / height),
            round(x1 * NORMALIZED_SCALE / width), round(y1 * NORMALIZED_SCALE / height),
        )
    return absolute, normalized
