"""The image store on S3-compatible object storage (STORAGE_BACKEND=s3).

Same names, same image work (validation, metadata, thumbnails: ``ImageStore``), with the bytes
kept as objects ``<S3_PREFIX>/output/YYYY/MM/DD/<id>.<ext>`` and ``<S3_PREFIX>/uploads/<sha256>.<ext>``.

Atomicity: a PUT makes an object visible whole or not at all; larger images go up as a multipart
upload, aborted on failure (``app.storage.s3``), so no partial object is ever listed or served.
There is no directory to fsync: S3 acknowledges a PUT once it is durable. An upload is received
into a local tmp file first (hashed and validated there, as on disk), then PUT.

Browsers never get bytes through Python: the image route answers a redirect to a short-lived
presigned URL (``presigned_url``) once the access check passed. There is no free-space rule and
no disk reserve: a bucket does not fill up like a volume.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import BinaryIO

from app.core.errors import NotFound, StorageUnavailable
from app.core.images import TYPE_BY_EXT
from app.storage.files import (
    DEFAULT_MAX_OUTPUT_PIXELS,
    TMP_SUFFIX,
    UPLOAD_ID_RE,
    ImageStore,
    IncomingUpload,
    OutputReader,
    _existing_ancestor,
)
from app.storage.s3 import S3Client, S3Config
from app.storage.uploads import UploadInfo

OUTPUT = "output/"
UPLOADS = "uploads/"
# Presigned image URLs may be cached by the browser this long: less than their own lifetime.
_CACHE_FRACTION = 0.5


class ObjectImageStore(ImageStore):
    def __init__(
        self,
        config: S3Config,
        uploads_dir: Path,
        *,
        max_output_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS,
        client: S3Client | None = None,
    ) -> None:
        # output_dir is never written: it names where a local store would be, for messages only.
        super().__init__(Path(f"s3/{config.bucket}"), uploads_dir, 0, max_output_pixels=max_output_pixels)
        self.config = config
        self.client = client or S3Client(config)

    def close(self) -> None:
        self.client.close()

    # --- the bytes --------------------------------------------------------------------------------
    def _output_sha256(self, rel_path: str) -> str | None:
        data = self.client.get(OUTPUT + rel_path)
        return None if data is None else hashlib.sha256(data).hexdigest()

    def _open(self, rel_path: str) -> BinaryIO | None:
        data = self.client.get(OUTPUT + rel_path)
        return None if data is None else io.BytesIO(data)

    def _write(self, rel_path: str, data: bytes, *, durable: bool = True, sync_dir: bool = True) -> None:
        self.client.put(OUTPUT + rel_path, data, _content_type(rel_path))

    def _written(self, rel_path: str) -> None:
        return None  # a PUT is durable once acknowledged

    def _remove(self, rel_path: str) -> None:
        self.client.delete(OUTPUT + rel_path)

    def output_exists(self, rel_path: str) -> bool:
        return self._output_path(rel_path) is not None and self.client.head(OUTPUT + rel_path) is not None

    def presumed_present(self, rel_path: str) -> bool:
        # A HEAD per image of a history page would cost a round trip each: rows are written after
        # their objects and deleted before them, so a row's object is there.
        return self._output_path(rel_path) is not None

    def read_output(self, rel_path: str) -> bytes | None:
        if self._output_path(rel_path) is None:
            raise ValueError(f"{rel_path!r} is not a stored image path")
        return self.client.get(OUTPUT + rel_path)

    def open_output(self, rel_path: str) -> OutputReader | None:
        if self._output_path(rel_path) is None:
            raise ValueError(f"{rel_path!r} is not a stored image path")
        return self.client.open(OUTPUT + rel_path)

    def zip_source(self, rel_path: str) -> Path | Callable[[], OutputReader | None]:
        if self._output_path(rel_path) is None:
            raise ValueError(f"{rel_path!r} is not a stored image path")
        return partial(self.client.open, OUTPUT + rel_path)

    def list_outputs(self) -> Iterator[tuple[str, datetime]]:
        for found in self.client.list_objects(OUTPUT):
            yield found.key[len(OUTPUT) :], found.modified

    def resolve_output(self, rel_path: str) -> Path | None:
        return None  # never a local file: see presigned_url

    @property
    def location(self) -> str:
        return f"s3://{self.config.bucket}/{self.config.key(OUTPUT)}"

    @property
    def serves_from_disk(self) -> bool:
        return False

    def presigned_url(self, rel_path: str, *, now: float | None = None) -> str | None:
        """Signed at the start of the current half-lifetime window, so one image has one URL for
        that long and the browser's cache can answer a gallery seen again; every URL stays valid
        for at least half of S3_PRESIGN_SECONDS after it is handed out."""
        if self._output_path(rel_path) is None:
            return None
        step = max(1, self.config.presign_seconds // 2)
        moment = time.time() if now is None else now
        signed_at = datetime.fromtimestamp(moment - moment % step, UTC)
        return self.client.presign_get(OUTPUT + rel_path, now=signed_at, cache_control=self.cache_control)

    @property
    def cache_control(self) -> str:
        """Browsers keep an image no longer than half its URL's life: a URL reused from cache
        after it expired would fail."""
        return f"private, max-age={int(self.config.presign_seconds * _CACHE_FRACTION)}"

    # --- uploads ----------------------------------------------------------------------------------
    def keep_upload(self, incoming: IncomingUpload, info: UploadInfo) -> Path:
        if incoming.sha256 != info.sha256 or info.ext not in TYPE_BY_EXT:
            raise ValueError("upload info does not describe this file")
        name = f"{UPLOADS}{info.sha256}.{info.ext}"
        try:
            found = self.client.head(name)
            if found is None or found.size != incoming.size:
                self.client.put_file(
                    name, incoming.path, size=incoming.size, sha256=incoming.sha256, content_type=info.content_type
                )
        finally:
            self.discard_upload(incoming)
        return Path(name)

    def load_upload(self, upload_id: str) -> tuple[bytes, str]:
        if isinstance(upload_id, str) and UPLOAD_ID_RE.fullmatch(upload_id):
            for image_type in TYPE_BY_EXT.values():
                data = self.client.get(f"{UPLOADS}{upload_id}.{image_type.ext}")
                if data is not None:
                    return data, image_type.content_type
        raise NotFound(
            "The uploaded image was not found; upload it again",
            message_zh="找不到上传的图片，请重新上传",
        )

    def list_uploads(self) -> Iterator[tuple[str, datetime]]:
        for found in self.client.list_objects(UPLOADS):
            yield found.key[len(UPLOADS) :], found.modified

    def read_upload(self, name: str) -> bytes | None:
        return self.client.get(UPLOADS + name)

    # --- health and housekeeping ------------------------------------------------------------------
    def check_free_space(self, incoming_bytes: int = 0) -> str | None:
        return None

    def free_bytes(self) -> int:
        # Only upload tmp files land on the local disk.
        return shutil.disk_usage(_existing_ancestor(self.uploads_dir)).free

    def check_writable(self) -> str | None:
        problem = self.client.check_bucket()
        return None if problem is None else f"Bucket {self.config.bucket!r} is not reachable: {problem}"

    def clean_tmp(self, older_than_seconds: float = 3600.0, *, now: float | None = None) -> list[Path]:
        """Local upload tmp files as on disk, and multipart uploads a killed process never ended."""
        removed = super().clean_tmp(older_than_seconds, now=now)
        cutoff = datetime.fromtimestamp(time.time() if now is None else now, UTC) - timedelta(seconds=older_than_seconds)
        try:
            stale = [(key, upload) for key, upload, started in self.client.incomplete_uploads() if started <= cutoff]
        except StorageUnavailable:
            return removed  # /health reports the bucket; housekeeping tries again next round
        for key, upload in stale:
            self.client.abort(key, upload)
            removed.append(Path(f"{key}{TMP_SUFFIX}"))
        return removed


def _content_type(rel_path: str) -> str:
    ext = rel_path.rsplit(".", 1)[-1]
    image_type = TYPE_BY_EXT.get(ext)
    return image_type.content_type if image_type else "application/octet-stream"
