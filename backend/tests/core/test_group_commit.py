"""SQLite group commit: writes that arrive together share one transaction, each keeps its own fate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    async with database.write() as session:
        await session.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"))
    yield database
    await database.dispose()


def _insert(k: int, v: str = "x"):  # noqa: ANN202
    def fn(session: Session) -> int:
        session.execute(text("INSERT INTO t (k, v) VALUES (:k, :v)"), {"k": k, "v": v})
        return k

    return fn


async def _rows(db: Database) -> list[tuple[int, str]]:
    async with db.read() as session:
        return [tuple(r) for r in (await session.execute(text("SELECT k, v FROM t ORDER BY k"))).all()]


async def test_concurrent_writes_share_transactions_and_fail_alone(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await db.run_write(_insert(1, "first"))
    batches: list[int] = []
    real = db._sync_transactions

    def spy(fns):  # noqa: ANN001, ANN202
        batches.append(len(fns))
        return real(fns)

    monkeypatch.setattr(db, "_sync_transactions", spy)
    # 1 is taken: that write alone fails (its savepoint is rolled back); the other 40 land.
    results = await asyncio.gather(*(db.run_write(_insert(k)) for k in range(1, 42)), return_exceptions=True)
    assert isinstance(results[0], IntegrityError)
    assert results[1:] == list(range(2, 42))
    assert await _rows(db) == [(1, "first")] + [(k, "x") for k in range(2, 42)]
    assert sum(batches) == 41
    # Writes that came in while a transaction ran went into the next one together.
    assert len(batches) < 41 and max(batches) > 1


async def test_a_lone_failing_write_rolls_back_whole(db: Database) -> None:
    def two_then_fail(session: Session) -> None:
        session.execute(text("INSERT INTO t (k, v) VALUES (10, 'a')"))
        session.execute(text("INSERT INTO t (k, v) VALUES (10, 'b')"))

    with pytest.raises(IntegrityError):
        await db.run_write(two_then_fail)
    assert await _rows(db) == []
    assert await db.run_write(_insert(11)) == 11


async def test_a_cancelled_write_that_had_not_started_never_runs(db: Database) -> None:
    ran: list[int] = []

    def slow(session: Session) -> None:
        ran.append(0)
        session.execute(text("INSERT INTO t (k, v) VALUES (20, 'slow')"))

    def later(session: Session) -> None:
        ran.append(1)
        session.execute(text("INSERT INTO t (k, v) VALUES (21, 'never')"))

    first = asyncio.ensure_future(db.run_write(slow))
    await asyncio.sleep(0)  # the first batch is on its way to the writer thread
    second = asyncio.ensure_future(db.run_write(later))
    await asyncio.sleep(0)
    second.cancel()
    await first
    with pytest.raises(asyncio.CancelledError):
        await second
    await db.run_write(_insert(22))
    assert ran == [0]
    assert [k for k, _ in await _rows(db)] == [20, 22]
