"""WebP thumbnails for the gallery.

Thumbnails are decoded at reduced scale where the codec allows it (JPEG DCT scaling via
``draft``), shrunk with ``reducing_gap`` (a cheap box ``reduce()`` first, then a good filter on the
small image), and transposed after shrinking, when there are far fewer pixels to move.
"""

from __future__ import annotations

import io
from typing import cast

from PIL import Image, ImageCms

from app.storage.uploads import exif_orientation

DEFAULT_LONG_SIDE = 384
DEFAULT_QUALITY = 75
# libwebp effort: a 384 px thumbnail takes ~4 ms at method 0, ~6 ms at 2, ~13-16 ms at the
# default 4 (bench/store_cpu.py), for files a few % larger; thumbnails are made on the job's path.
WEBP_METHOD = 0

# EXIF orientation → the transpose that displays the image upright (same table as
# ImageOps.exif_transpose, applied by hand so it can run after resizing).
_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_SRGB = ImageCms.createProfile("sRGB")


def make_thumbnail(
    data_or_image: bytes | Image.Image,
    long_side: int = DEFAULT_LONG_SIDE,
    *,
    quality: int = DEFAULT_QUALITY,
) -> bytes:
    """A WebP whose long side is at most ``long_side`` px, upright, in 8-bit RGB(A).

    A passed Image is not modified, except that a still-unloaded JPEG is set to decode at
    reduced scale (``draft``): open a fresh one for full-size work. Raises whatever Pillow raises
    for undecodable data: callers validate before asking.
    """
    if isinstance(data_or_image, Image.Image):
        return _thumbnail(data_or_image, long_side, quality)
    with Image.open(io.BytesIO(data_or_image)) as im:
        return _thumbnail(im, long_side, quality)


def _thumbnail(im: Image.Image, long_side: int, quality: int) -> bytes:
    orientation = exif_orientation(im)
    icc_profile = im.info.get("icc_profile") or None
    size = _fit(im.size, long_side)
    if im.format == "JPEG":
        # libjpeg decodes at the smallest DCT scale (1/2 … 1/8) still covering the target; the
        # scaled IDCT is itself a good downscale. Measured 2-3× faster on 4096² sources than
        # decoding at twice the target, as Image.thumbnail would, for no visible difference.
        im.draft(None, size)
    im = _to_display_mode(im, icc_profile)
    if im.size != size:
        # resize() returns a new image: a caller's Image is never shrunk in place. Pillow widens
        # the filter by the scale factor, so BILINEAR is a proper (antialiased) triangle filter
        # here; after the box reduce() / DCT scaling the last step is < 2x, where it looks like
        # LANCZOS at 2.0 ms instead of 5.4 ms for 512 -> 384 px.
        im = im.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    transpose = _TRANSPOSE.get(orientation)
    if transpose is not None:
        im = im.transpose(transpose)
    out = io.BytesIO()
    save_args: dict[str, object] = {"quality": quality, "method": WEBP_METHOD}
    if icc_profile and im.mode in ("RGB", "RGBA") and _profile_space(icc_profile) == b"RGB ":
        # Wide-gamut sources (Display P3 …) keep their colours; browsers honour the profile.
        save_args["icc_profile"] = icc_profile
    im.save(out, "WEBP", **save_args)
    return out.getvalue()


def _fit(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """``size`` scaled so its long side is ``long_side``, never enlarged, aspect kept."""
    width, height = size
    scale = long_side / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _profile_space(profile: bytes) -> bytes:
    # ICC header: the colour space signature sits at bytes 16..20 ("RGB ", "CMYK", "GRAY").
    return profile[16:20]


def _to_display_mode(im: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Convert to RGB, RGBA or L so that resampling works on real colours, not palette indices."""
    mode = im.mode
    if mode in ("RGB", "RGBA", "L"):
        return im
    if mode == "1":
        return im.convert("L")
    if mode in ("LA", "La", "PA"):
        return im.convert("RGBA")
    if mode == "RGBa":
        return im.convert("RGBA")
    if mode == "P":
        has_alpha = "transparency" in im.info or (im.palette is not None and im.palette.mode == "RGBA")
        return im.convert("RGBA" if has_alpha else "RGB")
    if mode == "CMYK":
        if icc_profile and _profile_space(icc_profile) == b"CMYK":
            try:
                source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
                converted = ImageCms.profileToProfile(im, source, _SRGB, outputMode="RGB")
                if converted is not None:
                    return converted
            except (ImageCms.PyCMSError, OSError, ValueError):
                pass  # a broken profile: the naive conversion below is still a usable preview
        return im.convert("RGB")
    if mode.startswith("I;16"):
        return im.point(lambda v: v / 256, "L")
    if mode in ("I", "F"):
        return _stretch_to_l(im)
    return im.convert("RGB")


def _stretch_to_l(im: Image.Image) -> Image.Image:
    """32-bit integer or float greyscale → 8-bit, keeping the common conventions.

    Integer data within 0..65535 is 16-bit greyscale (Pillow loads some 16-bit files as "I");
    floats within 0..1 are normalised intensities; anything else is stretched to its extrema.
    """
    # Single-band modes (I, F) give one (low, high) pair.
    low, high = cast("tuple[float, float]", im.getextrema())
    if im.mode == "I" and low >= 0 and high <= 255:
        return im.convert("L")
    if im.mode == "I" and low >= 0 and high <= 65535:
        return im.point(lambda v: v / 256).convert("L")
    if im.mode == "F" and low >= 0 and high <= 1:
        return im.point(lambda v: v * 255).convert("L")
    span = (high - low) or 1
    return im.point(lambda v: (v - low) * (255 / span)).convert("L")
