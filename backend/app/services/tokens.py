"""Personal API tokens: ``Authorization: Bearer vis_...`` for scripts, the CLI and OpenAI clients.

A token is ``vis_`` and 43 characters of a 256-bit random value; it is shown once, when made, and
stored as its sha256 (a fast hash is right for a value nobody can guess, and every API call looks
one up). The first characters stay readable in lists (``prefix``) so that a user can tell tokens
apart. A revoked token, or one of a disabled user, opens nothing.

Lookups are cached in this process for ``cache_ttl`` seconds; a revocation here clears the entry
at once, another replica notices within those seconds. ``last_used_at`` is written at most once
a minute per token: a write per call would cost more than the call's own check.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.core.db import Database
from app.core.errors import InvalidRequest, NotFound
from app.models.base import utcnow
from app.models.user import ApiToken

TOKEN_PREFIX = "vis_"
SHOWN_PREFIX = len(TOKEN_PREFIX) + 8
CACHE_SECONDS = 5.0
LAST_USED_RESOLUTION = timedelta(minutes=1)
_TOKEN = re.compile(r"vis_[A-Za-z0-9_-]{43}")


def is_token_shaped(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_not_found(token_id: str) -> NotFound:
    return NotFound(f"Token {token_id!r} does not exist.", message_zh=f"令牌 {token_id!r} 不存在。")


class TokenService:
    def __init__(
        self,
        db: Database,
        *,
        cache_ttl: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.cache_ttl = cache_ttl
        self.monotonic = monotonic
        self.now = now
        # token hash -> (cached until, (token id, user id) or None)
        self._cache: dict[str, tuple[float, tuple[str, str] | None]] = {}
        self._last_used: dict[str, datetime] = {}

    async def create(self, user_id: str, name: str) -> tuple[ApiToken, str]:
        clean = name.strip()
        if not clean or len(clean) > 100:
            raise InvalidRequest(
                "A token needs a name of 1 to 100 characters.",
                message_zh="令牌名称需要 1 到 100 个字符。",
                details={"field": "name"},
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(
            id=uuid.uuid4().hex,
            user_id=user_id,
            name=clean,
            token_hash=_hash(token),
            prefix=token[:SHOWN_PREFIX],
            created_at=self.now(),
        )
        async with self.db.write() as session:
            session.add(row)
        return row, token

    async def list(self, user_id: str | None) -> list[ApiToken]:
        """A user's tokens (None: everybody's), revoked ones included, newest first."""
        stmt = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id)
        if user_id is not None:
            stmt = stmt.where(ApiToken.user_id == user_id)
        async with self.db.read() as session:
            return list((await session.execute(stmt)).scalars())

    async def revoke(self, token_id: str, *, owner: str | None) -> ApiToken:
        """Revoke a token of ``owner`` (None: anyone's, for an admin); another's answers 404."""
        async with self.db.write() as session:
            row = await session.get(ApiToken, token_id)
            if row is None or (owner is not None and row.user_id != owner):
                raise _token_not_found(token_id)
            if row.revoked_at is None:
                row.revoked_at = self.now()
            digest = row.token_hash
        self._cache[digest] = (self.monotonic() + self.cache_ttl, None)
        return row

    async def resolve(self, token: str) -> str | None:
        """The user id a valid, unrevoked token belongs to, else None (records the use)."""
        if not _TOKEN.fullmatch(token):
            return None
        digest = _hash(token)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > self.monotonic():
            found = cached[1]
        else:
            async with self.db.read() as session:
                row = (
                    await session.execute(
                        select(ApiToken.id, ApiToken.user_id, ApiToken.revoked_at).where(ApiToken.token_hash == digest)
                    )
                ).one_or_none()
            found = (row.id, row.user_id) if row is not None and row.revoked_at is None else None
            if len(self._cache) >= 10_000:
                self._cache.clear()
            self._cache[digest] = (self.monotonic() + self.cache_ttl, found)
        if found is None:
            return None
        await self._touch(found[0])
        return found[1]

    async def _touch(self, token_id: str) -> None:
        now = self.now()
        last = self._last_used.get(token_id)
        if last is not None and now - last < LAST_USED_RESOLUTION:
            return
        self._last_used[token_id] = now
        if len(self._last_used) >= 10_000:
            self._last_used.clear()
        async with self.db.write() as session:
            await session.execute(
                update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None)).values(last_used_at=now)
            )
