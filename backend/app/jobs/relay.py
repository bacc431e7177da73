"""Task change notifications across processes through PostgreSQL LISTEN/NOTIFY.

Every replica holds one extra connection that LISTENs on one channel. A change made here is sent
as ``NOTIFY`` with this process's origin tag and the task ids (batched: a group's images or a burst
of submits share one notification); the other replicas wake the streams following those tasks.
A replica skips its own notifications (it woke its streams already). When the connection drops,
streams fall back to rescanning until it is back, and every stream rescans once on reconnect (what
was sent meanwhile is lost: NOTIFY is not queued for a listener that is away), and the replica
that was cut off tells the others to rescan too (what it changed meanwhile reached nobody).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

import asyncpg
from sqlalchemy.engine import make_url

from app.core.background import BackgroundTask
from app.jobs.events import TaskEvents

logger = logging.getLogger(__name__)

CHANNEL = "studio_task_events"
# Sent by a replica that was cut off: what it changed meanwhile reached nobody, so all rescan.
EVERYTHING = "*"
# PostgreSQL refuses payloads of 8000 bytes or more.
MAX_PAYLOAD = 7900
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (postgresql+asyncpg://...) as a DSN asyncpg itself takes."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _batches(origin: str, task_ids: list[str]) -> list[str]:
    payloads: list[str] = []
    current: list[str] = []
    size = len(origin) + 1
    for task_id in task_ids:
        if current and size + len(task_id) + 1 > MAX_PAYLOAD:
            payloads.append(origin + ":" + ",".join(current))
            current, size = [], len(origin) + 1
        current.append(task_id)
        size += len(task_id) + 1
    if current:
        payloads.append(origin + ":" + ",".join(current))
    return payloads


class PgRelay:
    def __init__(self, dsn: str, events: TaskEvents, *, channel: str = CHANNEL) -> None:
        self._dsn = dsn
        self._events = events
        self._channel = channel
        self.origin = secrets.token_hex(6)
        self._conn: asyncpg.Connection | None = None
        self._pending: dict[str, None] = {}
        self._wake = asyncio.Event()
        self._lost = asyncio.Event()
        self._background = BackgroundTask("pg-relay", self._run)
        self.received = 0
        self.sent = 0

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def start(self) -> None:
        """Connect before the app serves (a failure here is retried in the background)."""
        try:
            await self._connect()
        except (OSError, asyncpg.PostgresError) as exc:
            logger.warning("relay.connect_failed", extra={"error": type(exc).__name__})
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()
        await self._close()

    def send(self, task_id: str) -> None:
        self._pending[task_id] = None
        self._wake.set()

    async def _connect(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self._dsn, timeout=10)
        await conn.add_listener(self._channel, self._on_notify)
        conn.add_termination_listener(self._on_terminated)
        self._conn = conn
        self._lost.clear()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=2)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        origin, _, ids = payload.partition(":")
        if origin == self.origin or not ids:
            return
        self.received += 1
        if ids == EVERYTHING:
            self._events.wake_all()
            return
        for task_id in ids.split(","):
            self._events.deliver(task_id)

    def _on_terminated(self, _conn: object) -> None:
        self._lost.set()
        self._wake.set()

    async def _run(self) -> None:
        attempt = 0
        while True:
            if not self.connected:
                await self._close()
                await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
                attempt += 1
                try:
                    await self._connect()
                except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                    logger.warning("relay.reconnect_failed", extra={"error": type(exc).__name__, "attempt": attempt})
                    continue
                logger.info("relay.reconnected", extra={"attempt": attempt})
                attempt = 0
                self._events.wake_all()
                self._pending.clear()
                self._pending[EVERYTHING] = None
                self._wake.set()
                continue
            await self._wake.wait()
            self._wake.clear()
            if not self._pending or self._lost.is_set():
                continue
            ids = list(self._pending)
            self._pending.clear()
            conn = self._conn
            assert conn is not None
            try:
                for payload in _batches(self.origin, ids):
                    await conn.execute("SELECT pg_notify($1, $2)", self._channel, payload)
                    self.sent += 1
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # The other replicas rescan when this one reconnects; nothing to re-send.
                logger.warning("relay.send_failed", extra={"error": type(exc).__name__})
                self._lost.set()
                await self._close()
