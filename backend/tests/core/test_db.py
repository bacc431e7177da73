"""Database: a full volume is a clear DatabaseFull (507), never the driver's error (500)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core.db import Database
from app.core.errors import DatabaseFull


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[Database]:
    """A database whose write connections may not grow the file: SQLite then answers SQLITE_FULL,
    exactly as on a full volume."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    async with db.write() as session:
        await session.execute(text("CREATE TABLE blobs (data BLOB)"))
    async with db.write() as session:
        pages = (await session.execute(text("PRAGMA page_count"))).scalar_one()
        await session.execute(text(f"PRAGMA max_page_count = {pages}"))
    await db.run_write(lambda s: s.execute(text(f"PRAGMA max_page_count = {pages}")))
    yield db
    await db.dispose()


async def test_write_on_a_full_volume_raises_database_full(capped: Database) -> None:
    with pytest.raises(DatabaseFull) as raised:
        async with capped.write() as session:
            await session.execute(text("INSERT INTO blobs VALUES (zeroblob(1000000))"))
    assert raised.value.status_code == 507 and raised.value.code == "insufficient_storage"
    assert "Free space on the volume" in raised.value.message


async def test_run_write_on_a_full_volume_raises_database_full(capped: Database) -> None:
    def insert(session: Session) -> None:
        session.execute(text("INSERT INTO blobs VALUES (zeroblob(1000000))"))

    with pytest.raises(DatabaseFull):
        await capped.run_write(insert)
