"""Image files on disk: generated outputs, their thumbnails, and uploaded reference images.

Layout (DESIGN 4), every path built from ids, never from user input:
    output/YYYY/MM/DD/<image_id>.<ext>          the image as received, plus our metadata (BMP and
                                                TIFF, which browsers do not show, as lossless PNG)
    output/YYYY/MM/DD/<image_id>.thumb.webp     its thumbnail
    uploads/<sha256>.<ext>                      reference images, deduplicated by content

Every write is tmp file in the same directory + rename, so a reader (nginx, a crash-restarted
worker) sees either no file or the whole file. Images and uploads are fsynced (file, then one
fsync of the directory for everything renamed into it); thumbnails are not: they are derived, and
one lost in a crash is made again when it is first asked for (``ensure_thumbnail``).

A large PNG's thumbnail needs a full decode (~0.4 s of CPU at 4096²: PNG has no reduced-scale
decode), so ``store_output`` leaves it to ``ensure_thumbnail`` after the job (``thumbnail_pending``)
and proves the file intact by its chunk CRCs instead. All methods are synchronous, safe to call
from several threads at once, and run in a process of their own as well (``app.storage.offload``).
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import re
import secrets
import shutil
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from PIL import Image

from app.core.errors import (
    ImageUnreadable,
    NotFound,
    PayloadTooLarge,
    StorageFull,
)
from app.core.images import BMP, PNG, TIFF, TYPE_BY_EXT, ImageType, sniff_image_type
from app.storage import metadata as image_metadata
from app.storage.thumbnails import make_thumbnail
from app.storage.uploads import EXIF_ORIENTATION_TAG, UploadInfo, exif_orientation, oriented_size

logger = logging.getLogger(__name__)

IMAGE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{64}$")
THUMB_SUFFIX = ".thumb.webp"
TMP_SUFFIX = ".tmp"
# Exactly the names this module writes; anything else under output/ is not served.
_OUTPUT_REL_RE = re.compile(
    r"^(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/[A-Za-z0-9_-]{8,64}"
    r"(?:\.thumb\.webp|\.(?:" + "|".join(TYPE_BY_EXT) + r"))$"
)
# An 8K upscale (8192 px on its long side, square at most) is the largest image the app stores.
DEFAULT_MAX_OUTPUT_PIXELS = 8192 * 8192
# Upstream results in these formats are stored as PNG: browsers do not show them.
_NOT_FOR_BROWSERS = (BMP, TIFF)
# Modes Pillow writes to PNG as they are.
_PNG_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "P", "PA", "RGB", "RGBA"}
_NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_UNWRITABLE_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}
_WRITE_CHUNK = 1024 * 1024
# PNGs above this many pixels get their thumbnail after the job (see the module docstring). A
# 1024² PNG decodes in ~25 ms; 2048² in ~100 ms.
DEFERRED_THUMBNAIL_PIXELS = 1_500_000
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, slots=True)
class IncomingUpload:
    """An upload received into a tmp file, not yet validated nor named."""

    path: Path
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class StoredImage:
    rel_path: str
    thumb_rel_path: str
    width: int
    height: int
    bytes: int
    sha256: str
    content_type: str
    # The thumbnail is not written yet: ask ``ensure_thumbnail`` (off the job's critical path).
    thumbnail_pending: bool = False


class OutputReader(Protocol):
    size: int
    modified: datetime

    def read(self, n: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class _FileReader:
    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        stat = os.fstat(fh.fileno())
        self.size = stat.st_size
        self.modified = datetime.fromtimestamp(stat.st_mtime, UTC)

    def read(self, n: int = -1, /) -> bytes:
        return self._fh.read(n)

    def close(self) -> None:
        self._fh.close()


class _NoSpace(Exception):
    """ENOSPC/EDQUOT during a write; callers translate it to their layer's error."""


