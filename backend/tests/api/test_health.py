"""/health: fast whatever else runs, and honest about the database it probes."""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from app.models.task import Image, Task
from tests.conftest import Studio


async def _bulk_history(studio: Studio, rows: int) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    tasks, images = [], []
    for i in range(rows):
        task_id = uuid.uuid4().hex
        created = start + timedelta(seconds=30 * i)
        prompt = f"a lighthouse at dusk number {i}, cinematic" if i % 3 else f"一只橘猫 {i}，水墨山水"
        tasks.append({
            "id": task_id, "type": "text2image", "model": "demo", "provider": "demo", "status": "completed",
            "progress": 100, "prompt": prompt, "negative_prompt": None, "parameters": {"width": 256, "height": 256},
            "expected_images": 1, "checkpoint": {}, "failures": [], "error": None, "favorite": False,
            "attempts": 1, "cancel_requested": False, "created_at": created, "completed_at": created,
            "updated_at": created,
        })
        image_id = f"{task_id[:26]}i00000"
        images.append({
            "id": image_id, "task_id": task_id, "index": 0, "rel_path": f"2025/01/01/{image_id}.png",
            "thumb_rel_path": f"2025/01/01/{image_id}.thumb.webp", "width": 256, "height": 256, "bytes": 1000,
            "sha256": "0" * 64, "content_type": "image/png", "seed": i, "created_at": created,
        })
    async with studio.services.db.write() as session:
        await session.execute(insert(Task), tasks)
        await session.execute(insert(Image), images)


async def test_health_answers_fast_while_heavy_searches_run(studio: Studio) -> None:
    """200 concurrent prompt searches over 20 000 rows keep every pooled connection busy for
    seconds; /health must not queue behind them (the container HEALTHCHECK gives up after 4 s).
    The bound is generous against a loaded CI machine; bench/health_under_load.py has the figure."""
    await _bulk_history(studio, 20_000)
    client = studio.client
    # The probe's own connection is opened once, at the first check; that is not what is measured.
    assert (await client.get("/health")).status_code == 200

    async def search(i: int) -> int:
        r = await client.get("/api/v1/history", params={"q": "lighthouse" if i % 2 else "水墨", "page_size": 20})
        return r.status_code

    # On PostgreSQL the scans run in the server's own processes on the same two cores, not on our
    # pool's threads: 60 still queue four deep on the pool (15 connections) without starving the
    # server of the CPU its own probe answer needs.
    began = time.perf_counter()
    searches = [asyncio.create_task(search(i)) for i in range(200 if studio.services.db.is_sqlite else 60)]
    latencies: list[float] = []
    # Ask again as soon as the previous answer came, for as long as the searches run.
    while not all(s.done() for s in searches):
        t0 = time.perf_counter()
        r = await client.get("/health")
        latencies.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text
    assert set(await asyncio.gather(*searches)) == {200}
    searching = time.perf_counter() - began
    assert latencies
    # A probe queued behind the pool would wait for a connection every time, for as long as the
    # searches run: most probes would be slow. The first one may wait a while on a loaded machine
    # (CI builds images beside the suites) for the event loop to take in the searches' requests:
    # load, not queueing; it must still stay well inside the HEALTHCHECK's 5 s timeout.
    shown = ([round(x, 3) for x in latencies], round(searching, 3))
    assert statistics.median(latencies) < 1.0, shown
    assert max(latencies) < 4.0, shown


def _sqlite(studio: Studio, sql: str) -> None:
    con = sqlite3.connect(studio.services.settings.data_dir / "app.db")
    try:
        con.execute(sql)
        con.commit()
    finally:
        con.close()


@pytest.mark.sqlite_only  # edits the SQLite file behind the app's back
async def test_health_reports_a_database_without_its_tables(studio: Studio) -> None:
    assert (await studio.client.get("/health")).json()["database"] == "ok"
    _sqlite(studio, "DROP TABLE images")
    _sqlite(studio, "DROP TABLE tasks")
    r = await studio.client.get("/health")
    assert r.status_code == 503
    assert r.json()["status"] == "unhealthy"
    assert r.json()["database"] == "error: the tasks table is missing (was the database emptied or replaced?)"


@pytest.mark.sqlite_only  # edits the SQLite file behind the app's back
async def test_health_reports_a_schema_that_is_not_current(studio: Studio) -> None:
    head = studio.services.db.expected_revision
    assert head is not None and head != "0001"
    _sqlite(studio, "UPDATE alembic_version SET version_num = '0001'")
    r = await studio.client.get("/health")
    assert r.status_code == 503
    assert r.json()["database"] == f"error: schema at revision 0001, expected {head}"
    _sqlite(studio, "DELETE FROM alembic_version")
    assert (await studio.client.get("/health")).json()["database"] == f"error: schema at revision none, expected {head}"
