"""Revocable sessions: stored as a hash, checked from a short in-process cache, and a logout in this
process takes effect at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event

from app.core.db import Database
from app.services.sessions import SessionStore, password_fingerprint


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    await database.migrate()
    yield database
    await database.dispose()


def count_session_reads(db: Database) -> list[str]:
    seen: list[str] = []

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM sessions" in statement:
            seen.append(statement)

    return seen


async def test_checks_are_cached_for_a_few_seconds(db: Database) -> None:
    clock = Clock()
    store = SessionStore(db, password_fingerprint("pw"), cache_ttl=5.0, monotonic=clock)
    token = await store.create("agent")
    reads = count_session_reads(db)
    assert [await store.valid(token) for _ in range(50)] == [True] * 50
    assert len(reads) == 0  # the session was cached when it was made
    clock.now += 6
    assert await store.valid(token) is True
    assert len(reads) == 1
    # Unknown tokens are cached too, so a flood of them does not reach the database each time.
    assert [await store.valid("x" * 43) for _ in range(10)] == [False] * 10
    assert len(reads) == 2


async def test_revoke_takes_effect_at_once_in_this_process(db: Database) -> None:
    store = SessionStore(db, password_fingerprint("pw"), cache_ttl=3600.0)
    keep, drop = await store.create(None), await store.create(None)
    assert await store.valid(drop)
    await store.revoke(drop)
    assert await store.valid(drop) is False and await store.valid(keep) is True
    assert await store.revoke_all() == 1
    assert await store.valid(keep) is False


async def test_another_process_sees_a_revocation_within_the_cache_time(db: Database) -> None:
    clock = Clock()
    here = SessionStore(db, password_fingerprint("pw"), cache_ttl=5.0, monotonic=clock)
    there = SessionStore(db, password_fingerprint("pw"), cache_ttl=5.0, monotonic=clock)
    token = await here.create(None)
    assert await there.valid(token)
    await here.revoke(token)
    clock.now += 5.1
    assert await there.valid(token) is False


async def test_sessions_of_another_password_are_invalid_and_purged(db: Database) -> None:
    old = SessionStore(db, password_fingerprint("old"))
    token = await old.create(None)
    new = SessionStore(db, password_fingerprint("new"))
    assert await new.valid(token) is False
    assert await new.purge() == 1
    assert await SessionStore(db, password_fingerprint("old")).valid(token) is False


def test_fingerprint_is_slow_to_guess_and_not_the_password() -> None:
    fingerprint = password_fingerprint("correct horse")
    assert fingerprint == password_fingerprint("correct horse") != password_fingerprint("correct horsf")
    assert "correct" not in fingerprint and len(fingerprint) == 32
