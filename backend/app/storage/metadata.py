"""Generation parameters carried inside the image file itself.

The container is edited, never the pixels: a PNG gains an ``iTXt`` chunk, a JPEG a ``COM``
segment, a WebP an ``XMP `` chunk; the compressed image data is copied byte for byte, so the file
decodes to exactly the same pixels. Other formats (GIF, BMP, TIFF) are returned unchanged.

The payload is ``{"app": "volcengine-image-studio", "version": 1, ...params}`` as UTF-8 JSON.
``read`` faces uploaded files and must never raise on hostile input.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import PurePath
from typing import Any
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import unescape as xml_unescape

APP_NAME = "volcengine-image-studio"
FORMAT_VERSION = 1
PNG_KEYWORD = "volcengine-studio"
XMP_NAMESPACE = "urn:volcengine-image-studio:ns:1.0/"
WEBP_CUSTOM_CHUNK = b"VIST"

# A JPEG segment length is 16 bits and counts its own two bytes.
JPEG_SEGMENT_MAX = 65533
# No format limits the others, but a parameter dump larger than this is a bug, not metadata.
MAX_PAYLOAD = 1024 * 1024
# Inflating a hostile zlib stream in an uploaded PNG stops here.
_MAX_INFLATED = 4 * MAX_PAYLOAD
_COMPRESS_ABOVE = 2048

# Keys are never stored (DESIGN 6); this is the last line of defence should a caller pass a
# request object carrying one.
_SECRET_KEY_RE = re.compile(r"api[_-]?key|secret|password|passwd|token|authorization|access[_-]?key|credential", re.I)
# Fields kept when a payload must shrink; everything else goes first, largest first.
_ESSENTIAL = frozenset(
    {"app", "version", "truncated", "model", "prompt", "negative_prompt", "seed", "size", "width", "height"}
)
# Free text written by the user, shortened (in this order) when dropping fields was not enough.
_SHORTENABLE = ("negative_prompt", "prompt")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT_CHUNKS = (b"iTXt", b"tEXt", b"zTXt")
_WEBP_XMP = b"XMP "
_VP8X_XMP_FLAG = 0x04
_VP8X_ALPHA_FLAG = 0x10
# Chunks after which an XMP chunk may follow (image data and EXIF precede XMP in the layout).
_WEBP_BEFORE_XMP = {b"VP8 ", b"VP8L", b"ALPH", b"ANMF", b"ANIM", b"ICCP", b"EXIF", b"VP8X"}

_XMP_TEMPLATE = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:vis="{ns}">'
    "<vis:params>{json}</vis:params>"
    "</rdf:Description></rdf:RDF></x:xmpmeta>"
    '<?xpacket end="w"?>'
)
_XMP_PARAMS_RE = re.compile(rb"<vis:params>(.*?)</vis:params>", re.S)


# --------------------------------------------------------------------------------------------
# Payload


def build_payload(params: dict[str, Any]) -> dict[str, Any]:
    """Our envelope around ``params``; ``app`` and ``version`` cannot be overridden."""
    payload: dict[str, Any] = {"app": APP_NAME, "version": FORMAT_VERSION}
    for key, value in _without_secrets(params).items():
        if key not in payload:
            payload[key] = value
    return payload


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_secrets(v) for k, v in value.items() if not (isinstance(k, str) and _SECRET_KEY_RE.search(k))
        }
    if isinstance(value, (list, tuple)):
        return [_without_secrets(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def _dumps(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    # Lone surrogates cannot be UTF-8; "?" keeps the JSON valid.
    return text.encode("utf-8", "replace")


def encode_payload(params: dict[str, Any], limit: int = MAX_PAYLOAD) -> bytes:
    """The JSON bytes, shrunk to ``limit`` by dropping then shortening the least useful fields."""
    payload = build_payload(params)
    encoded = _dumps(payload)
    if len(encoded) <= limit:
        return encoded
    trimmed = dict(payload)
    trimmed["truncated"] = True
    while len(encoded := _dumps(trimmed)) > limit:
        optional = [key for key in trimmed if key not in _ESSENTIAL]
        if not optional:
            break
        del trimmed[max(optional, key=lambda key: len(_dumps(trimmed[key])))]
    for key in _SHORTENABLE:
        if len(encoded) <= limit:
            return encoded
        text = trimmed.get(key)
        if not isinstance(text, str):
            continue
        # Longest prefix that fits, by bisection on characters (UTF-8 width varies).
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            trimmed[key] = text[:mid]
            if len(_dumps(trimmed)) <= limit:
                lo = mid
            else:
                hi = mid - 1
        trimmed[key] = text[:lo]
        encoded = _dumps(trimmed)
    if len(encoded) <= limit:
        return encoded
    return _dumps({"app": APP_NAME, "version": FORMAT_VERSION, "truncated": True})


def _parse_payload(raw: bytes) -> dict[str, Any] | None:
    if len(raw) > _MAX_INFLATED:
        return None
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if isinstance(value, dict) and value.get("app") == APP_NAME:
        return value
    return None


# --------------------------------------------------------------------------------------------
# Public API


def embed(data: bytes, content_type: str, params: dict[str, Any]) -> bytes:
    """``data`` with our metadata inserted (an older copy replaced); pixels are not touched.

    Raises ValueError when the container is malformed; formats without a place for metadata
    (GIF, BMP, TIFF) come back unchanged.
    """
    if content_type == "image/png":
        if not data.startswith(_PNG_SIGNATURE):
            raise ValueError("not a PNG file")
        return _embed_png(data, encode_payload(params))
    if content_type == "image/jpeg":
        if not data.startswith(b"\xff\xd8"):
            raise ValueError("not a JPEG file")
        return _embed_jpeg(data, encode_payload(params, JPEG_SEGMENT_MAX))
    if content_type == "image/webp":
        if not (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
            raise ValueError("not a WebP file")
        return _embed_webp(data, encode_payload(params))
    return data


def read(data: bytes) -> dict[str, Any] | None:
    """Our metadata from an image file, or None (no metadata, not an image, malformed file)."""
    try:
        if data.startswith(_PNG_SIGNATURE):
            return _read_png(data)
        if data.startswith(b"\xff\xd8"):
            return _read_jpeg(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _read_webp(data)
    except Exception:
        # Hostile files reach this through /images/inspect: any surprise means "no metadata".
        return None
    return None


# --------------------------------------------------------------------------------------------
# PNG


def _png_chunks(data: bytes, *, strict: bool) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of each whole chunk (length + type + data + CRC), up to IEND."""
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        chunk_type = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            break
        yield chunk_type, pos, end
        if chunk_type == b"IEND":
            return
        pos = end
    if strict:
        raise ValueError("PNG file is truncated (no IEND chunk)")


