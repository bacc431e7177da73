"""Rate limits per client that hold across replicas.

On SQLite the studio is one process, and an in-memory sliding window (``SlidingWindow``) is exact.
On PostgreSQL several replicas serve the same clients: the hits are counted in the database
(``RateCounter``), so N replicas do not allow N times the limit.
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
from app.services.auth import SlidingWindow

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

    async def hit(self, key: str) -> float:
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        bucket = math.floor(now / self.window)
        elapsed = now - bucket * self.window
        full_key = f"{self.name}:{key}"[:200]
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
