"""Task events across replicas: PostgreSQL LISTEN/NOTIFY, no polling.

Two studios ("replicas": separate processes' worth of services, engines and relays) share one
PostgreSQL database and one data volume. A browser's live channel on replica A sees a job that
replica B runs, woken by B's notification rather than by a rescan. Always runs on the throw-away
cluster of tests/pg.py, whichever database the rest of the suite uses.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from app.jobs.events import TaskEvents
from app.jobs.relay import MAX_PAYLOAD, PgRelay, _batches, asyncpg_dsn
from tests.api.test_live_channel import read_events, serving
from tests.conftest import StudioFactory

GUARD = 20.0


def test_payloads_stay_under_postgres_limit() -> None:
    ids = [f"{i:032x}" for i in range(1000)]
    payloads = _batches("abc123", ids)
    assert len(payloads) > 1
    assert all(len(p) < MAX_PAYLOAD for p in payloads)
    assert [i for p in payloads for i in p.split(":", 1)[1].split(",")] == ids


def test_dsn_drops_the_sqlalchemy_driver() -> None:
    assert asyncpg_dsn("postgresql+asyncpg://u:p%40ss@127.0.0.1:5433/db") == "postgresql://u:p%40ss@127.0.0.1:5433/db"


async def test_sse_on_one_replica_sees_a_job_run_by_another(
    studio_factory: StudioFactory, shared_url: str, tmp_path: Path
) -> None:
    a = await studio_factory(database_url_override=shared_url, data_dir=tmp_path / "data")
    b = await studio_factory(database_url_override=shared_url, data_dir=tmp_path / "data")
    assert a.services.relay is not None and b.services.relay is not None
    assert a.services.relay.connected and b.services.relay.connected
    # With the relay up, streams never rescan on their own: only a notification wakes them.
    assert a.services.events.rescan_seconds is None

    async with serving(a) as base_a, aiohttp.ClientSession() as http:
        async with http.get(f"{base_a}/api/v1/events") as stream:
            assert stream.status == 200
            # B takes the submit and runs the job; A's stream must hear of it.
            task_id = await b.submit({"model": "demo", "prompt": "made on replica B"})
            seen: dict[str, float] = {}

            async def watch() -> None:
                async for _, name, task in read_events(stream):
                    if name == "task" and task["task_id"] == task_id:
                        seen.setdefault(task["status"], time.monotonic())
                        if task["status"] == "completed":
                            return

            watcher = asyncio.create_task(watch())
            await asyncio.wait_for(b.run_jobs(), GUARD)
            done_on_b = time.monotonic()
            await asyncio.wait_for(watcher, GUARD)
    assert "completed" in seen
    latency = seen["completed"] - done_on_b
    # The fallback rescan would take a second; a notification arrives in milliseconds.
    assert latency < 0.5, latency
    assert a.services.relay.received >= 1
    assert b.services.relay.sent >= 1


async def test_a_replica_ignores_its_own_notifications_and_rescans_after_reconnect(shared_url: str) -> None:
    dsn = asyncpg_dsn(shared_url)
    events_a, events_b = TaskEvents(), TaskEvents()
    a, b = PgRelay(dsn, events_a, channel="test_relay"), PgRelay(dsn, events_b, channel="test_relay")
    events_a.attach(a)
    events_b.attach(b)
    await a.start()
    await b.start()
    try:
        with events_a.subscribe("t1") as on_a, events_b.subscribe("t1") as on_b:
            events_a.publish("t1")
            assert on_a.is_set()  # delivered locally at once
            await asyncio.wait_for(on_b.wait(), GUARD)
            await asyncio.sleep(0.2)
            assert a.received == 0  # its own notification was skipped
            assert b.received == 1

            # B is cut off (the server ends its connection): its streams rescan meanwhile and on
            # reconnect, and it tells A to rescan (what B changed meanwhile reached nobody).
            on_a.clear()
            on_b.clear()
            assert b._conn is not None
            await a._conn.execute("SELECT pg_terminate_backend($1)", b._conn.get_server_pid())  # type: ignore[union-attr]
            deadline = time.monotonic() + GUARD
            while b.connected and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert events_b.rescan_seconds is not None
            await asyncio.wait_for(on_b.wait(), GUARD)  # woken on reconnect
            await asyncio.wait_for(on_a.wait(), GUARD)  # told to rescan by B
            assert b.connected and events_b.rescan_seconds is None
    finally:
        await a.stop()
        await b.stop()