class ImageStore:
    def __init__(
        self,
        output_dir: Path,
        uploads_dir: Path,
        min_free_bytes: int,
        *,
        max_output_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS,
    ) -> None:
        self.output_dir = Path(output_dir).absolute()
        self.uploads_dir = Path(uploads_dir).absolute()
        self.min_free_bytes = min_free_bytes
        self.max_output_pixels = max_output_pixels
        # Striped locks serialise two stores of one image id within this process (a job run
        # twice at once); the DB's atomic job claim does the same across processes.
        self._locks = tuple(threading.Lock() for _ in range(64))

    # ----------------------------------------------------------------------------------------
    # Generated images

    def store_output(
        self, image_id: str, data: bytes, *, created: datetime, metadata: dict[str, Any]
    ) -> StoredImage:
        """Validate, annotate and store one generated image and its thumbnail.

        Raises ValueError for a malformed id (a bug: ids are ours), ``ImageUnreadable`` when
        the bytes are not a whole image (retryable: a re-download may succeed) and
        ``StorageFull`` when the disk cannot take it; in every failure no file is left behind.
        """
        if not isinstance(image_id, str) or not IMAGE_ID_RE.fullmatch(image_id):
            raise ValueError(f"invalid image id {image_id!r}")
        with self._locks[hash(image_id) % len(self._locks)]:
            return self._store_output(image_id, data, created, metadata)

    def _store_output(self, image_id: str, data: bytes, created: datetime, metadata: dict[str, Any]) -> StoredImage:
        image_type = sniff_image_type(data)
        if image_type is None:
            raise ImageUnreadable(
                "The generated image is not a PNG, JPEG, WebP, GIF, BMP or TIFF file",
                message_zh="生成的图片不是 PNG、JPEG、WebP、GIF、BMP 或 TIFF 格式",
            )
        if image_type in _NOT_FOR_BROWSERS:
            data = self._to_png(data, image_type)
            image_type = PNG

        rel_dir = created.strftime("%Y/%m/%d")
        rel_path = f"{rel_dir}/{image_id}.{image_type.ext}"
        thumb_rel_path = f"{rel_dir}/{image_id}{THUMB_SUFFIX}"

        stored = self._embed(data, image_type, metadata)
        digest = hashlib.sha256(stored).hexdigest()

        # Idempotent re-run ("every job may run twice"): the same bytes are already in place.
        if self._output_sha256(rel_path) == digest:
            with Image.open(io.BytesIO(stored)) as im:
                width, height = oriented_size(im)
                pending = not self.output_exists(thumb_rel_path)
                if pending and not _defers_thumbnail(im):
                    self.ensure_space(len(data))
                    self._write(thumb_rel_path, make_thumbnail(im), durable=False)
                    pending = False
            return StoredImage(
                rel_path, thumb_rel_path, width, height, len(stored), digest, image_type.content_type, pending
            )

        width, height, thumbnail = self._validate_and_thumbnail(data, image_type)
        self.ensure_space(len(data))
        # One directory fsync for both renames: the thumbnail is renamed before it, unsynced.
        self._write(rel_path, stored, sync_dir=False)
        try:
            if thumbnail is not None:
                self._write(thumb_rel_path, thumbnail, durable=False)
            self._written(rel_path)
        except BaseException:
            # A half-stored image would be an orphan the history never shows.
            self._remove(rel_path)
            self._remove(thumb_rel_path)
            raise
        return StoredImage(
            rel_path, thumb_rel_path, width, height, len(stored), digest, image_type.content_type, thumbnail is None
        )

    def ensure_thumbnail(self, rel_path: str, thumb_rel_path: str) -> bool:
        """Make a stored image's thumbnail unless it exists; False when the image is gone.

        For thumbnails left pending by ``store_output`` and for any lost since (a crash: they are
        not fsynced, or a restore without them). Raises ``ImageUnreadable`` for an image file
        that does not decode.
        """
        if (
            self._output_path(rel_path) is None
            or self._output_path(thumb_rel_path) is None
            or not thumb_rel_path.endswith(THUMB_SUFFIX)
        ):
            raise ValueError(f"{rel_path!r} / {thumb_rel_path!r} are not a stored image and its thumbnail")
        if self.output_exists(thumb_rel_path):
            return True
        fh = self._open(rel_path)
        if fh is None:
            return False
        with fh, _decode_errors(), Image.open(fh) as im:
            thumbnail = make_thumbnail(im)
        if not self.output_exists(rel_path):
            return False  # deleted meanwhile: leave no orphan thumbnail behind
        self.ensure_space(len(thumbnail))
        self._write(thumb_rel_path, thumbnail, durable=False)
        return True

    def _embed(self, data: bytes, image_type: ImageType, params: dict[str, Any]) -> bytes:
        try:
            return image_metadata.embed(data, image_type.content_type, params)
        except ValueError as exc:
            # Pillow may still decode a file whose container we cannot edit safely; the image
            # matters more than the annotation, so it is kept without one.
            logger.warning("image_metadata_skipped", extra={"reason": str(exc), "type": image_type.ext})
            return data

    def _to_png(self, data: bytes, image_type: ImageType) -> bytes:
        """BMP or TIFF re-encoded as PNG, which browsers show (and nginx serves): the same pixels
        for every mode PNG holds (1, L, LA, I;16, P, RGB, RGBA, the modes these files come in);
        anything else (CMYK, float) is converted to RGB(A). The ICC profile and the orientation
        tag are carried over; a multi-page TIFF keeps its first page."""
        out = io.BytesIO()
        with _decode_errors(), Image.open(io.BytesIO(data), formats=[image_type.pillow_format]) as im:
            self._check_pixels(*im.size)
            im.load()
            options: dict[str, Any] = {}
            if icc_profile := im.info.get("icc_profile"):
                options["icc_profile"] = icc_profile
            if (orientation := exif_orientation(im)) != 1:
                exif = Image.Exif()
                exif[EXIF_ORIENTATION_TAG] = orientation
                options["exif"] = exif
            pixels: Image.Image = im
            if im.mode not in _PNG_MODES:
                pixels = im.convert("RGBA" if "A" in im.getbands() else "RGB")
            pixels.save(out, "PNG", **options)
        return out.getvalue()

    def _check_pixels(self, width: int, height: int) -> None:
        if width * height > self.max_output_pixels:
            raise ImageUnreadable(
                f"The generated image is {width}×{height} pixels, above the {self.max_output_pixels} pixel limit",
                message_zh=f"生成的图片为 {width}×{height} 像素，超过了 {self.max_output_pixels} 像素的上限",
                retryable=False,
            )

    def _validate_and_thumbnail(self, data: bytes, image_type: ImageType) -> tuple[int, int, bytes | None]:
        """Prove the image whole and make its thumbnail, or None when that is left for later.

        The thumbnail decodes every byte of the image (a JPEG at reduced DCT scale, which still
        reads all of its entropy-coded data). A PNG's chunk CRCs are checked as well, which
        decoding alone would not do; for a large PNG they are the proof, and its full decode
        is the deferred thumbnail's.
        """
        with _decode_errors():
            if image_type == PNG:
                check_png_chunks(data)
            with Image.open(io.BytesIO(data), formats=[image_type.pillow_format]) as im:
                self._check_pixels(*im.size)
                width, height = oriented_size(im)
                if _defers_thumbnail(im):
                    return width, height, None
                return width, height, make_thumbnail(im)

    def write_thumbnail(self, thumb_rel_path: str, thumbnail: bytes) -> None:
        """(Re)write a stored image's thumbnail, e.g. one lost with a restore from backup."""
        if self._output_path(thumb_rel_path) is None or not thumb_rel_path.endswith(THUMB_SUFFIX):
            raise ValueError(f"{thumb_rel_path!r} is not a thumbnail path")
        self.ensure_space(len(thumbnail))
        self._write(thumb_rel_path, thumbnail, durable=False)

    def delete_output(self, rel_path: str, thumb_rel_path: str | None) -> None:
        """Remove an image and its thumbnail; missing files are fine (deletes may be retried)."""
        for rel in (rel_path, thumb_rel_path):
            if rel is None:
                continue
            if self._output_path(rel) is None:
                raise ValueError(f"refusing to delete {rel!r}: not a stored image path")
            self._remove(rel)

    def resolve_output(self, rel_path: str) -> Path | None:
        """The file to serve for ``/images/<rel_path>``, or None for anything but a stored image.

        ``rel_path`` is taken as received: percent-decoding is the router's job, and decoding
        twice is how traversals slip through.
        """
        path = self._output_path(rel_path)
        if path is None:
            return None
        try:
            real = path.resolve(strict=True)
            root = self.output_dir.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not real.is_relative_to(root) or real != root / rel_path or not real.is_file():
            # A symlink anywhere on the way (even one pointing inside) is not something we wrote.
            return None
        return real

    def image_for_thumbnail(self, thumb_rel_path: str) -> str | None:
        """The stored image a thumbnail path belongs to, when that image is on disk."""
        if self._output_path(thumb_rel_path) is None or not thumb_rel_path.endswith(THUMB_SUFFIX):
            return None
        stem = thumb_rel_path[: -len(THUMB_SUFFIX)]
        for image_type in TYPE_BY_EXT.values():
            rel_path = f"{stem}.{image_type.ext}"
            if self.output_exists(rel_path):
                return rel_path
        return None

    def output_exists(self, rel_path: str) -> bool:
        """Whether a stored image's file is there: one stat, cheap enough per output of a page."""
        path = self._output_path(rel_path)
        return path is not None and path.is_file()

    def presumed_present(self, rel_path: str) -> bool:
        """Whether to show an output as there, for pages listing many: a stat here."""
        return self.output_exists(rel_path)

    def read_output(self, rel_path: str) -> bytes | None:
        """A stored file's bytes, or None when it is not there."""
        path = self._output_path(rel_path)
        if path is None:
            raise ValueError(f"{rel_path!r} is not a stored image path")
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def open_output(self, rel_path: str) -> OutputReader | None:
        """A stored file to read in chunks (``read(n)``, ``close()``, ``size``, ``modified``)."""
        fh = self._open(rel_path)
        if fh is None:
            return None
        return _FileReader(fh)

    def zip_source(self, rel_path: str) -> Path | Callable[[], OutputReader | None]:
        """What ``app.storage.archive.stream_zip`` reads a stored file from."""
        if self._output_path(rel_path) is None:
            raise ValueError(f"{rel_path!r} is not a stored image path")
        return self.output_dir / rel_path

    def list_outputs(self) -> Iterator[tuple[str, datetime]]:
        """Every file under output/ (store-relative name, last modified), in name order."""
        for path in sorted(_walk_files(self.output_dir)):
            try:
                modified = path.lstat().st_mtime
            except FileNotFoundError:
                continue
            yield path.relative_to(self.output_dir).as_posix(), datetime.fromtimestamp(modified, UTC)

    # --- the bytes: files here, objects in app.storage.objects --------------------------------
    def _output_sha256(self, rel_path: str) -> str | None:
        return _file_sha256(self.output_dir / rel_path)

    def _open(self, rel_path: str) -> BinaryIO | None:
        try:
            return (self.output_dir / rel_path).open("rb")
        except FileNotFoundError:
            return None

    def _write(self, rel_path: str, data: bytes, *, durable: bool = True, sync_dir: bool = True) -> None:
        self._write_or_raise(self.output_dir / rel_path, data, durable=durable, sync_dir=sync_dir)

    def _written(self, rel_path: str) -> None:
        """Make the renames of ``_write(..., sync_dir=False)`` into this file's directory durable."""
        _fsync_dir((self.output_dir / rel_path).parent)

    def _remove(self, rel_path: str) -> None:
        (self.output_dir / rel_path).unlink(missing_ok=True)

    def _output_path(self, rel_path: str) -> Path | None:
        if not isinstance(rel_path, str) or not _OUTPUT_REL_RE.fullmatch(rel_path):
            return None
        return self.output_dir / rel_path

    @property
    def location(self) -> str:
        """Where the images are, for messages to the operator."""
        return str(self.output_dir)

    @property
    def serves_from_disk(self) -> bool:
        """nginx (or FileResponse) serves the files; False: browsers are sent presigned URLs."""
        return True

    def presigned_url(self, rel_path: str) -> str | None:
        """A short-lived direct URL to the stored file, where the backend has such URLs."""
        return None

    @staticmethod
    def url_for(rel_path: str) -> str:
        return "/images/" + rel_path

    # ----------------------------------------------------------------------------------------
    # Uploads

    def receive_upload(self, src: BinaryIO, max_bytes: int) -> IncomingUpload:
        """Copy an upload, chunk by chunk, into a tmp file under uploads/, hashing it on the way.

        The file is never held in memory whole. ``PayloadTooLarge`` as soon as it passes
        ``max_bytes``, ``StorageFull`` when the disk cannot take it; in both cases nothing is left
        behind. The caller validates the tmp file, then ``keep_upload`` or ``discard_upload``.
        """
        self.ensure_space()
        tmp = self.uploads_dir / f".incoming-{secrets.token_hex(8)}{TMP_SUFFIX}"
        digest = hashlib.sha256()
        size = 0
        try:
            _ensure_dir(self.uploads_dir)
            with open(tmp, "xb") as out:
                while chunk := src.read(_WRITE_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge.over_limit(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise _upload_not_stored(exc) from None
            raise
        return IncomingUpload(tmp, digest.hexdigest(), size)

    def keep_upload(self, incoming: IncomingUpload, info: UploadInfo) -> Path:
        """Move a validated upload to its content-addressed name (one copy per content)."""
        if incoming.sha256 != info.sha256 or info.ext not in TYPE_BY_EXT:
            raise ValueError("upload info does not describe this file")
        path = self.uploads_dir / f"{info.sha256}.{info.ext}"
        try:
            if path.stat().st_size == incoming.size:
                # Content-addressed and written atomically: same name and size is the same file.
                self.discard_upload(incoming)
                return path
        except FileNotFoundError:
            pass
        try:
            os.replace(incoming.path, path)
            _fsync_dir(path.parent)
        except OSError as exc:
            self.discard_upload(incoming)
            raise _upload_not_stored(exc) from None
        return path

    @staticmethod
    def discard_upload(incoming: IncomingUpload) -> None:
        incoming.path.unlink(missing_ok=True)

    def load_upload(self, upload_id: str) -> tuple[bytes, str]:
        """Bytes and content type of an upload; NotFound for unknown or malformed ids."""
        if isinstance(upload_id, str) and UPLOAD_ID_RE.fullmatch(upload_id):
            for image_type in TYPE_BY_EXT.values():
                try:
                    return (self.uploads_dir / f"{upload_id}.{image_type.ext}").read_bytes(), image_type.content_type
                except FileNotFoundError:
                    continue
        raise NotFound(
            "The uploaded image was not found; upload it again",
            message_zh="找不到上传的图片，请重新上传",
        )

    def list_uploads(self) -> Iterator[tuple[str, datetime]]:
        """Every file in uploads/ (name, last modified), in name order; tmp files included."""
        try:
            names = sorted(os.listdir(self.uploads_dir))
        except FileNotFoundError:
            return
        for name in names:
            try:
                modified = (self.uploads_dir / name).stat().st_mtime
            except FileNotFoundError:
                continue
            yield name, datetime.fromtimestamp(modified, UTC)

    def read_upload(self, name: str) -> bytes | None:
        """The bytes of a file ``list_uploads`` named, or None when it is gone."""
        if "/" in name or name.startswith("."):
            raise ValueError(f"{name!r} is not an upload's name")
        try:
            return (self.uploads_dir / name).read_bytes()
        except FileNotFoundError:
            return None

    def close(self) -> None:
        """Release what the store holds open (connections of an object store; nothing on disk)."""

    # ----------------------------------------------------------------------------------------
    # Health and housekeeping

    def free_bytes(self) -> int:
        return shutil.disk_usage(_existing_ancestor(self.output_dir)).free

    def check_free_space(self, incoming_bytes: int = 0) -> str | None:
        """None when ``incoming_bytes`` fit with room to spare, else a reason for /health or a 507.

        The one free-space rule: the reserve (MIN_FREE_DISK_MB) plus twice the payload (the tmp
        file and the thumbnail can coexist with the old file) must be free.
        """
        free = self.free_bytes()
        needed = self.min_free_bytes + incoming_bytes * 2
        if free < needed:
            return f"Not enough disk space: {free // (1024 * 1024)} MB free, {_mb(needed)} MB required"
        return None

    def ensure_space(self, incoming_bytes: int = 0) -> None:
        """Raise ``StorageFull`` (with advice in both languages) unless ``check_free_space`` passes."""
        reason = self.check_free_space(incoming_bytes)
        if reason is not None:
            free_mb = self.free_bytes() // (1024 * 1024)
            raise StorageFull(
                f"{reason}. Free some space (delete old history) before generating more.",
                message_zh=f"图片存储空间仅剩 {free_mb} MB，请先释放空间（删除旧的历史记录）再生成。",
            )

    def check_writable(self) -> str | None:
        """None when a file can be created in the output directory, else the reason."""
        probe = self.output_dir / f".health-{secrets.token_hex(8)}{TMP_SUFFIX}"
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, b"ok")
            finally:
                os.close(fd)
                # Also when the write failed: on a full disk the file exists, empty.
                probe.unlink(missing_ok=True)
        except OSError as exc:
            if exc.errno in _NO_SPACE_ERRNOS:
                return f"Data volume is full: {exc.strerror}"
            return f"Output directory is not writable: {exc.strerror or type(exc).__name__}"
        return None

    def find_orphans(self, known_rel_paths: set[str]) -> list[str]:
        """Files under output/ that no record references (tmp leftovers included), sorted."""
        return sorted(rel for rel, _modified in self.list_outputs() if rel not in known_rel_paths)

    def clean_tmp(self, older_than_seconds: float = 3600.0, *, now: float | None = None) -> list[Path]:
        """Remove tmp files a crash left behind; young ones may belong to a write in progress."""
        cutoff = (time.time() if now is None else now) - older_than_seconds
        removed: list[Path] = []
        for root in (self.output_dir, self.uploads_dir):
            for path in _walk_files(root, suffix=TMP_SUFFIX):
                try:
                    if path.lstat().st_mtime <= cutoff:
                        path.unlink()
                        removed.append(path)
                except FileNotFoundError:
                    continue
        return sorted(removed)

    def _write_or_raise(self, path: Path, data: bytes, *, durable: bool = True, sync_dir: bool = True) -> None:
        try:
            _atomic_write(path, data, durable=durable, sync_dir=sync_dir and durable)
        except _NoSpace:
            raise StorageFull(
                f"Not enough disk space to store the image ({_mb(len(data))} MB)",
                message_zh=f"磁盘空间不足，无法保存这张图片（{_mb(len(data))} MB）",
            ) from None
        except OSError as exc:
            if exc.errno not in _UNWRITABLE_ERRNOS:
                raise
            # A read-only or foreign-owned volume is an operator's problem to fix, not a bug.
            raise StorageFull(
                f"The image store is not writable ({exc.strerror}); check that DATA_DIR is mounted "
                "read-write and owned by the service user",
                message_zh="图片存储目录不可写；请检查 DATA_DIR 是否以读写方式挂载、属主是否为服务用户",
            ) from None


# --------------------------------------------------------------------------------------------
# Helpers


@contextmanager
def _decode_errors() -> Iterator[None]:
    """Whatever Pillow raises on bytes an upstream sent, as ``ImageUnreadable``."""
    try:
        yield
    except ImageUnreadable:
        raise
    except Image.DecompressionBombError:
        raise ImageUnreadable(
            "The generated image is too large to decode", message_zh="生成的图片太大，无法解码", retryable=False
        ) from None
    except Exception as exc:
        raise ImageUnreadable(
            f"The generated image could not be decoded ({type(exc).__name__})",
            message_zh=f"生成的图片无法解码（{type(exc).__name__}）",
        ) from None


def _mb(n: int) -> int:
    return -(-n // (1024 * 1024))


def _upload_not_stored(exc: OSError) -> Exception:
    if exc.errno in _NO_SPACE_ERRNOS:
        return _insufficient_storage()
    if exc.errno in _UNWRITABLE_ERRNOS:
        return StorageFull(
            f"The server cannot store uploads: its data directory is not writable ({exc.strerror})",
            message_zh="服务器无法保存上传的图片：数据目录不可写",
        )
    return exc


def _insufficient_storage() -> StorageFull:
    return StorageFull(
        "The server is running out of disk space; try again later",
        message_zh="服务器磁盘空间不足，请稍后再试",
    )


def _file_sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except FileNotFoundError:
        return None


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _walk_files(root: Path, *, suffix: str = "") -> list[Path]:
    files: list[Path] = []
    # Symlinks are not followed: a link out of the data volume is not our file to list or delete.
    for dirpath, _dirnames, filenames in os.walk(root, followlinks=False):
        # Names are matched before a Path is made: at 100,000 stored files, making them all was
        # most of a sweep that finds a handful of tmp files.
        files.extend(Path(dirpath) / name for name in filenames if name.endswith(suffix))
    return files


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ensure_dir(path: Path) -> None:
    """mkdir -p, fsyncing each parent that gained an entry so the new directory survives a crash."""
    missing: list[Path] = []
    current = path
    while not current.is_dir() and current.parent != current:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o755)
        except FileExistsError:
            continue  # another thread created it first
        _fsync_dir(directory.parent)


def _defers_thumbnail(im: Image.Image) -> bool:
    return im.format == "PNG" and im.width * im.height > DEFERRED_THUMBNAIL_PIXELS


def check_png_chunks(data: bytes) -> None:
    """Raise ``ValueError`` unless ``data`` is a PNG whose chunks are all whole, CRC-correct and
    in order (IHDR first, IDAT, IEND last): what ``Image.verify()`` checks, in a single pass."""
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG")
    view = memoryview(data)
    pos, end = len(_PNG_SIGNATURE), len(data)
    seen_idat = False
    first = True
    while True:
        if pos + 12 > end:
            raise ValueError("PNG truncated before IEND")
        length = int.from_bytes(view[pos : pos + 4], "big")
        kind = bytes(view[pos + 4 : pos + 8])
        body_end = pos + 8 + length
        if length > 0x7FFFFFFF or body_end + 4 > end:
            raise ValueError(f"PNG chunk {kind!r} truncated")
        crc = zlib.crc32(view[pos + 8 : body_end], zlib.crc32(kind))
        if crc != int.from_bytes(view[body_end : body_end + 4], "big"):
            raise ValueError(f"PNG chunk {kind!r} has a bad CRC")
        if first and kind != b"IHDR":
            raise ValueError("PNG does not start with IHDR")
        first = False
        seen_idat = seen_idat or kind == b"IDAT"
        if kind == b"IEND":
            if not seen_idat:
                raise ValueError("PNG has no image data")
            return
        pos = body_end + 4


def _atomic_write(path: Path, data: bytes, *, durable: bool = True, sync_dir: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    ``durable``: fsync the file before the rename; ``sync_dir``: fsync the directory after it
    (callers renaming several files into one directory sync it once themselves).
    Raises ``_NoSpace`` when the disk is full; the tmp file is removed on every failure.
    """
    try:
        _ensure_dir(path.parent)
    except OSError as exc:
        if exc.errno in _NO_SPACE_ERRNOS:
            raise _NoSpace() from exc
        raise
    # Unique per writer, so concurrent writers of one id never share a tmp file.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view[:_WRITE_CHUNK])
                view = view[written:]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE_ERRNOS:
            raise _NoSpace() from exc
        raise
    if sync_dir:
        _fsync_dir(path.parent)

