from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image, ImageCms, ImageOps

from app.storage.thumbnails import make_thumbnail
from tests.storage.images import QUADRANT_COLOURS, decode, encode, picture, quadrants

SIZE = (800, 600)


def _grey16() -> bytes:
    return encode(Image.new("I;16", SIZE, 40000), "PNG")


def _palette_with_transparency() -> bytes:
    im = picture(SIZE).convert("P")
    return encode(im, "PNG", transparency=0)


# name → (source bytes, expected thumbnail mode)
SOURCES: dict[str, tuple[Callable[[], bytes], str]] = {
    "jpeg-rgb": (lambda: encode(picture(SIZE), "JPEG"), "RGB"),
    "jpeg-grey": (lambda: encode(picture(SIZE, "L"), "JPEG"), "RGB"),
    "jpeg-cmyk": (lambda: encode(picture(SIZE).convert("CMYK"), "JPEG"), "RGB"),
    "png-rgba": (lambda: encode(picture(SIZE, "RGBA"), "PNG"), "RGBA"),
    "png-la": (lambda: encode(picture(SIZE, "RGBA").convert("LA"), "PNG"), "RGBA"),
    "png-p": (lambda: encode(picture(SIZE).convert("P"), "PNG"), "RGB"),
    "png-p-transparent": (_palette_with_transparency, "RGBA"),
    "png-1bit": (lambda: encode(picture(SIZE, "L").convert("1"), "PNG"), "RGB"),
    "png-16bit": (_grey16, "RGB"),
    "tiff-int32": (lambda: encode(Image.new("I", SIZE, 1000), "TIFF"), "RGB"),
    "tiff-float": (lambda: encode(Image.new("F", SIZE, 0.5), "TIFF"), "RGB"),
    "tiff-cmyk": (lambda: encode(picture(SIZE).convert("CMYK"), "TIFF"), "RGB"),
    "bmp": (lambda: encode(picture(SIZE), "BMP"), "RGB"),
    "gif": (lambda: encode(picture(SIZE).convert("P"), "GIF"), "RGB"),
    "webp-alpha": (lambda: encode(picture(SIZE, "RGBA"), "WEBP"), "RGBA"),
}


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_mode_gives_a_webp_of_the_right_size(name: str) -> None:
    factory, mode = SOURCES[name]
    thumb = decode(make_thumbnail(factory()))
    assert thumb.format == "WEBP"
    assert thumb.size == (384, 288)
    assert thumb.mode == mode


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    thumb = decode(make_thumbnail(_grey16()))
    red, green, blue = thumb.getpixel((100, 100))
    assert abs(red - 40000 // 256) <= 3 and red == green == blue


def test_float_grey_is_scaled_from_unit_range() -> None:
    thumb = decode(make_thumbnail(encode(Image.new("F", SIZE, 0.5), "TIFF")))
    assert abs(thumb.getpixel((10, 10))[0] - 128) <= 3


@pytest.mark.parametrize("profile", [None, b"\x00" * 16 + b"CMYK" + b"\x00" * 108])
def test_cmyk_keeps_colours_even_with_a_broken_profile(profile: bytes | None) -> None:
    cmyk = Image.new("RGB", SIZE, (200, 30, 30)).convert("CMYK")
    data = encode(cmyk, "JPEG", icc_profile=profile) if profile else encode(cmyk, "JPEG")
    thumb = decode(make_thumbnail(data))
    red, green, blue = thumb.getpixel((50, 50))
    assert red > 150 and green < 80 and blue < 80
    assert "icc_profile" not in thumb.info


def test_small_images_are_not_enlarged() -> None:
    thumb = decode(make_thumbnail(encode(picture((100, 50)), "PNG")))
    assert thumb.size == (100, 50)


def test_long_side_is_configurable_and_portrait_works() -> None:
    thumb = decode(make_thumbnail(encode(picture((300, 1200)), "JPEG"), long_side=128))
    assert thumb.size == (32, 128)


def test_accepts_an_image_without_changing_it() -> None:
    source = picture((1000, 500))
    pixels = source.tobytes()
    assert decode(make_thumbnail(source)).size == (384, 192)
    assert source.size == (1000, 500) and source.tobytes() == pixels


def test_large_jpeg_is_decoded_at_reduced_scale() -> None:
    gradient = Image.linear_gradient("L").resize((3000, 2000))
    source = Image.open(io.BytesIO(encode(Image.merge("RGB", (gradient, gradient, gradient)), "JPEG")))
    thumb = decode(make_thumbnail(source))
    assert thumb.size == (384, 256)
    # draft() ran: the decoder produced a DCT-scaled image, not 3000×2000.
    assert source.size[0] < 3000


def test_wide_gamut_profile_is_kept() -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    thumb = decode(make_thumbnail(encode(picture(SIZE), "JPEG", icc_profile=profile)))
    assert thumb.info.get("icc_profile") == profile


def test_animated_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (64, 64), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    thumb = decode(make_thumbnail(data))
    assert thumb.getpixel((32, 32))[0] > 200


def _quadrant_colours(im: Image.Image) -> list[tuple[int, int, int]]:
    w, h = im.size
    rgb = im.convert("RGB")
    return [rgb.getpixel((x * w // 4, y * h // 4)) for y in (1, 3) for x in (1, 3)]  # type: ignore[misc]


def _nearest(colour: tuple[int, int, int]) -> int:
    return min(range(4), key=lambda i: sum((a - b) ** 2 for a, b in zip(colour, QUADRANT_COLOURS[i], strict=True)))


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_orientation_is_honoured(orientation: int, fmt: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(quadrants((800, 400)), fmt, exif=exif)
    expected = ImageOps.exif_transpose(decode(data))
    thumb = decode(make_thumbnail(data))
    assert thumb.size == ((384, 192) if orientation < 5 else (192, 384))
    assert expected.size[0] * thumb.size[1] == expected.size[1] * thumb.size[0]
    assert [_nearest(c) for c in _quadrant_colours(thumb)] == [_nearest(c) for c in _quadrant_colours(expected)]
