"""Storage faults on a real filesystem: DATA_DIR on a 2 MB tmpfs that fills up, and a data
directory that is read-only from the start. The database lives outside the tmpfs
(DATABASE_URL), as it would on a separate volume, so only the image store runs out of space."""

from __future__ import annotations

import errno
import io
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import Studio, StudioFactory, running_studio
from tests.reliability.conftest import (
    JIMENG_30,
    SEEDREAM_40,
    ArkFake,
    StatusLog,
    VisualFake,
    files_under,
    recorded_studio,
    upstream_settings,
)

KB = 1024


def _mount(path: Path, *options: str, size: str = "2m") -> None:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join((f"size={size}", *options)), "tmpfs", str(path)],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): {result.stderr.strip()}")


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    _mount(path)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _fill(path: Path, leave: int) -> Path:
    """Write a filler file so that about ``leave`` bytes stay free."""
    filler = path / "filler.bin"
    size = max(_free(path) - leave, 0)
    with filler.open("ab") as fh:
        fh.write(b"\0" * size)
    return filler


def _fill_completely(path: Path) -> Path:
    """Write a filler file until the file system refuses another byte."""
    filler = path / "filler.bin"
    with filler.open("ab", buffering=0) as fh:
        for chunk in (1024 * KB, 64 * KB, 4 * KB, 512, 1):
            try:
                while True:
                    fh.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    assert _free(path) == 0
    return filler


