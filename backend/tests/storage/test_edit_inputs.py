"""Mask encoding and source fitting for edits (app/storage/edit_inputs.py)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from app.core.errors import InvalidMask
from app.storage.edit_inputs import fit_source, normalize_mask


def _encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def _levels(image: Image.Image) -> set[int]:
    return {level for level, count in enumerate(image.histogram()) if count}


def _decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_alpha_brush_strokes_are_the_area_to_redraw() -> None:
    canvas = Image.new("RGBA", (100, 80), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).rectangle((10, 10, 39, 29), fill=(255, 0, 0, 255))
    # A soft brush edge: half-transparent pixels go to the nearer side of 128.
    canvas.putpixel((50, 50), (255, 0, 0, 127))
    canvas.putpixel((51, 50), (255, 0, 0, 128))
    mask = _decoded(normalize_mask(_encode(canvas), 100, 80).data)
    assert mask.mode == "L" and mask.size == (100, 80) and _levels(mask) == {0, 255}
    assert mask.getpixel((20, 20)) == 255 and mask.getpixel((60, 60)) == 0
    assert mask.getpixel((50, 50)) == 0 and mask.getpixel((51, 50)) == 255


def test_openai_masks_edit_where_transparent() -> None:
    canvas = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    canvas.paste((0, 0, 0, 0), (0, 0, 32, 64))
    mask = _decoded(normalize_mask(_encode(canvas), 64, 64, transparent_edits=True).data)
    assert mask.getpixel((10, 10)) == 255 and mask.getpixel((50, 10)) == 0


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA-opaque", "P"])
def test_opaque_masks_are_read_by_luminance(mode: str) -> None:
    grey = Image.new("L", (40, 30), 0)
    ImageDraw.Draw(grey).rectangle((0, 0, 19, 29), fill=255)
    image = grey.convert("RGBA") if mode == "RGBA-opaque" else grey.convert(mode)
    mask = _decoded(normalize_mask(_encode(image), 40, 30).data)
    assert mask.mode == "L" and mask.getpixel((5, 5)) == 255 and mask.getpixel((30, 5)) == 0


def test_a_same_aspect_mask_is_scaled_nearest_and_another_is_refused() -> None:
    small = Image.new("L", (50, 25), 0)
    small.paste(255, (0, 0, 25, 25))
    mask = _decoded(normalize_mask(_encode(small), 200, 100).data)
    assert mask.size == (200, 100) and _levels(mask) == {0, 255}
    assert mask.getpixel((99, 50)) == 255 and mask.getpixel((100, 50)) == 0
    # 201 x 100 is within a pixel of 2:1: rounding, accepted.
    assert _decoded(normalize_mask(_encode(small), 201, 100).data).size == (201, 100)
    with pytest.raises(InvalidMask) as refused:
        normalize_mask(_encode(small), 200, 200)
    assert refused.value.code == "mask_size_mismatch" and refused.value.status_code == 422
    assert refused.value.details["field"] == "mask"


def test_an_empty_mask_is_refused() -> None:
    with pytest.raises(InvalidMask) as refused:
        normalize_mask(_encode(Image.new("RGBA", (10, 10), (0, 0, 0, 0))), 10, 10)
    assert refused.value.code == "mask_empty"


def test_fit_source_reencodes_only_when_needed() -> None:
    png = _encode(Image.new("RGB", (64, 64), "red"))
    assert fit_source(png, "image/png", accepted=("image/jpeg", "image/png"), max_bytes=None) is None
    webp = _encode(Image.new("RGBA", (64, 64), (0, 0, 255, 0)), "WEBP")
    fitted = fit_source(webp, "image/webp", accepted=("image/jpeg", "image/png"), max_bytes=None)
    assert fitted is not None and fitted.content_type == "image/jpeg" and (fitted.width, fitted.height) == (64, 64)
    # Transparency flattened on white, as viewers show it.
    assert _decoded(fitted.data).convert("RGB").getpixel((5, 5)) == pytest.approx((255, 255, 255), abs=3)
    noisy = _encode(Image.effect_noise((300, 300), 100).convert("RGB"))
    smaller = fit_source(noisy, "image/png", accepted=("image/jpeg", "image/png"), max_bytes=len(noisy) - 1)
    assert smaller is not None and len(smaller.data) < len(noisy)
