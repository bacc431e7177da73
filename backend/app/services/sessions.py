"""Revocable sign-in sessions, stored in the ``sessions`` table.

The cookie holds a random token (256 bits); the table holds its sha256, the fingerprint of the
password it was made with, when it was made and last seen, when it expires and the user agent.
Logout deletes the row, "sign out everywhere" deletes them all, a new APP_PASSWORD makes every
older row invalid (and the next start-up deletes them).

Every API request and every image nginx serves asks whether a session is valid, so answers are
cached in this process for ``cache_ttl`` seconds. A logout or sign-out-everywhere in this process
clears its cache at once; another process (a second replica) notices within ``cache_ttl``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update

from app.core.db import Database, rowcount
from app.models.base import utcnow
from app.models.session import LoginSession

SESSION_SECONDS = 30 * 24 * 3600
CACHE_SECONDS = 5.0
# How stale `last_seen_at` may get before a check writes it again (a write per request would
# cost more than the check itself).
LAST_SEEN_RESOLUTION = timedelta(minutes=5)
MAX_CACHED = 10_000
# token_urlsafe(32): 43 characters of the URL-safe alphabet. Anything else is not looked up.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")


def password_fingerprint(password: str) -> str:
    """What ties a session to the password it was made with.

    scrypt, not a plain hash: the fingerprint sits in the database next to the images, and must
    not let whoever copies the database try passwords at the speed of sha256.
    """
    key = hashlib.scrypt(password.encode(), salt=b"volcengine-image-studio/session", n=2**14, r=8, p=1, dklen=16)
    return key.hex()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(
        self,
        db: Database,
        fingerprint: str,
        *,
        lifetime: float = SESSION_SECONDS,
        cache_ttl: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.fingerprint = fingerprint
        self.lifetime = lifetime
        self.cache_ttl = cache_ttl
        self.monotonic = monotonic
        self.now = now
        # token hash -> (cached until, monotonic; session expiry or None when invalid; user id)
        self._cache: dict[str, tuple[float, datetime | None, str | None]] = {}
        # Bumped by every revocation: a check whose read began before one does not cache its answer.
        self._epoch = 0

    async def create(self, user_agent: str | None, user_id: str | None = None) -> str:
        token = secrets.token_urlsafe(32)
        now = self.now()
        row = LoginSession(
            id=token_hash(token),
            password_fingerprint=self.fingerprint,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=self.lifetime),
            user_agent=(user_agent or "")[:300] or None,
            user_id=user_id,
        )
        async with self.db.write() as session:
            session.add(row)
        self._remember(row.id, row.expires_at, user_id)
        return token

    async def valid(self, token: str) -> bool:
        return (await self.user_of(token)) is not None

    async def user_of(self, token: str) -> str | None:
        """The user id of a valid session ("" for a row that has none yet), else None."""
        if not _TOKEN.fullmatch(token):
            return None
        key = token_hash(token)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self.monotonic():
            return (cached[2] or "") if cached[1] is not None and cached[1] > self.now() else None
        epoch = self._epoch
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(LoginSession.expires_at, LoginSession.last_seen_at, LoginSession.user_id).where(
                        LoginSession.id == key, LoginSession.password_fingerprint == self.fingerprint
                    )
                )
            ).one_or_none()
        now = self.now()
        valid = row is not None and row.expires_at > now
        if epoch == self._epoch:
            self._remember(key, row.expires_at if row is not None and valid else None, row.user_id if row else None)
        if row is None or not valid:
            return None
        if now - row.last_seen_at > LAST_SEEN_RESOLUTION:
            async with self.db.write() as session:
                await session.execute(update(LoginSession).where(LoginSession.id == key).values(last_seen_at=now))
        return row.user_id or ""

    async def revoke(self, token: str) -> None:
        key = token_hash(token)
        self._epoch += 1
        self._remember(key, None)
        async with self.db.write() as session:
            await session.execute(delete(LoginSession).where(LoginSession.id == key))
        # Again once deleted: a check that read the row meanwhile must not have cached it.
        self._epoch += 1
        self._remember(key, None)

    async def revoke_all(self) -> int:
        self._epoch += 1
        self._cache.clear()
        async with self.db.write() as session:
            deleted = rowcount(await session.execute(delete(LoginSession)))
        self._epoch += 1
        self._cache.clear()
        return deleted

    async def revoke_user(self, user_id: str) -> int:
        """End every session of one user."""
        self.forget_user(user_id)
        async with self.db.write() as session:
            deleted = rowcount(await session.execute(delete(LoginSession).where(LoginSession.user_id == user_id)))
        self.forget_user(user_id)
        return deleted

    async def purge(self) -> int:
        """Delete expired sessions and those of another password (at start-up)."""
        async with self.db.write() as session:
            result = await session.execute(
                delete(LoginSession).where(
                    or_(LoginSession.expires_at <= self.now(), LoginSession.password_fingerprint != self.fingerprint)
                )
            )
        return rowcount(result)

    def forget_cached(self) -> None:
        self._cache.clear()

    def forget_user(self, user_id: str) -> None:
        """A user's sessions were deleted (password reset, disabled): stop trusting cached answers."""
        self._epoch += 1
        self._cache = {k: v for k, v in self._cache.items() if v[2] != user_id}

    def _remember(self, key: str, expires_at: datetime | None, user_id: str | None = None) -> None:
        if len(self._cache) >= MAX_CACHED:
            now = self.monotonic()
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
        self._cache[key] = (self.monotonic() + self.cache_ttl, expires_at, user_id)
