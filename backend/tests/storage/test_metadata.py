from __future__ import annotations

import json
import random
import struct
import zlib
from collections.abc import Callable
from datetime import UTC

import pytest
from PIL import Image

from app.storage import metadata
from app.storage.metadata import APP_NAME, JPEG_SEGMENT_MAX, embed, encode_payload, read
from tests.storage.images import decode, encode, picture, png_chunk

PARAMS = {"prompt": "一只猫 in the rain", "seed": 42, "model": "doubao-seedream-4-0-250828", "size": "2K"}


def _exif_orientation_6() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"
    return exif


# name → (bytes factory, content type)
CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "png-rgb": (lambda: encode(picture(), "PNG"), "image/png"),
    "png-rgba": (lambda: encode(picture(mode="RGBA"), "PNG"), "image/png"),
    "png-palette": (lambda: encode(picture().convert("P"), "PNG"), "image/png"),
    "png-16bit-grey": (lambda: encode(picture(mode="L").convert("I;16"), "PNG"), "image/png"),
    "jpeg-baseline": (lambda: encode(picture(), "JPEG", quality=90), "image/jpeg"),
    "jpeg-progressive": (lambda: encode(picture(), "JPEG", quality=85, progressive=True), "image/jpeg"),
    "jpeg-exif-icc": (
        lambda: encode(picture(), "JPEG", exif=_exif_orientation_6(), icc_profile=_srgb_icc()),
        "image/jpeg",
    ),
    "jpeg-grey": (lambda: encode(picture(mode="L"), "JPEG"), "image/jpeg"),
    "jpeg-cmyk": (lambda: encode(picture().convert("CMYK"), "JPEG"), "image/jpeg"),
    "webp-lossy": (lambda: encode(picture(), "WEBP", quality=80), "image/webp"),
    "webp-lossy-alpha": (lambda: encode(picture(mode="RGBA"), "WEBP", quality=80), "image/webp"),
    "webp-lossless": (lambda: encode(picture(), "WEBP", lossless=True), "image/webp"),
    "webp-lossless-alpha": (lambda: encode(picture(mode="RGBA"), "WEBP", lossless=True), "image/webp"),
    "webp-with-exif": (lambda: encode(picture(), "WEBP", exif=_exif_orientation_6()), "image/webp"),
}


def _srgb_icc() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_keeps_pixels_and_reads_back(name: str) -> None:
    factory, content_type = CASES[name]
    original = factory()
    tagged = embed(original, content_type, PARAMS)
    before, after = decode(original), decode(tagged)
    assert (after.format, after.mode, after.size) == (before.format, before.mode, before.size)
    assert after.tobytes() == before.tobytes()
    assert read(tagged) == {"app": APP_NAME, "version": 1, **PARAMS}
    assert read(original) is None
    assert dict(after.getexif()) == dict(before.getexif())
    assert after.info.get("icc_profile") == before.info.get("icc_profile")


@pytest.mark.parametrize("name", list(CASES))
def test_embedding_again_replaces_ours(name: str) -> None:
    factory, content_type = CASES[name]
    original = factory()
    twice = embed(embed(original, content_type, {"prompt": "first"}), content_type, {"prompt": "second"})
    assert read(twice) == {"app": APP_NAME, "version": 1, "prompt": "second"}
    assert twice.count(b'"app":"volcengine-image-studio"') == 1
    assert twice == embed(original, content_type, {"prompt": "second"})
    assert decode(twice).tobytes() == decode(original).tobytes()


def test_png_chunk_sits_before_iend_with_valid_crc() -> None:
    tagged = embed(encode(picture(), "PNG"), "image/png", PARAMS)
    assert tagged.endswith(png_chunk(b"IEND", b""))
    start = tagged.rindex(b"iTXt") - 4
    (length,) = struct.unpack_from(">I", tagged, start)
    body = tagged[start + 8 : start + 8 + length]
    (crc,) = struct.unpack_from(">I", tagged, start + 8 + length)
    assert crc == zlib.crc32(b"iTXt" + body)
    assert body.startswith(b"volcengine-studio\x00\x00\x00\x00\x00")
    # Pillow's own reader sees the same text, so other tools will too.
    assert json.loads(decode(tagged).text["volcengine-studio"])["seed"] == 42


