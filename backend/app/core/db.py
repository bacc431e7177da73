"""Database engine, sessions and migrations.

SQLite (default) allows one writer at a time. Deferred transactions that read and then write can
fail with SQLITE_BUSY at once, which ``busy_timeout`` does not cover, so on SQLite every write
transaction takes an in-process lock and starts with ``BEGIN IMMEDIATE``. Reads never wait for
writers (WAL). On PostgreSQL writes run concurrently; the queue uses ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, CursorResult, Engine, Result
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.util import await_

from app.core.errors import DatabaseFull

BACKEND_DIR = Path(__file__).resolve().parents[2]
DEFAULT_READ_CONNECTIONS = 3  # Settings.sqlite_read_connections
T = TypeVar("T")


class Database:
    def __init__(self, url: str, *, echo: bool = False, read_connections: int = DEFAULT_READ_CONNECTIONS) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            # pool_reset_on_return=None: the "reset" listener below rolls back only a connection
            # still inside a transaction (see _install_sqlite_pragmas).
            # Few read connections: each is a thread that scans with the GIL released, so fifteen
            # concurrent prompt searches (SQLAlchemy's default pool) leave the event loop thread a
            # fraction of the CPU and everything else, /health included, waits for a turn
            # (bench/health_under_load.py). Waiting for a connection costs the loop nothing.
            self.engine: AsyncEngine = create_async_engine(
                url,
                echo=echo,
                connect_args={"timeout": 30},
                pool_reset_on_return=None,
                pool_size=read_connections,
                max_overflow=0,
                pool_timeout=300,
            )
            # One connection that only ever runs write transactions, serialised by a lock:
            # SQLite has one writer anyway, and waiting on an asyncio lock is cheaper and fairer
            # than spinning on SQLITE_BUSY.
            self.write_engine: AsyncEngine = create_async_engine(
                url,
                echo=echo,
                connect_args={"timeout": 30},
                pool_size=1,
                max_overflow=0,
                pool_timeout=3600,
                pool_reset_on_return=None,
            )
            _install_sqlite_pragmas(self.engine, begin="BEGIN")
            _install_sqlite_pragmas(self.write_engine, begin="BEGIN IMMEDIATE")
            # Hot write paths (claims, job progress, submits) run their whole transaction as one
            # call on this thread with the plain sqlite3 driver: the write lock is then held for
            # the time SQLite needs, not for several trips through a busy event loop.
            self._sync_write_engine: Engine | None = create_engine(
                url.replace("sqlite+aiosqlite", "sqlite", 1),
                echo=echo,
                connect_args={"timeout": 30, "check_same_thread": False},
                pool_size=1,
                max_overflow=0,
            )
            _install_sync_sqlite_pragmas(self._sync_write_engine, begin="BEGIN IMMEDIATE")
            self._writer_thread: ThreadPoolExecutor | None = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
            # /health's own connection and thread: it must answer while every pooled connection
            # and the writer are busy (a search storm, a long write), so it queues behind nothing.
            self._probe_engine: Engine | AsyncEngine = create_engine(
                url.replace("sqlite+aiosqlite", "sqlite", 1),
                connect_args={"timeout": 2, "check_same_thread": False},
                pool_size=1,
                max_overflow=0,
            )
            event.listen(self._probe_engine, "connect", _on_probe_connect)
            self._probe_thread: ThreadPoolExecutor | None = ThreadPoolExecutor(1, thread_name_prefix="db-probe")
        else:
            self.engine = create_async_engine(url, echo=echo, pool_size=20, max_overflow=20, pool_pre_ping=True)
            self.write_engine = self.engine
            self._sync_write_engine = None
            self._writer_thread = None
            # One connection of its own for /health (see above), never waiting for the pool.
            self._probe_engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=True)
            self._probe_thread = None
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        # The Alembic revision ``migrate`` brought the schema to; the health probe checks it.
        self.expected_revision: str | None = None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error.

        A full volume raises ``DatabaseFull`` (a 507 with advice), not the driver's error.
        """
        try:
            if self._write_lock is None:
                async with self._write_sessions() as session, session.begin():
                    yield session
                return
            async with self._write_lock, self._write_sessions() as session, session.begin():
                yield session
        except OperationalError as exc:
            if _disk_full(exc):
                raise DatabaseFull() from exc
            raise

    async def run_write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one write transaction (committed on return, rolled back on error).

        ``fn`` is synchronous and must not touch the event loop: on SQLite it runs on the writer
        thread, on PostgreSQL through the async session's ``run_sync``. A full volume raises
        ``DatabaseFull``.
        """
        try:
            if self._write_lock is None or self._writer_thread is None:
                async with self._write_sessions() as session, session.begin():
                    return await session.run_sync(fn)
            async with self._write_lock:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._writer_thread, self._sync_transaction, fn)
        except OperationalError as exc:
            if _disk_full(exc):
                raise DatabaseFull() from exc
            raise

    def _sync_transaction(self, fn: Callable[[Session], T]) -> T:
        assert self._sync_write_engine is not None
        with Session(self._sync_write_engine, expire_on_commit=False) as session, session.begin():
            return fn(session)

    async def ping(self) -> None:
        """Raise unless the database answers with the schema we migrated to, on the probe
        connection (never the busy pool): ``DatabaseProblem`` says what is wrong with it."""
        if isinstance(self._probe_engine, AsyncEngine):
            async with self._probe_engine.connect() as conn:
                await conn.run_sync(_probe, self.expected_revision)
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._probe_thread, self._sync_probe)

    def _sync_probe(self) -> None:
        assert isinstance(self._probe_engine, Engine)
        with self._probe_engine.connect() as conn:
            _probe(conn, self.expected_revision)

    async def migrate(self) -> None:
        """Bring the schema to the latest Alembic revision."""
        if self.is_sqlite:
            db_path = self.url.split(":///", 1)[1]
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        async with self.write_engine.begin() as conn:
            if not self.is_sqlite:
                # Replicas start together: one migrates, the others wait here and then find the
                # schema current (a transaction lock: released by the commit, or by a crash).
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            await conn.run_sync(_upgrade_to_head)
        self.expected_revision = _head_revision()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if isinstance(self._probe_engine, AsyncEngine):
            await self._probe_engine.dispose()
        elif self._probe_thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._probe_thread, self._probe_engine.dispose)
            self._probe_thread.shutdown(wait=True)
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()
        if self._writer_thread is not None and self._sync_write_engine is not None:
            await asyncio.get_running_loop().run_in_executor(self._writer_thread, self._sync_write_engine.dispose)
            self._writer_thread.shutdown(wait=True)


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin, so that our BEGIN
    # statement is the one that runs.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode keeps the database consistent after a crash (a power loss may drop
    # the last commits, never corrupt it); FULL would fsync on every commit.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _on_probe_connect(dbapi_conn: Any, _record: Any) -> None:
    # Reads only, and a short wait: a probe that cannot read within seconds has its answer.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=1")
    cur.execute("PRAGMA busy_timeout=2000")
    cur.close()


def _disk_full(exc: OperationalError) -> bool:
    orig = exc.orig
    # SQLite: SQLITE_FULL. PostgreSQL: SQLSTATE 53100 disk_full.
    return getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "53100" in (
        getattr(orig, "sqlstate", None),
        getattr(orig, "pgcode", None),
    )


class DatabaseProblem(Exception):
    """The database answers but is not the one we migrated (tables gone, schema moved)."""


def _probe(conn: Connection, expected_revision: str | None) -> None:
    # A few catalogue lookups and one indexed row: cheap enough to run on every /health.
    if not inspect(conn).has_table("tasks"):
        raise DatabaseProblem("the tasks table is missing (was the database emptied or replaced?)")
    if expected_revision is not None:
        revisions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        if revisions != [expected_revision]:
            found = ", ".join(revisions) or "none"
            raise DatabaseProblem(f"schema at revision {found}, expected {expected_revision}")
    conn.execute(text("SELECT id FROM tasks LIMIT 1"))


def _install_sync_sqlite_pragmas(engine: Engine, *, begin: str) -> None:
    event.listen(engine, "connect", _on_sqlite_connect)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)


def _install_sqlite_pragmas(engine: AsyncEngine, *, begin: str) -> None:
    event.listen(engine.sync_engine, "connect", _on_sqlite_connect)

    # Every call into aiosqlite is a round trip to its thread and back through the event loop, and
    # a write holds the write lock for all of them; under load each one waits for a turn of a busy
    # loop (bench/README.md). So: BEGIN in one round trip (exec_driver_sql takes three: cursor,
    # execute, close), and no pool-reset ROLLBACK after a transaction that already committed.
    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        driver = conn.connection.driver_connection
        assert driver is not None  # a live connection always has its driver connection
        await_(driver.execute(begin))

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_conn: Any, _record: Any, state: Any) -> None:
        # sqlite3's in_transaction is read locally (sqlite3_get_autocommit), no round trip. When
        # not asyncio_safe (garbage collection) SQLAlchemy terminates the connection anyway.
        if state.asyncio_safe and not state.terminate_only and dbapi_conn.driver_connection.in_transaction:
            dbapi_conn.rollback()


def _alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config(str(BACKEND_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(BACKEND_DIR / "alembic"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


# The advisory lock of the migrations on PostgreSQL (any fixed number unique to this application).
MIGRATION_LOCK_KEY = 0x5354_5544_494F  # "STUDIO"


def _upgrade_to_head(connection: Connection) -> None:
    from alembic import command

    command.upgrade(_alembic_config(connection), "head")


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE/DELETE touched (``session.execute`` is typed for SELECTs)."""
    return cast("CursorResult[Any]", result).rowcount or 0
