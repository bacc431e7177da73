"""What the data volume holds, read back from the files alone.

Two users: the start-up check that an empty history is not sitting beside stored images (a lost
or replaced database), and the rebuild of the history from the parameters every stored image
carries (``python -m app.rebuild_history``). Nothing here deletes a file: a file we cannot read
back is reported, never removed.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image

from app.core.errors import ImageUnreadable
from app.core.images import TYPE_BY_EXT, sniff_image_type
from app.storage import metadata as image_metadata
from app.storage.files import THUMB_SUFFIX, ImageStore, StoredImage
from app.storage.thumbnails import make_thumbnail
from app.storage.uploads import UploadInfo, oriented_size

_IMAGE_REL_RE = re.compile(
    r"^\d{4}/\d{2}/\d{2}/(?P<id>[A-Za-z0-9_-]{8,64})\.(?P<ext>" + "|".join(TYPE_BY_EXT) + r")$"
)
_UPLOAD_NAME_RE = re.compile(r"^(?P<sha>[0-9a-f]{64})\.(?P<ext>" + "|".join(TYPE_BY_EXT) + r")$")


@dataclass(frozen=True, slots=True)
class RecoveredImage:
    image_id: str
    stored: StoredImage
    metadata: dict[str, Any] | None
    stored_at: datetime
    has_thumbnail: bool


def stored_images(store: ImageStore) -> Iterator[str]:
    """Relative paths of the stored images (not thumbnails, not tmp files), oldest day first."""
    # Names are YYYY/MM/DD/...: name order is day order.
    for rel, _modified in store.list_outputs():
        if _IMAGE_REL_RE.fullmatch(rel):
            yield rel


def count_stored_images(store: ImageStore) -> int:
    return sum(1 for _ in stored_images(store))


def read_image(store: ImageStore, rel_path: str) -> RecoveredImage:
    """Everything an image row needs, from the file.

    Raises ``ImageUnreadable`` for a file that is not an image of a type we store.
    """
    match = _IMAGE_REL_RE.fullmatch(rel_path)
    if match is None:
        raise ValueError(f"{rel_path!r} is not a stored image path")
    reader = store.open_output(rel_path)
    if reader is None:
        raise FileNotFoundError(rel_path)
    try:
        stored_at = reader.modified
        data = reader.read()
    finally:
        reader.close()
    image_type = sniff_image_type(data)
    if image_type is None:
        raise ImageUnreadable("not an image file", message_zh="不是图片文件")
    try:
        with Image.open(io.BytesIO(data), formats=[image_type.pillow_format]) as im:
            width, height = oriented_size(im)
    except Exception as exc:
        raise ImageUnreadable(
            f"cannot be decoded ({type(exc).__name__})", message_zh=f"无法解码（{type(exc).__name__}）"
        ) from None
    image_id = match.group("id")
    thumb_rel_path = f"{rel_path.rsplit('/', 1)[0]}/{image_id}{THUMB_SUFFIX}"
    stored = StoredImage(
        rel_path=rel_path,
        thumb_rel_path=thumb_rel_path,
        width=width,
        height=height,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type=image_type.content_type,
    )
    has_thumbnail = store.output_exists(thumb_rel_path)
    return RecoveredImage(image_id, stored, image_metadata.read(data), stored_at, has_thumbnail)


def remake_thumbnail(store: ImageStore, image: RecoveredImage) -> None:
    """Write the thumbnail of a recovered image again (lost with it, or never made)."""
    data = store.read_output(image.stored.rel_path)
    if data is None:
        raise FileNotFoundError(image.stored.rel_path)
    try:
        thumbnail = make_thumbnail(data)
    except Exception as exc:
        raise ImageUnreadable(
            f"cannot be decoded ({type(exc).__name__})", message_zh=f"无法解码（{type(exc).__name__}）"
        ) from None
    store.write_thumbnail(image.stored.thumb_rel_path, thumbnail)


def stored_uploads(store: ImageStore) -> list[tuple[UploadInfo, datetime]]:
    """The reference images in uploads/ (named by their hash), with the time each was stored."""
    found: list[tuple[UploadInfo, datetime]] = []
    for name, modified in store.list_uploads():
        match = _UPLOAD_NAME_RE.fullmatch(name)
        if match is None:
            continue
        image_type = TYPE_BY_EXT[match.group("ext")]
        try:
            data = store.read_upload(name)
            if data is None:
                continue
            with Image.open(io.BytesIO(data), formats=[image_type.pillow_format]) as im:
                width, height = oriented_size(im)
        except Exception:
            continue  # unreadable: a reference image the history can live without
        info = UploadInfo(match.group("sha"), image_type.ext, image_type.content_type, width, height, len(data))
        found.append((info, modified))
    return found