def test_png_large_payload_is_compressed_and_read_back() -> None:
    params = {"prompt": "雨中的猫 " * 2000}
    tagged = embed(encode(picture(), "PNG"), "image/png", params)
    assert read(tagged) == {"app": APP_NAME, "version": 1, **params}
    assert len(tagged) < len(encode(picture(), "PNG")) + 2000


def test_jpeg_comment_follows_app_segments() -> None:
    original = encode(picture(), "JPEG", exif=_exif_orientation_6())
    tagged = embed(original, "image/jpeg", PARAMS)
    # SOI, APP0 (JFIF) and APP1 (Exif) keep their places; our COM comes right after them.
    segments, _ = metadata._jpeg_header_segments(tagged, strict=True)
    markers = [marker for marker, _, _ in segments]
    assert markers[:3] == [0xE0, 0xE1, 0xFE]
    assert decode(tagged).info["comment"].startswith(b'{"app":"volcengine-image-studio"')


def test_jpeg_oversized_payload_is_trimmed_to_one_valid_segment() -> None:
    params = {"prompt": "长" * 40_000, "negative_prompt": "n" * 30_000, "notes": "x" * 70_000, "seed": 7}
    original = encode(picture(), "JPEG")
    tagged = embed(original, "image/jpeg", params)
    payload = read(tagged)
    assert payload is not None
    assert payload["truncated"] is True and payload["seed"] == 7
    assert "notes" not in payload
    assert payload["negative_prompt"] == ""
    assert payload["prompt"] and "长" * 40_000 != payload["prompt"] and set(payload["prompt"]) == {"长"}
    segments, _ = metadata._jpeg_header_segments(tagged, strict=True)
    com = [(s, e) for marker, s, e in segments if marker == 0xFE]
    assert len(com) == 1 and com[0][1] - com[0][0] - 4 <= JPEG_SEGMENT_MAX
    assert decode(tagged).tobytes() == decode(original).tobytes()


def test_payload_envelope_cannot_be_overridden_and_drops_secrets() -> None:
    payload = json.loads(
        encode_payload(
            {"app": "other", "version": 9, "prompt": "p", "api_key": "sk-1", "request": {"Authorization": "Bearer x"}}
        )
    )
    assert payload == {"app": APP_NAME, "version": 1, "prompt": "p", "request": {}}


def test_payload_that_cannot_fit_falls_back_to_identity() -> None:
    payload = json.loads(encode_payload({"model": "m" * 500}, limit=100))
    assert payload == {"app": APP_NAME, "version": 1, "truncated": True}


def test_non_json_values_are_stringified() -> None:
    from datetime import datetime
    from pathlib import PurePosixPath

    payload = json.loads(
        encode_payload({"created": datetime(2026, 11, 29, tzinfo=UTC), "p": PurePosixPath("a/b"), "s": "\ud800"})
    )
    assert payload["created"] == "2026-11-29T00:00:00+00:00" and payload["p"] == "a/b" and payload["s"] == "?"


def test_webp_simple_file_becomes_extended_with_flags() -> None:
    original = encode(picture(mode="RGBA"), "WEBP", lossless=True)
    assert original[12:16] == b"VP8L"
    tagged = embed(original, "image/webp", PARAMS)
    assert tagged[12:16] == b"VP8X"
    flags = tagged[20]
    assert flags & 0x04 and flags & 0x10  # XMP and alpha
    width = int.from_bytes(tagged[24:27], "little") + 1
    height = int.from_bytes(tagged[27:30], "little") + 1
    assert (width, height) == (97, 61)
    assert struct.unpack_from("<I", tagged, 4)[0] == len(tagged) - 8
    assert decode(tagged).mode == "RGBA"


def test_webp_lossy_without_alpha_gets_no_alpha_flag() -> None:
    tagged = embed(encode(picture(), "WEBP"), "image/webp", PARAMS)
    assert tagged[20] == 0x04
    assert decode(tagged).mode == "RGB"


def test_webp_foreign_xmp_is_kept_and_ours_goes_to_private_chunk() -> None:
    foreign = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    original = encode(picture(), "WEBP", xmp=foreign)
    tagged = embed(original, "image/webp", PARAMS)
    assert read(tagged) == {"app": APP_NAME, "version": 1, **PARAMS}
    assert decode(tagged).info.get("xmp") == foreign
    assert b"VIST" in tagged
    assert decode(tagged).tobytes() == decode(original).tobytes()


