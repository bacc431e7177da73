"""Housekeeping of the data volume: just after start-up and then every HOUSEKEEPING_INTERVAL_SECONDS.

- tmp files a crash left behind (older than an hour: younger ones may be a write in progress, of
  this process or of another replica on a shared volume) are removed;
- the disk reserve (``app.storage.reserve``) is given back on a full volume and made again once
  there is room;
- the query planner's statistics are refreshed where they went stale (``Database.optimize``: SQLite's
  ``PRAGMA optimize``), so a history grown from 100 rows to 100,000 is planned as what it is now;
- once, after start-up, files under output/ that no history row references are counted and logged
  (never deleted: after a database loss they are the history, see ``app.rebuild_history``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from app.core.background import BackgroundTask
from app.core.db import Database
from app.models.layers import ImageLayer
from app.models.task import Image
from app.services.rebuild import REBUILD_COMMAND
from app.storage.files import TMP_SUFFIX, ImageStore
from app.storage.reserve import DiskReserve, ReserveState

logger = logging.getLogger("app.housekeeping")

TMP_MAX_AGE_SECONDS = 3600.0
# The first round (a walk of every stored file: ~0.5 s of CPU at 100,000 files) waits this long
# after start-up, so the first requests, /health among them, do not share the GIL with it.
FIRST_ROUND_DELAY_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Round:
    removed_tmp: list[Path]
    reserve: ReserveState


class Housekeeper:
    def __init__(self, db: Database, store: ImageStore, reserve: DiskReserve, *, interval: float) -> None:
        self.db = db
        self.store = store
        self.reserve = reserve
        self.interval = interval
        self._background = BackgroundTask("housekeeping", self._loop)

    async def keep_reserve(self) -> ReserveState:
        """The reserve alone, quick: start-up runs it before the database is opened (on a full
        volume the reserve must be given back first, or SQLite cannot even open its write-ahead
        log) and leaves the walk of the stored files to the first round."""
        return await asyncio.to_thread(self.reserve.maintain)

    def run_sync(self) -> Round:
        """One round, blocking."""
        removed = self.store.clean_tmp(TMP_MAX_AGE_SECONDS)
        state = self.reserve.maintain()
        if removed:
            logger.info("housekeeping.tmp_removed", extra={"count": len(removed)})
        return Round(removed, state)

    async def run_once(self) -> Round:
        return await asyncio.to_thread(self.run_sync)

    async def refresh_statistics(self) -> list[str]:
        ran = await self.db.optimize()
        if ran:
            logger.info("housekeeping.statistics_refreshed", extra={"statements": ran})
        return ran

    async def find_orphans(self) -> list[str]:
        """Stored files no history row references (tmp files aside), logged when there are any."""
        async with self.db.read() as session:
            rows = [
                *(await session.execute(select(Image.rel_path, Image.thumb_rel_path))).all(),
                *(await session.execute(select(ImageLayer.rel_path, ImageLayer.thumb_rel_path))).all(),
            ]
        known = {path for row in rows for path in row if path}
        found = await asyncio.to_thread(self.store.find_orphans, known)
        orphans = [rel for rel in found if not rel.endswith(TMP_SUFFIX)]
        if orphans:
            logger.warning(
                "storage.orphans",
                extra={
                    "count": len(orphans),
                    "examples": orphans[:5],
                    "hint": f"`{REBUILD_COMMAND}` adds the images that carry their parameters to the history",
                },
            )
        return orphans

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def _loop(self) -> None:
        await asyncio.sleep(FIRST_ROUND_DELAY_SECONDS)
        try:
            await self.run_once()
            await self.find_orphans()
        except Exception:
            logger.exception("housekeeping.failed")
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_once()
            except Exception:  # a bad round must not end housekeeping for good
                logger.exception("housekeeping.failed")
            try:
                await self.refresh_statistics()
            except Exception:
                logger.exception("housekeeping.failed")