def _assert_consistent(studio: Studio, db_path: Path) -> None:
    """No partial or unreferenced file; every image row's files exist; SQLite intact."""
    output = studio.services.store.output_dir
    con = sqlite3.connect(db_path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = con.execute("SELECT rel_path, thumb_rel_path FROM images").fetchall()
    finally:
        con.close()
    referenced = {p for row in rows for p in row if p}
    on_disk = {p.relative_to(output).as_posix() for p in files_under(output)}
    assert on_disk == referenced, (on_disk, referenced)


async def _run(studio: Studio, body: dict[str, Any]) -> dict[str, Any]:
    task_id = await studio.submit(body)
    await studio.run_jobs()
    return await studio.task(task_id)


async def test_full_disk_fails_jobs_cleanly_and_work_resumes(
    tmpfs: Path, tmp_path: Path, studio_factory: StudioFactory, ark_fake: ArkFake, visual_fake: VisualFake
) -> None:
    db_path = tmp_path / "db" / "app.db"
    log = StatusLog()
    studio = await recorded_studio(
        studio_factory, log, data_dir=tmpfs, database_url_override=f"sqlite:///{db_path}", min_free_disk_mb=0.25,
        **upstream_settings(ark_fake, visual_fake),
    )
    ark_fake.max_image_side = 1024
    demo = {"model": "demo", "width": 768, "height": 768}
    first = await _run(studio, demo | {"prompt": "fits"})
    assert first["status"] == "completed", first
    image_bytes = first["outputs"][0]["bytes"]

    # Room for the safety margin and little more: submits are accepted, the worker's
    # space check (image, thumbnail and tmp copy) refuses before writing anything.
    filler = _fill(tmpfs, 256 * KB + 12 * KB)
    assert image_bytes > 12 * KB
    refused = [await _run(studio, demo | {"prompt": f"no room {i}"}) for i in range(2)]
    # The fake's JPEGs are small: leave just the margin for the Ark job (downloaded, then refused).
    _fill(tmpfs, 256 * KB + 12 * KB)
    refused.append(await _run(studio, {"model": SEEDREAM_40, "size": "2K", "prompt": "no room ark"}))
    assert ark_fake.stats.actions["files"] == 1
    # Two independent Visual images: once the first cannot be stored, the second is not paid for.
    refused.append(await _run(studio, {"model": JIMENG_30, "width": 1024, "height": 1024, "num_images": 2,
                                       "prompt": "no room visual"}))
    assert visual_fake.stats.actions["CVSync2AsyncSubmitTask"] == 1
    for task in refused:
        assert task["status"] == "failed", task
        assert task["error"]["code"] == "insufficient_storage", task
        assert task["outputs"] == []
    _assert_consistent(studio, db_path)

    # A writer racing past the space check meets ENOSPC itself: still a clean insufficient_storage.
    store = studio.services.store
    real_check = store.check_free_space
    store.check_free_space = lambda incoming_bytes=0: None  # type: ignore[method-assign]
    raced_id = await studio.submit(demo | {"prompt": "enospc"})
    with filler.open("ab") as fh:
        fh.write(b"\0" * max(_free(tmpfs) - 4 * KB, 0))
    await studio.run_jobs()
    raced = await studio.task(raced_id)
    store.check_free_space = real_check  # type: ignore[method-assign]
    assert raced["status"] == "failed" and raced["error"]["code"] == "insufficient_storage", raced
    _assert_consistent(studio, db_path)

    # Below the margin: new jobs are refused up front with a clear 507, /health says why.
    response = await studio.client.post("/api/v1/generate/text2image", json=demo | {"prompt": "refused"})
    assert response.status_code == 507, response.text
    assert response.json()["error"]["code"] == "insufficient_storage"
    health = await studio.client.get("/health")
    assert health.status_code == 503 and "disk" in health.json()["storage"], health.text

    # Space returns: retrying the failed tasks works, nothing left from the failures.
    filler.unlink()
    assert (await studio.client.get("/health")).status_code == 200
    for task in refused[:1] + [raced]:
        retry = await studio.client.post(f"/api/v1/tasks/{task['task_id']}/retry")
        assert retry.status_code == 202, retry.text
    await studio.run_jobs()
    done = [t for t in (await studio.client.get("/api/v1/tasks")).json()["items"] if t["retry_of"]]
    assert [t["status"] for t in done] == ["completed", "completed"], done
    _assert_consistent(studio, db_path)
    assert log.server_errors == [], log.seen


async def test_read_only_data_dir_at_start_is_unhealthy(tmp_path: Path, studio_factory: StudioFactory) -> None:
    data = tmp_path / "data"
    _mount(data)
    try:
        (data / "output").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(data)], check=True)
        studio: Studio = await studio_factory(data_dir=data, database_url_override=f"sqlite:///{tmp_path / 'app.db'}")
        health = await studio.client.get("/health")
        assert health.status_code == 503, health.text
        body = health.json()
        assert body["status"] == "unhealthy"
        assert "not writable" in body["storage"] and "Read-only" in body["storage"], body
        # An upload is refused with a clear 507, not a 500.
        png = io.BytesIO()
        Image.new("RGB", (32, 32)).save(png, format="PNG")
        upload = await studio.client.post("/api/v1/uploads", files={"file": ("a.png", png.getvalue(), "image/png")})
        assert upload.status_code == 507, upload.text
        assert upload.json()["error"]["code"] == "insufficient_storage"
        # A job submitted anyway fails with a reason an operator can act on, not an internal error.
        task_id = await studio.submit({"model": "demo", "prompt": "ro", "width": 256, "height": 256})
        await studio.run_jobs()
        task = await studio.task(task_id)
        assert task["status"] == "failed", task
        assert task["error"]["code"] == "insufficient_storage", task
        assert "not writable" in task["error"]["message"], task
    finally:
        subprocess.run(["umount", "-l", str(data)], capture_output=True)


