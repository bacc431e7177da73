"""Whose a stored image is, and links to one that open without a session.

A member sees only the images of their own tasks (an admin sees all). nginx asks before serving
``/images/...`` (the check endpoint gets the URI); a stranger's image answers as missing.

An image URL handed to an API client (``POST /v1/images/generations`` with ``response_format=url``)
must open where no cookie is: a tool like Open WebUI fetches it, or shows it to a browser that is
not signed in. Such a URL carries ``?u=<user>&exp=<unix time>&sig=<HMAC-SHA256>`` over the path,
the user and the expiry, with a key kept in the database (one per install, shared by replicas).
It opens that one image, while the user may see it, until it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core.db import Database
from app.models.layers import ImageLayer
from app.models.task import AppSetting, Image, Task
from app.services.users import Principal

KEY_SETTING = "image_url_signing_key"
# The names app.storage.files writes: YYYY/MM/DD/<image id>[.thumb].<ext>.
_REL_PATH = re.compile(r"^\d{4}/\d{2}/\d{2}/([A-Za-z0-9_-]{8,64})(?:\.thumb)?\.(?:png|jpe?g|webp|gif)$")


async def load_signing_key(db: Database) -> bytes:
    """The install's URL-signing key, made on first use (and kept: URLs outlive a restart)."""
    for _ in range(2):
        async with db.read() as session:
            row = await session.get(AppSetting, KEY_SETTING)
        if row is not None and isinstance(row.value, str):
            return bytes.fromhex(row.value)
        try:
            async with db.write() as session:
                session.add(AppSetting(key=KEY_SETTING, value=secrets.token_hex(32)))
        except IntegrityError:
            continue  # another replica made it first: read theirs
    raise RuntimeError("could not create the image URL signing key")


def rel_path_of(uri_path: str) -> str | None:
    """``/images/<rel_path>`` -> rel_path when it names a stored image, else None."""
    if not uri_path.startswith("/images/"):
        return None
    rel = uri_path[len("/images/") :]
    return rel if _REL_PATH.fullmatch(rel) else None


class ImageAccess:
    def __init__(self, db: Database, key: bytes, *, ttl: int, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self._key = key
        self.ttl = ttl
        self.clock = clock

    async def owner_of(self, rel_path: str) -> str | None:
        """The owner of the task that made the image at ``rel_path`` (None: no such image)."""
        match = _REL_PATH.fullmatch(rel_path)
        if match is None:
            return None
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(Task.owner_id, Image.rel_path, Image.thumb_rel_path)
                    .join(Task, Task.id == Image.task_id)
                    .where(Image.id == match.group(1))
                )
            ).one_or_none()
            if row is None:
                # A layer of a layered image belongs to whoever owns the image.
                row = (
                    await session.execute(
                        select(Task.owner_id, ImageLayer.rel_path, ImageLayer.thumb_rel_path)
                        .join(Image, Image.id == ImageLayer.image_id)
                        .join(Task, Task.id == Image.task_id)
                        .where(ImageLayer.id == match.group(1))
                    )
                ).one_or_none()
        if row is None or rel_path not in (row.rel_path, row.thumb_rel_path):
            return None
        return row.owner_id or ""

    async def may_see(self, principal: Principal, rel_path: str) -> bool:
        if principal.is_admin:
            return True
        owner = await self.owner_of(rel_path)
        return owner is not None and owner == principal.user_id

    # --- signed links -----------------------------------------------------------------------------
    def _signature(self, rel_path: str, user_id: str, expires: int) -> str:
        message = f"{rel_path}\n{user_id}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def signed_query(self, rel_path: str, user_id: str) -> str:
        expires = int(self.clock()) + self.ttl
        return urlencode({"u": user_id, "exp": expires, "sig": self._signature(rel_path, user_id, expires)})

    def signer(self, query: Mapping[str, str], rel_path: str) -> str | None:
        """The user a valid, unexpired signature in ``query`` speaks for, else None."""
        user_id, expires, sig = query.get("u"), query.get("exp"), query.get("sig")
        if not user_id or not expires or not sig or not expires.isdigit() or len(expires) > 12:
            return None
        if int(expires) < self.clock():
            return None
        if not hmac.compare_digest(self._signature(rel_path, user_id, int(expires)), sig):
            return None
        return user_id
