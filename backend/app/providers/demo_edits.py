"""The demo provider's edits, made locally with Pillow and visibly marked DEMO.

Deterministic like its generations: the same inputs and seed give the same bytes. Pure CPU work on
bytes; run in a worker thread.
- inpaint: a demo scene (the prompt and seed's picture, rendered by the provider) painted into the
  masked area;
- erase: the masked area filled from its surroundings (repeated blurs diffusing the border inwards);
- outpaint: the canvas grown, the new area a demo scene tinted by the source's own colours;
- upscale: resampled (Lanczos) to the target long side and sharpened (unsharp mask).
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

# Erase works on a copy at most this long, then scales the fill up: blurs cost the area.
_ERASE_WORK_SIDE = 512
_JPEG_QUALITY = 90


def _open_rgb(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as src:
        return ImageOps.exif_transpose(src).convert("RGB")


def _open_mask(data: bytes, size: tuple[int, int]) -> Image.Image:
    with Image.open(io.BytesIO(data)) as src:
        mask = src.convert("L")
    return mask if mask.size == size else mask.resize(size, Image.Resampling.NEAREST)


def _badge(image: Image.Image, text: str) -> None:
    """A "DEMO · <operation>" tag in the corner: a demo edit is never mistaken for a real one."""
    m = min(image.size)
    font = ImageFont.load_default(size=max(12, m // 24))
    pad = max(4, m // 80)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((pad * 2, pad * 2), text, font=font)
    draw.rectangle((left - pad, top - pad, right + pad, bottom + pad), fill=(16, 16, 24))
    draw.text((pad * 2, pad * 2), text, font=font, fill=(255, 255, 255))


def _scene(png: bytes, size: tuple[int, int]) -> Image.Image:
    with Image.open(io.BytesIO(png)) as rendered:
        scene = rendered.convert("RGB")
    return scene if scene.size == size else scene.resize(size, Image.Resampling.BILINEAR)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def inpaint(source: bytes, mask: bytes, scene_png: bytes) -> bytes:
    """``scene_png``: the demo's picture of the prompt, at the source's size."""
    image = _open_rgb(source)
    region = _open_mask(mask, image.size)
    painted = _scene(scene_png, image.size)
    # A slightly soft edge, as a real inpaint blends into its surroundings.
    soft = region.filter(ImageFilter.GaussianBlur(max(1, min(image.size) // 200)))
    image.paste(painted, (0, 0), soft)
    _badge(image, "DEMO · inpaint")
    return _png(image)


def erase(source: bytes, mask: bytes) -> bytes:
    image = _open_rgb(source)
    region = _open_mask(mask, image.size)
    scale = min(1.0, _ERASE_WORK_SIDE / max(image.size))
    work_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = image.resize(work_size, Image.Resampling.BILINEAR)
    small_region = region.resize(work_size, Image.Resampling.BILINEAR).point(lambda v: 255 if v else 0)
    # Grow the hole a little so the object's own edge is not smeared back in.
    small_region = small_region.filter(ImageFilter.MaxFilter(3))
    keep = ImageOps.invert(small_region)
    filled = small.copy()
    radius = max(work_size) / 4
    while radius >= 1:
        for _ in range(3):
            blurred = filled.filter(ImageFilter.GaussianBlur(radius))
            # Known pixels stay; the hole takes the blur, which carries its border inwards.
            filled = Image.composite(small, blurred, keep)
        radius /= 2
    fill = filled.resize(image.size, Image.Resampling.BICUBIC)
    soft = region.filter(ImageFilter.GaussianBlur(max(1, min(image.size) // 300)))
    image.paste(fill, (0, 0), soft)
    _badge(image, "DEMO · erase")
    return _png(image)


def outpaint_canvas(width: int, height: int, edges: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """(canvas width, canvas height, source x, source y) for edges (top, bottom, left, right)."""
    top, bottom, left, right = edges
    x, y = round(width * left), round(height * top)
    return x + width + round(width * right), y + height + round(height * bottom), x, y


def outpaint(source: bytes, edges: tuple[float, float, float, float], scene_png: bytes) -> bytes:
    """``scene_png``: the demo's picture of the prompt, at the canvas's size."""
    image = _open_rgb(source)
    canvas_w, canvas_h, x, y = outpaint_canvas(image.width, image.height, edges)
    scene = _scene(scene_png, (canvas_w, canvas_h))
    # The source stretched over the canvas and blurred: the new area continues its colours.
    context = image.resize((canvas_w, canvas_h), Image.Resampling.BILINEAR).filter(
        ImageFilter.GaussianBlur(max(canvas_w, canvas_h) / 30)
    )
    canvas = Image.blend(context, scene, 0.45)
    canvas.paste(image, (x, y))
    _badge(canvas, "DEMO · outpaint")
    return _png(canvas)


def upscale_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The size of an upscale to ``long_side``, the aspect kept."""
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def upscale(source: bytes, long_side: int) -> bytes:
    image = _open_rgb(source)
    size = upscale_size(image.width, image.height, long_side)
    big = image.resize(size, Image.Resampling.LANCZOS)
    big = big.filter(ImageFilter.UnsharpMask(radius=2, percent=80, threshold=2))
    _badge(big, f"DEMO · upscale {long_side}px")
    out = io.BytesIO()
    # JPEG: an 8K PNG would be hundreds of megabytes and seconds of zlib for a demo.
    big.save(out, "JPEG", quality=_JPEG_QUALITY)
    return out.getvalue()