def test_formats_without_a_metadata_slot_are_unchanged() -> None:
    gif = encode(picture().convert("P"), "GIF")
    assert embed(gif, "image/gif", PARAMS) == gif
    assert read(gif) is None


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", b"\x00" * 13), "image/png"),  # no IEND
        (b"\xff\xd8\xff\xe0\x00", "image/jpeg"),
        (b"RIFF\x04\x00\x00\x00WEBP", "image/webp"),
        (b"GIF89a", "image/png"),
    ],
)
def test_embed_refuses_malformed_containers(data: bytes, content_type: str) -> None:
    with pytest.raises(ValueError):
        embed(data, content_type, PARAMS)


def _hostile_inputs() -> list[bytes]:
    ours = json.dumps({"app": APP_NAME, "version": 1}).encode()
    deep = b"[" * 100_000 + b"]" * 100_000
    bomb = zlib.compress(b" " * (5 * 1024 * 1024), 9)  # inflates past the 4 MiB cap
    keyword = b"volcengine-studio\x00"
    return [
        b"",
        b"\x00",
        b"\x89PNG\r\n\x1a\n",
        b"\x89PNG\r\n\x1a\n" + b"\xff\xff\xff\xffiTXt",
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"iTXt", keyword + b"\x01\x00\x00\x00" + bomb),
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"iTXt", keyword + b"\x01\x07\x00\x00" + bomb[:100]),
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"iTXt", keyword + b"\x00"),
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"iTXt", keyword),
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"zTXt", keyword + b"\x00garbage"),
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"tEXt", keyword + deep),
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"tEXt", keyword + b"\xff\xfe" + ours),
        b"\xff\xd8",
        b"\xff\xd8\xff",
        b"\xff\xd8\xff\xfe\x00\x01",
        b"\xff\xd8\xff\xfe\xff\xff" + ours,
        b"\xff\xd8\xff\xfe\x00\x10[1,2,3]",
        b"\xff\xd8" + b"\xff" * 10_000,
        b"\xff\xd8\xff\xfe" + struct.pack(">H", len(deep[:60000]) + 2) + deep[:60000],
        b"RIFF",
        b"RIFF\xff\xff\xff\xffWEBP",
        b"RIFF\xff\xff\xff\xffWEBPXMP \xff\xff\xff\xff<vis:params>",
        b"RIFF\x20\x00\x00\x00WEBPXMP \x10\x00\x00\x00" + metadata.XMP_NAMESPACE.encode()[:16],
        b"RIFF\x40\x00\x00\x00WEBPVIST\x08\x00\x00\x00\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8",
        b"<svg>not an image</svg>",
        ours,
    ]


@pytest.mark.parametrize("data", _hostile_inputs(), ids=lambda d: repr(d[:24]))
def test_read_never_raises_on_hostile_input(data: bytes) -> None:
    assert read(data) is None


@pytest.mark.parametrize("name", ["png-rgb", "jpeg-progressive", "webp-lossless-alpha", "webp-lossy-alpha"])
def test_read_survives_every_truncation_and_random_corruption(name: str) -> None:
    factory, content_type = CASES[name]
    tagged = embed(factory(), content_type, PARAMS)
    for end in range(0, len(tagged), 7):
        result = read(tagged[:end])
        assert result is None or result["app"] == APP_NAME
    rng = random.Random(1234)
    for _ in range(300):
        corrupted = bytearray(tagged)
        for _ in range(rng.randint(1, 8)):
            corrupted[rng.randrange(len(corrupted))] = rng.randrange(256)
        result = read(bytes(corrupted))
        assert result is None or result["app"] == APP_NAME


def test_animated_webp_keeps_every_frame() -> None:
    from PIL import ImageSequence

    frames = [Image.new("RGB", (40, 30), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    original = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0)
    tagged = embed(original, "image/webp", PARAMS)

    def frames_of(data: bytes) -> tuple[list[bytes], int]:
        im = decode(data)
        return [frame.convert("RGBA").tobytes() for frame in ImageSequence.Iterator(im)], im.info["duration"]

    assert frames_of(tagged) == frames_of(original)
    assert read(tagged) == {"app": APP_NAME, "version": 1, **PARAMS}
