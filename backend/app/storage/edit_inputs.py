"""Preparing an edit's inputs for the upstream: the mask in the one encoding it takes, the source
in a format and size it accepts. Pure functions on bytes (run them in a worker thread).

Mask encoding (the Visual API's, docs 85621/1976207): a single-channel 8-bit PNG the size of the
source, 0 = keep, 255 = redraw. What a client uploads is read as:
- an image with transparency: the alpha channel is the mask. ``transparent_edits=False`` (our UI's
  brush: painted = opaque = redraw) keeps alpha as it is; ``True`` (OpenAI's convention:
  transparent = edit) inverts it;
- an opaque image (grey or colour): its luminance, white = redraw.
Values are thresholded at 128 so the upstream gets exactly 0 and 255. A mask of another size with
the same aspect ratio (a brush canvas drawn at screen size) is scaled to the source, nearest
neighbour; any other size is refused rather than stretched.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from app.core.errors import InvalidMask

THRESHOLD = 128
# A scaled mask may differ from the source's aspect by this many source pixels (rounding).
ASPECT_SLACK_PX = 1
JPEG_QUALITY = 92


@dataclass(frozen=True, slots=True)
class PreparedImage:
    data: bytes
    content_type: str
    width: int
    height: int


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    return ImageOps.exif_transpose(image)


def _has_transparency(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def mask_channel(image: Image.Image, *, transparent_edits: bool) -> Image.Image:
    """The mask as one "L" channel, 255 = redraw, before thresholding."""
    if _has_transparency(image):
        alpha = image.convert("RGBA").getchannel("A")
        extrema = alpha.getextrema()
        if extrema != (255, 255):  # a fully opaque alpha says nothing: read the pixels instead
            return ImageOps.invert(alpha) if transparent_edits else alpha
    return image.convert("L")


def _same_aspect(w: int, h: int, source_w: int, source_h: int) -> bool:
    # Scaled to the source's width, the mask's height must land within a pixel of the source's.
    return abs(h * source_w / w - source_h) <= ASPECT_SLACK_PX and abs(w * source_h / h - source_w) <= ASPECT_SLACK_PX


def normalize_mask(data: bytes, source_width: int, source_height: int, *, transparent_edits: bool = False) -> PreparedImage:
    """``data`` (any image Pillow reads) as the upstream's mask for a source of that size."""
    with _open(data) as image:
        w, h = image.size
        if (w, h) != (source_width, source_height) and not _same_aspect(w, h, source_width, source_height):
            raise InvalidMask(
                f"The mask is {w}x{h} but the source image is {source_width}x{source_height}: "
                "a mask must have the source's size (or at least its aspect ratio, then it is scaled).",
                message_zh=f"蒙版为 {w}x{h}，原图为 {source_width}x{source_height}：蒙版须与原图同尺寸"
                "（至少同宽高比，此时会按比例缩放）。",
                details={"field": "mask", "width": w, "height": h, "source_width": source_width, "source_height": source_height},
                code="mask_size_mismatch",
            )
        channel = mask_channel(image, transparent_edits=transparent_edits)
    if channel.size != (source_width, source_height):
        channel = channel.resize((source_width, source_height), Image.Resampling.NEAREST)
    binary = channel.point(lambda v: 255 if v >= THRESHOLD else 0)
    if binary.getextrema()[1] == 0:
        raise InvalidMask(
            "The mask marks nothing to edit: paint (or make opaque / white) the area to change.",
            message_zh="蒙版没有标出任何要编辑的区域：请涂抹（或设为不透明 / 白色）要修改的部分。",
            details={"field": "mask"},
            code="mask_empty",
        )
    out = io.BytesIO()
    binary.save(out, "PNG", optimize=False, compress_level=6)
    return PreparedImage(out.getvalue(), "image/png", source_width, source_height)


def fit_source(data: bytes, content_type: str, *, accepted: tuple[str, ...], max_bytes: int | None) -> PreparedImage | None:
    """``data`` re-encoded for an upstream that accepts only ``accepted`` types up to
    ``max_bytes``: None when it already fits, else a JPEG (PNG when JPEG is not accepted).
    The caller still checks the result's size: a picture may be too big even as JPEG."""
    if content_type in accepted and (max_bytes is None or len(data) <= max_bytes):
        return None
    with _open(data) as image:
        target = "image/jpeg" if "image/jpeg" in accepted else "image/png"
        out = io.BytesIO()
        if target == "image/jpeg":
            flat = image.convert("RGBA") if _has_transparency(image) else image.convert("RGB")
            if flat.mode == "RGBA":
                # Transparency has no JPEG form: flatten on white, as viewers show it.
                background = Image.new("RGB", flat.size, (255, 255, 255))
                background.paste(flat, mask=flat.getchannel("A"))
                flat = background
            flat.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
        else:
            image.save(out, "PNG")
        return PreparedImage(out.getvalue(), target, image.width, image.height)