def _png_chunk(chunk_type: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + chunk_type + body + struct.pack(">I", zlib.crc32(chunk_type + body))


def _is_our_png_text(data: bytes, start: int, end: int) -> bool:
    keyword = PNG_KEYWORD.encode("latin-1") + b"\x00"
    return data[start + 8 : start + 8 + len(keyword)] == keyword and end - start - 12 >= len(keyword)


def _embed_png(data: bytes, payload: bytes) -> bytes:
    # iTXt: keyword NUL, compression flag, method, language NUL, translated keyword NUL, text.
    if len(payload) > _COMPRESS_ABOVE:
        compressed = zlib.compress(payload, 9)
        body_text, flag = (compressed, 1) if len(compressed) < len(payload) else (payload, 0)
    else:
        body_text, flag = payload, 0
    body = PNG_KEYWORD.encode("latin-1") + b"\x00" + bytes([flag, 0]) + b"\x00\x00" + body_text
    out = [data[: len(_PNG_SIGNATURE)]]
    for chunk_type, start, end in _png_chunks(data, strict=True):
        if chunk_type in _PNG_TEXT_CHUNKS and _is_our_png_text(data, start, end):
            continue
        if chunk_type == b"IEND":
            out.append(_png_chunk(b"iTXt", body))
            # Whatever follows IEND is not ours to judge; it is kept as it was.
            out.append(data[start:])
            break
        out.append(data[start:end])
    return b"".join(out)


def _read_png(data: bytes) -> dict[str, Any] | None:
    for chunk_type, start, end in _png_chunks(data, strict=False):
        if chunk_type not in _PNG_TEXT_CHUNKS or not _is_our_png_text(data, start, end):
            continue
        body = data[start + 8 + len(PNG_KEYWORD) + 1 : end - 4]
        if chunk_type == b"iTXt":
            if len(body) < 2:
                continue
            flag, method = body[0], body[1]
            rest = body[2:]
            # Skip the language tag and translated keyword (both NUL-terminated).
            lang_end = rest.find(b"\x00")
            translated_end = rest.find(b"\x00", lang_end + 1) if lang_end >= 0 else -1
            if translated_end < 0:
                continue
            text: bytes | None = rest[translated_end + 1 :]
            if flag == 1:
                if method != 0:
                    continue
                text = _inflate(rest[translated_end + 1 :])
        elif chunk_type == b"zTXt":
            text = _inflate(body[1:])
        else:
            text = body
        if text is not None and (payload := _parse_payload(text)) is not None:
            return payload
    return None


def _inflate(raw: bytes) -> bytes | None:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(raw, _MAX_INFLATED + 1)
    except zlib.error:
        return None
    return None if len(out) > _MAX_INFLATED else out


# --------------------------------------------------------------------------------------------
# JPEG

_SOS, _EOI, _COM = 0xDA, 0xD9, 0xFE
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _jpeg_header_segments(data: bytes, *, strict: bool) -> tuple[list[tuple[int, int, int]], int]:
    """(marker, start, end) of each segment before the first scan, and where the scan starts."""
    segments: list[tuple[int, int, int]] = []
    pos = 2
    while pos + 2 <= len(data):
        if data[pos] != 0xFF:
            break
        # A marker may be preceded by any number of 0xFF fill bytes.
        while pos + 1 < len(data) and data[pos + 1] == 0xFF:
            pos += 1
        if pos + 1 >= len(data):
            break
        marker = data[pos + 1]
        if marker in (_SOS, _EOI):
            return segments, pos
        if marker in _STANDALONE:
            pos += 2
            continue
        if pos + 4 > len(data):
            break
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if length < 2 or end > len(data):
            break
        segments.append((marker, pos, end))
        pos = end
    if strict:
        raise ValueError("JPEG header is malformed or truncated")
    return segments, len(data)


def _is_our_com(data: bytes, marker: int, start: int, end: int) -> bool:
    return marker == _COM and _parse_payload(data[start + 4 : end]) is not None


def _embed_jpeg(data: bytes, payload: bytes) -> bytes:
    segments, scan_start = _jpeg_header_segments(data, strict=True)
    kept = [(m, s, e) for m, s, e in segments if not _is_our_com(data, m, s, e)]
    # Exif and JFIF must stay first (their specs say so); the comment goes after every APPn.
    insert_at = 0
    while insert_at < len(kept) and 0xE0 <= kept[insert_at][0] <= 0xEF:
        insert_at += 1
    com = b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload
    out = [b"\xff\xd8"]
    out.extend(data[s:e] for _, s, e in kept[:insert_at])
    out.append(com)
    out.extend(data[s:e] for _, s, e in kept[insert_at:])
    out.append(data[scan_start:])
    return b"".join(out)


def _read_jpeg(data: bytes) -> dict[str, Any] | None:
    segments, _ = _jpeg_header_segments(data, strict=False)
    for marker, start, end in segments:
        if marker == _COM and (payload := _parse_payload(data[start + 4 : end])) is not None:
            return payload
    return None


# --------------------------------------------------------------------------------------------
# WebP


def _riff_chunks(data: bytes, *, strict: bool) -> list[tuple[bytes, int, int]]:
    """(fourcc, start, end) of each chunk; ``end`` includes the pad byte of odd-sized chunks."""
    (riff_size,) = struct.unpack_from("<I", data, 4)
    limit = min(len(data), 8 + riff_size)
    chunks: list[tuple[bytes, int, int]] = []
    pos = 12
    while pos + 8 <= limit:
        fourcc = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        end = pos + 8 + size
        if end > limit:
            if strict:
                raise ValueError("WebP chunk is truncated")
            break
        end = min(end + (size & 1), limit)
        chunks.append((fourcc, pos, end))
        pos = end
    if strict and not chunks:
        raise ValueError("WebP file has no chunks")
    return chunks


def _riff_chunk(fourcc: bytes, body: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def _xmp_packet(payload: bytes) -> bytes:
    text = xml_escape(payload.decode("utf-8"))
    return _XMP_TEMPLATE.replace("{ns}", XMP_NAMESPACE).replace("{json}", text).encode("utf-8")


def _payload_from_xmp(body: bytes) -> dict[str, Any] | None:
    if XMP_NAMESPACE.encode() not in body:
        return None
    match = _XMP_PARAMS_RE.search(body)
    if match is None:
        return None
    try:
        text = xml_unescape(match.group(1).decode("utf-8"), {"&quot;": '"', "&apos;": "'"})
    except UnicodeDecodeError:
        return None
    return _parse_payload(text.encode("utf-8"))


def _simple_webp_canvas(data: bytes, fourcc: bytes, start: int) -> tuple[int, int, bool]:
    """Canvas size and alpha of a simple-format (VP8 / VP8L) WebP, from its bitstream header."""
    body = data[start + 8 :]
    if fourcc == b"VP8 ":
        # 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height (2 scale bits each).
        if body[3:6] != b"\x9d\x01\x2a":
            raise ValueError("VP8 start code missing")
        width, height = struct.unpack_from("<HH", body, 6)
        return width & 0x3FFF, height & 0x3FFF, False
    if body[:1] != b"\x2f":
        raise ValueError("VP8L signature missing")
    (bits,) = struct.unpack_from("<I", body, 1)
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)


def _embed_webp(data: bytes, payload: bytes) -> bytes:
    chunks = _riff_chunks(data, strict=True)
    first = chunks[0][0]
    kept: list[tuple[bytes, int, int]] = []
    foreign_xmp = False
    for fourcc, start, end in chunks:
        if fourcc == WEBP_CUSTOM_CHUNK:
            continue
        if fourcc == _WEBP_XMP:
            body = data[start + 8 : start + 8 + struct.unpack_from("<I", data, start + 4)[0]]
            if _payload_from_xmp(body) is not None:
                continue
            foreign_xmp = True
        kept.append((fourcc, start, end))

    if first == b"VP8X":
        vp8x_start = chunks[0][1]
        flags = data[vp8x_start + 8]
        vp8x = bytearray(data[vp8x_start : chunks[0][2]])
        kept = kept[1:]
    elif first in (b"VP8 ", b"VP8L"):
        # Metadata needs the extended format: prepend a VP8X header describing the same canvas.
        width, height, has_alpha = _simple_webp_canvas(data, first, chunks[0][1])
        if not (width and height):
            raise ValueError("WebP bitstream has no size")
        flags = _VP8X_ALPHA_FLAG if has_alpha else 0
        vp8x = bytearray(
            _riff_chunk(b"VP8X", bytes([0, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little"))
        )
    else:
        raise ValueError("unknown WebP layout")

    if foreign_xmp:
        # WebP allows one XMP chunk and it is someone else's: ours goes in a private chunk,
        # which decoders skip.
        ours = _riff_chunk(WEBP_CUSTOM_CHUNK, payload)
    else:
        ours = _riff_chunk(_WEBP_XMP, _xmp_packet(payload))
        flags |= _VP8X_XMP_FLAG
    vp8x[8] = flags

    insert_at = 0
    for index, (fourcc, _, _) in enumerate(kept):
        if fourcc in _WEBP_BEFORE_XMP or fourcc == _WEBP_XMP:
            insert_at = index + 1
    parts = [bytes(vp8x)]
    parts.extend(data[s:e] for _, s, e in kept[:insert_at])
    parts.append(ours)
    parts.extend(data[s:e] for _, s, e in kept[insert_at:])
    body = b"".join(parts)
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


def _read_webp(data: bytes) -> dict[str, Any] | None:
    for fourcc, start, end in _riff_chunks(data, strict=False):
        (size,) = struct.unpack_from("<I", data, start + 4)
        body = data[start + 8 : min(start + 8 + size, end)]
        if fourcc == _WEBP_XMP and (payload := _payload_from_xmp(body)) is not None:
            return payload
        if fourcc == WEBP_CUSTOM_CHUNK and (payload := _parse_payload(body)) is not None:
            return payload
    return None
