"""Rate limits per client that hold across replicas.

On SQLite the studio is one process, and an in-memory sliding window (``SlidingWindow``) is exact.
On PostgreSQL several replicas serve the same clients: the hits are counted in the database
(``RateCounter``), so N replicas do not allow N times the limit - for generations
(``SharedWindow``) and for wrong secrets (``SharedFailureCounter``).
"""

from __future__ import annotations

import math
import random
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.core.db import Database
from app.models.ratelimit import RateCounter
from app.services.auth import SlidingWindow, secret_mark

# One allowed hit in this many also deletes every expired bucket (of any key).
SWEEP_ONE_IN = 200


class RateWindow(Protocol):
    async def hit(self, key: str) -> float:
        """Record one event for ``key``; 0 when allowed, else seconds to wait (then not recorded)."""
        ...


class LocalWindow:
    """The in-process window, for a single process (SQLite)."""

    def __init__(self, window: SlidingWindow) -> None:
        self.window = window

    async def hit(self, key: str) -> float:
        return self.window.hit(key)


def wait_seconds(limit: int, window: float, previous: int, current: int, elapsed: float) -> float:
    """Seconds until one more hit fits, for the two-bucket estimate ``previous * (1 - elapsed /
    window) + current`` (0 if it fits now)."""
    if previous * (1 - elapsed / window) + current + 1 <= limit:
        return 0.0
    if current + 1 <= limit and previous > 0:
        # The previous bucket's weight falls as time passes within this one.
        return max(window * (1 - (limit - current - 1) / previous) - elapsed, 0.001)
    # Not before the next bucket, where this bucket becomes the weighted one.
    rest = window - elapsed
    later = window * (1 - (limit - 1) / current) if current > 0 else 0.0
    # A true sliding window has forgotten every hit counted now after one window; the estimate may
    # weigh them a little longer, but the wait told is never beyond the window.
    return min(max(rest + max(later, 0.0), 0.001), window)


class SharedWindow:
    """At most ``limit`` events per ``window`` seconds per key, counted in PostgreSQL."""

    def __init__(
        self, db: Database, name: str, limit: int, window: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.name = name
        self.limit = limit
        self.window = window
        self.clock = clock

    def _key(self, key: str) -> str:
        return f"{self.name}:{key}"[:200]

    async def wait(self, key: str) -> float:
        """Seconds until ``key`` may act again (0: now), without recording anything."""
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        bucket = math.floor(now / self.window)
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(RateCounter.bucket, RateCounter.hits).where(
                        RateCounter.key == self._key(key), RateCounter.bucket.in_((bucket - 1, bucket))
                    )
                )
            ).all()
        counts = {int(b): int(h) for b, h in rows}
        # The next hit would be refused exactly when the limit is reached: wait for room for one.
        return wait_seconds(
            self.limit, self.window, counts.get(bucket - 1, 0), counts.get(bucket, 0), now - bucket * self.window
        )

    async def hit(self, key: str) -> float:
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        bucket = math.floor(now / self.window)
        elapsed = now - bucket * self.window
        full_key = self._key(key)
        expires = datetime.fromtimestamp((bucket + 2) * self.window, UTC)
        sweep = random.randrange(SWEEP_ONE_IN) == 0  # noqa: S311 - not security, just spreading the cleanup

        def decide(session: Session) -> float:
            # Hits of one key are decided one at a time across replicas (a transaction lock).
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(full_key.encode())})
            rows = session.execute(
                select(RateCounter.bucket, RateCounter.hits).where(
                    RateCounter.key == full_key, RateCounter.bucket.in_((bucket - 1, bucket))
                )
            ).all()
            counts = {int(b): int(h) for b, h in rows}
            wait = wait_seconds(self.limit, self.window, counts.get(bucket - 1, 0), counts.get(bucket, 0), elapsed)
            if wait:
                return wait
            upsert = pg_insert(RateCounter).values(key=full_key, bucket=bucket, hits=1, expires_at=expires)
            session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[RateCounter.key, RateCounter.bucket], set_={"hits": RateCounter.hits + 1}
                )
            )
            if sweep:
                session.execute(delete(RateCounter).where(RateCounter.expires_at < datetime.fromtimestamp(now, UTC)))
            return 0.0

        return await self.db.run_write(decide)


class SharedFailureCounter:
    """Wrong secrets per client and in total, counted in PostgreSQL for every replica together: a
    guesser spreading tries over N replicas gets the limit once, not N times.

    A check before a guessable secret is verified reads the database; the cheap check of requests
    that verify nothing guessable (session cookies) may use a copy up to ``cache_seconds`` old. One
    wrong secret sent to several replicas (a stale cookie on every request of a page) is one
    failure: the mark that recognises it is keyed with the install's shared key, the same in every
    replica, and never reveals the secret.
    """

    ALL = "*"

    def __init__(
        self,
        db: Database,
        per_client: int,
        in_total: int,
        *,
        key: bytes,
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = SharedWindow(db, "authfail", per_client, window, clock)
        self._total = SharedWindow(db, "authfail-all", in_total, window, clock)
        self._seen = SharedWindow(db, "authseen", 1, window, clock)
        self._key = key
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        # client -> (read at, wait then)
        self._cache: dict[str, tuple[float, float]] = {}

    async def client_wait(self, client: str, *, fresh: bool = True) -> float:
        now = self._monotonic()
        cached = self._cache.get(client)
        if not fresh and cached is not None and now - cached[0] < self._cache_seconds:
            return max(cached[1] - (now - cached[0]), 0.0)
        wait = await self._client.wait(client)
        if len(self._cache) >= 10_000:
            self._cache = {c: v for c, v in self._cache.items() if now - v[0] < self._cache_seconds}
        self._cache[client] = (now, wait)
        return wait

    async def total_wait(self) -> float:
        return await self._total.wait(self.ALL)

    async def record(self, client: str, secret: str) -> None:
        self._cache.pop(client, None)
        if await self._seen.hit(f"{client}:{secret_mark(self._key, secret).hex()}"):
            return  # counted already, by this replica or another
        await self._client.hit(client)
        await self._total.hit(self.ALL)
