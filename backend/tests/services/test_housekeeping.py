"""Housekeeping: stale tmp files go just after start-up and on every round, orphans are reported (never
deleted), and the disk reserve comes back once there is room."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

import pytest

from app.services.housekeeping import FIRST_ROUND_DELAY_SECONDS
from tests.conftest import StudioFactory

OLD = 1_000_000_000  # 2001: far older than any write in progress


def _tmp(path: Path, *, old: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"partial")
    if old:
        os.utime(path, (OLD, OLD))
    return path


async def test_the_first_round_after_start_up_removes_stale_tmp_files(tmp_path: Path, studio_factory: StudioFactory) -> None:
    data = tmp_path / "data"
    stale = [
        _tmp(data / "output" / ".health-0123456789abcdef.tmp", old=True),  # a probe on a full disk
        _tmp(data / "output/2026/11/29/.abcdefgh12.png.0a1b2c.tmp", old=True),  # a crash mid-write
        _tmp(data / "uploads" / f".{'a' * 64}.png.0a1b2c.tmp", old=True),
    ]
    fresh = _tmp(data / "output/2026/11/29/.zzzzzzzz12.png.0a1b2c.tmp", old=False)  # maybe in progress
    await studio_factory(data_dir=data)
    # By the first round, after the app answers: start-up does not wait for the walk.
    deadline = time.monotonic() + FIRST_ROUND_DELAY_SECONDS + 10
    while any(p.exists() for p in stale) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert [p.exists() for p in stale] == [False, False, False]
    assert fresh.exists()


@pytest.mark.sqlite_only  # the SQLite file and its disk reserve
async def test_each_round_removes_stale_tmp_files_and_remakes_the_reserve(
    tmp_path: Path, studio_factory: StudioFactory
) -> None:
    studio = await studio_factory(disk_reserve_mb=0.0625, min_free_disk_mb=0)
    reserve = studio.services.settings.disk_reserve_path
    assert reserve is not None and reserve.exists()
    reserve.unlink()  # given back earlier, on a full volume
    stale = _tmp(studio.services.store.output_dir / ".health-fedcba9876543210.tmp", old=True)
    done = await studio.services.housekeeping.run_once()
    assert done.removed_tmp == [stale] and not stale.exists()
    assert reserve.stat().st_size == 64 * 1024


async def test_orphans_are_reported_not_deleted(
    studio_factory: StudioFactory, caplog: pytest.LogCaptureFixture
) -> None:
    studio = await studio_factory()
    task_id = await studio.submit({"model": "demo", "prompt": "kept", "width": 256, "height": 256})
    await studio.run_jobs()
    output = studio.services.store.output_dir
    stray = output / "2026/11/29/zz77zz77zz77.png"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"not in the history")
    _tmp(output / "2026/11/29/.zz66zz66zz.png.0a1b2c.tmp", old=False)
    with caplog.at_level(logging.WARNING, logger="app.housekeeping"):
        orphans = await studio.services.housekeeping.find_orphans()
    assert orphans == ["2026/11/29/zz77zz77zz77.png"]
    assert stray.exists()
    [record] = [r for r in caplog.records if r.msg == "storage.orphans"]
    assert record.count == 1 and "python -m app.rebuild_history" in record.hint
    assert (await studio.task(task_id))["status"] == "completed"


async def test_the_background_loop_starts_and_stops(studio_factory: StudioFactory) -> None:
    studio = await studio_factory()
    housekeeping = studio.services.housekeeping
    housekeeping.start()  # the app's lifespan started it already: a second start is a no-op
    await housekeeping.stop()
    await housekeeping.stop()
