"""Streamed ZIP downloads of stored images.

Files come from disk (a ``Path``) or from an object store (an opener, called twice).
Entries are STORED (images are already compressed; deflating them burns CPU for ~1 %). Each file
is read twice through one open descriptor: once for its CRC, once to stream it. That costs a
second read from the page cache but lets every local header carry the real CRC and sizes, so the
archive needs no data descriptors, which some streaming unzippers (Java's ZipInputStream among
them) refuse for STORED entries. Memory stays at one chunk whatever the archive size; ZIP64
records appear only when a size, offset or entry count needs them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
# Values at or above these need ZIP64 fields (0xFFFFFFFF / 0xFFFF are themselves the markers).
ZIP64_LIMIT = 0xFFFFFFFF
ZIP_COUNT_LIMIT = 0xFFFF

_VERSION_MADE_BY = (3 << 8) | 45  # Unix, spec 4.5
_UTF8_FLAG = 0x0800
_UNIX_FILE_ATTRS = (0o100644 & 0xFFFF) << 16
_COMPONENT_MAX = 150
# Control characters and what Windows refuses in file names.
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


@dataclass(frozen=True, slots=True)
class _Written:
    name: bytes
    flags: int
    crc: int
    size: int
    offset: int
    dos_time: int
    dos_date: int
    comment: bytes = b""


class ArcnameAllocator:
    """Safe, unique member names: no absolute paths, no ``..``, no name used twice.

    Uniqueness ignores case, since the archive will most likely be unpacked on a case-insensitive
    file system (Windows, macOS) where ``A.png`` would overwrite ``a.png``.
    """

    def __init__(self) -> None:
        self._used: set[str] = set()

    def allocate(self, name: str) -> str:
        safe = sanitize_arcname(name)
        directory, _, filename = safe.rpartition("/")
        stem, ext = os.path.splitext(filename)
        candidate, counter = safe, 1
        while candidate.casefold() in self._used:
            counter += 1
            candidate = f"{directory}/{stem} ({counter}){ext}" if directory else f"{stem} ({counter}){ext}"
        self._used.add(candidate.casefold())
        return candidate


def sanitize_arcname(name: str) -> str:
    parts = []
    for part in name.replace("\\", "/").split("/"):
        if part in ("", ".", ".."):
            continue
        # Windows drops trailing dots and spaces, which would merge distinct names.
        part = _UNSAFE_CHARS.sub("_", part).strip().rstrip(".") or "_"
        if len(part) > _COMPONENT_MAX:
            stem, ext = os.path.splitext(part)
            ext = ext if len(ext) <= 16 else ""
            part = stem[: _COMPONENT_MAX - len(ext)] + ext
        parts.append(part)
    return "/".join(parts) or "file"


Trailer = Mapping[str, bytes] | Callable[[list[str]], Mapping[str, bytes]]


class Readable(Protocol):
    size: int
    modified: datetime

    def read(self, n: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


# A file on disk, or a way to open a stored object (None when it is gone), called twice: once for
# its CRC, once to stream it.
Source = Path | Callable[[], Readable | None]


async def stream_zip(
    entries: Iterable[tuple[str, Source]],
    extra: Trailer | None = None,
    *,
    chunk_size: int = CHUNK_SIZE,
    comments: Mapping[str, str] | None = None,
) -> AsyncIterator[bytes]:
    """Yield a ZIP of ``entries`` (arcname, file) followed by ``extra`` (arcname, bytes).

    A file that is gone when it is reached (deleted behind the app's back, or meanwhile) is left
    out and logged: the response has already started, so failing the whole download would be
    worse. ``extra`` may be a function of the arcnames so left out, called after the last file, so
    the trailing entries can say what is missing. ``comments`` (by arcname) become the entries'
    comments in the central directory, where archive tools show them beside the file.
    """
    names = ArcnameAllocator()
    written: list[_Written] = []
    missing: list[str] = []
    offset = 0
    pending = bytearray()

    for arcname, path in entries:
        opened = await asyncio.to_thread(_open_with_crc, path)
        if opened is None:
            logger.warning("zip_entry_missing", extra={"arcname": arcname})
            missing.append(arcname)
            continue
        fh, size, crc, mtime = opened
        try:
            entry = _entry(names.allocate(arcname), crc, size, offset, mtime, (comments or {}).get(arcname, ""))
            header = _local_header(entry)
            pending += header
            offset += len(header)
            remaining, check = size, 0
            while remaining:
                chunk = await asyncio.to_thread(fh.read, min(chunk_size, remaining))
                if not chunk:
                    raise RuntimeError(f"{arcname!r} shrank while it was being zipped")
                check = zlib.crc32(chunk, check)
                remaining -= len(chunk)
                offset += len(chunk)
                if pending:
                    pending += chunk
                    yield bytes(pending)
                    pending.clear()
                else:
                    yield chunk
            if check != crc:
                # Stored files are replaced by rename, never rewritten in place; this is a bug.
                raise RuntimeError(f"{arcname!r} changed while it was being zipped")
        finally:
            fh.close()
        written.append(entry)

    trailer = extra(missing) if callable(extra) else extra
    for arcname, data in (trailer or {}).items():
        entry = _entry(names.allocate(arcname), zlib.crc32(data), len(data), offset, time.time())
        header = _local_header(entry)
        pending += header
        pending += data
        offset += len(header) + len(data)
        written.append(entry)
        if len(pending) >= chunk_size:
            yield bytes(pending)
            pending.clear()

    pending += _central_directory(written, offset)
    yield bytes(pending)


def _open_with_crc(source: Source) -> tuple[BinaryIO | Readable, int, int, float] | None:
    if not isinstance(source, Path):
        return _open_object_with_crc(source)
    path = source
    try:
        fh = path.open("rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    try:
        stat = os.fstat(fh.fileno())
        crc = 0
        while chunk := fh.read(CHUNK_SIZE):
            crc = zlib.crc32(chunk, crc)
        fh.seek(0)
        return fh, stat.st_size, crc, stat.st_mtime
    except BaseException:
        fh.close()
        raise


def _open_object_with_crc(open_object: Callable[[], Readable | None]) -> tuple[Readable, int, int, float] | None:
    """Read an object once for its CRC, then open it again to stream: two GETs, one chunk of memory."""
    first = open_object()
    if first is None:
        return None
    try:
        crc = 0
        while chunk := first.read(CHUNK_SIZE):
            crc = zlib.crc32(chunk, crc)
    finally:
        first.close()
    second = open_object()
    if second is None:
        return None
    return second, second.size, crc, second.modified.timestamp()


def _entry(name: str, crc: int, size: int, offset: int, mtime: float, comment: str = "") -> _Written:
    encoded = name.encode("utf-8")
    # The UTF-8 flag covers the comment too (APPNOTE 4.4.4, bit 11).
    note = comment.encode("utf-8")[:0xFFFF].decode("utf-8", "ignore").encode("utf-8")
    flags = 0 if encoded.isascii() and note.isascii() else _UTF8_FLAG
    dos_time, dos_date = _dos_datetime(mtime)
    return _Written(encoded, flags, crc, size, offset, dos_time, dos_date, note)


def _dos_datetime(timestamp: float) -> tuple[int, int]:
    t = time.localtime(timestamp)
    if t.tm_year < 1980:
        return 0, (0 << 9) | (1 << 5) | 1
    year = min(t.tm_year, 2107)
    return (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2), ((year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday


def _local_header(entry: _Written) -> bytes:
    zip64 = entry.size >= ZIP64_LIMIT
    extra = struct.pack("<HHQQ", 0x0001, 16, entry.size, entry.size) if zip64 else b""
    size_field = 0xFFFFFFFF if zip64 else entry.size
    return (
        struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            45 if zip64 else 20,
            entry.flags,
            0,  # stored
            entry.dos_time,
            entry.dos_date,
            entry.crc,
            size_field,
            size_field,
            len(entry.name),
            len(extra),
        )
        + entry.name
        + extra
    )


def _central_directory(entries: list[_Written], cd_offset: int) -> bytes:
    records = []
    for entry in entries:
        big_size = entry.size >= ZIP64_LIMIT
        big_offset = entry.offset >= ZIP64_LIMIT
        # ZIP64 extra carries only the overflowing fields, in this fixed order.
        values = ([entry.size, entry.size] if big_size else []) + ([entry.offset] if big_offset else [])
        extra = struct.pack(f"<HH{len(values)}Q", 0x0001, 8 * len(values), *values) if values else b""
        records.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                _VERSION_MADE_BY,
                45 if values else 20,
                entry.flags,
                0,
                entry.dos_time,
                entry.dos_date,
                entry.crc,
                0xFFFFFFFF if big_size else entry.size,
                0xFFFFFFFF if big_size else entry.size,
                len(entry.name),
                len(extra),
                len(entry.comment),
                0,  # disk number
                0,  # internal attributes
                _UNIX_FILE_ATTRS,
                0xFFFFFFFF if big_offset else entry.offset,
            )
            + entry.name
            + extra
            + entry.comment
        )
    directory = b"".join(records)
    count, cd_size = len(entries), len(directory)
    tail = b""
    if count >= ZIP_COUNT_LIMIT or cd_size >= ZIP64_LIMIT or cd_offset >= ZIP64_LIMIT:
        eocd64_offset = cd_offset + cd_size
        tail = struct.pack(
            "<IQHHIIQQQQ", 0x06064B50, 44, _VERSION_MADE_BY, 45, 0, 0, count, count, cd_size, cd_offset
        ) + struct.pack("<IIQI", 0x07064B50, 0, eocd64_offset, 1)
    eocd = struct.pack(
        "<IHHHHIIH",
        0x06054B50,
        0,
        0,
        min(count, 0xFFFF),
        min(count, 0xFFFF),
        min(cd_size, 0xFFFFFFFF),
        min(cd_offset, 0xFFFFFFFF),
        0,
    )
    return directory + tail + eocd