@pytest.mark.sqlite_only  # the SQLite file and its disk reserve
async def test_a_full_data_volume_still_lets_the_user_free_space(tmp_path: Path, studio_factory: StudioFactory) -> None:
    """DATA_DIR (database included, as by default) on an 8 MB tmpfs filled to the last byte: the
    user can still mark and delete history, which is what every 507 tells them to do; /health
    leaves nothing behind; and once space returns, everything works again."""
    data = tmp_path / "data"
    _mount(data, size="8m")
    try:
        log = StatusLog()
        studio = await recorded_studio(studio_factory, log, data_dir=data, min_free_disk_mb=1, disk_reserve_mb=1)
        assert (data / ".disk-reserve").stat().st_size == 1024 * KB
        ids = [await studio.submit({"model": "demo", "prompt": f"keep {i}", "width": 256, "height": 256})
               for i in range(3)]
        await studio.run_jobs()
        output = studio.services.store.output_dir
        first = await studio.task(ids[0])
        # A restart on the full volume would begin with an empty write-ahead log: so does this test.
        con = sqlite3.connect(data / "app.db")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        filler = _fill_completely(data)

        response = await studio.client.patch(f"/api/v1/history/{ids[0]}", json={"favorite": True})
        assert response.status_code == 200, response.text
        assert response.json()["favorite"] is True
        assert not (data / ".disk-reserve").exists()  # released so the write could land
        response = await studio.client.delete(f"/api/v1/history/{ids[0]}")
        assert response.status_code == 204, response.text
        assert not (output / first["outputs"][0]["url"].removeprefix("/images/")).exists()
        response = await studio.client.delete(f"/api/v1/history/{ids[1]}")
        assert response.status_code == 204, response.text
        items = (await studio.client.get("/api/v1/history")).json()["items"]
        assert [i["task_id"] for i in items] == [ids[2]]

        # Health on a full disk says so, and leaves no probe file behind.
        _fill_completely(data)
        for _ in range(3):
            health = await studio.client.get("/health")
            assert health.status_code == 503, health.text
        assert [p.name for p in files_under(output) if p.name.startswith(".health-")] == []
        refused = await studio.client.post(
            "/api/v1/generate/text2image", json={"model": "demo", "prompt": "no room", "width": 256, "height": 256}
        )
        assert refused.status_code == 507, refused.text
        assert "delete old history" in refused.json()["error"]["message"]

        # Space returns: housekeeping puts the reserve back, health and generation recover.
        filler.unlink()
        await studio.services.housekeeping.run_once()
        assert (data / ".disk-reserve").stat().st_size == 1024 * KB
        assert (await studio.client.get("/health")).status_code == 200
        await studio.submit({"model": "demo", "prompt": "again", "width": 256, "height": 256})
        await studio.run_jobs()
        assert len((await studio.client.get("/api/v1/history")).json()["items"]) == 2
        assert log.server_errors == [], log.seen
    finally:
        subprocess.run(["umount", "-l", str(data)], capture_output=True)


@pytest.mark.sqlite_only  # the SQLite file and its disk reserve
async def test_a_restart_on_a_full_data_volume_starts_and_frees_space(
    tmp_path: Path, studio_factory: StudioFactory
) -> None:
    """Stopped with a full volume, started again: SQLite must open its write-ahead log, which needs
    blocks, so the reserve is given back before the database opens."""
    data = tmp_path / "data"
    _mount(data, size="8m")
    try:
        async with running_studio(data, min_free_disk_mb=1, disk_reserve_mb=1) as studio:
            task_id = await studio.submit({"model": "demo", "prompt": "keep", "width": 256, "height": 256})
            await studio.run_jobs()
        assert not (data / "app.db-wal").exists()  # closed cleanly: the next start makes a new one
        _fill_completely(data)

        log = StatusLog()
        again = await recorded_studio(studio_factory, log, data_dir=data, min_free_disk_mb=1, disk_reserve_mb=1)
        assert not (data / ".disk-reserve").exists()
        assert (await again.client.get("/health")).status_code == 503
        response = await again.client.delete(f"/api/v1/history/{task_id}")
        assert response.status_code == 204, response.text
        assert log.server_errors == [], log.seen
    finally:
        subprocess.run(["umount", "-l", str(data)], capture_output=True)
