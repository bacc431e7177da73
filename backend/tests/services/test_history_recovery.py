"""Losing the database never passes silently: a start beside stored images but with an empty
history is refused, and ``python -m app.rebuild_history`` rebuilds the history from the parameters
every stored image carries."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import text

from app.core.db import Database
from app.core.errors import StartupRefused
from app.main import create_app
from app.providers.catalog.lookup import Catalog
from app.services.rebuild import rebuild_history
from app.storage.files import ImageStore
from tests.conftest import Studio, make_settings, running_studio
from tests.reliability.procs import clean_env

BACKEND = Path(__file__).resolve().parents[2]
# What the files cannot tell: kept by the database only.
NOT_IN_FILES = {"favorite", "attempts", "started_at", "completed_at"}


def _png(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "PNG")
    return out.getvalue()


async def _make_history(studio: Studio) -> dict[str, dict[str, Any]]:
    client = studio.client
    upload = (await client.post("/api/v1/uploads", files={"file": ("r.png", _png("red"), "image/png")})).json()
    ids = [
        await studio.submit({"model": "demo", "prompt": "两只猫 in the snow", "negative_prompt": "blurry",
                             "width": 320, "height": 256, "num_images": 2, "seed": 11}),
        await studio.submit({"model": "demo", "prompt": "a story", "width": 256, "height": 256,
                             "group": {"max_images": 2}}),
        await studio.submit({"model": "demo", "prompt": "edit it", "images": [upload["id"]], "width": 256,
                             "height": 256}, path="/api/v1/generate/image2image"),
    ]
    await studio.run_jobs()
    # An edit of one of them: its lineage must come back from the file too.
    parent = (await studio.task(ids[0]))["outputs"][1]["id"]
    mask = Image.new("L", (320, 256), 0)
    mask.paste(255, (10, 10, 100, 100))
    out = io.BytesIO()
    mask.save(out, "PNG")
    mask_upload = (await client.post("/api/v1/uploads", files={"file": ("m.png", out.getvalue(), "image/png")})).json()
    ids.append(await studio.submit({"model": "demo", "source": {"image_id": parent}, "mask": {"upload_id": mask_upload["id"]},
                                    "prompt": "a hat", "seed": 4}, path="/api/v1/edit/inpaint"))
    await studio.run_jobs()
    await client.patch(f"/api/v1/history/{ids[0]}", json={"favorite": True})
    return {task_id: await studio.task(task_id) for task_id in ids}


def _recoverable(task: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in task.items() if k not in NOT_IN_FILES}


async def test_empty_database_beside_stored_images_refuses_to_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running_studio(data) as studio:
        await _make_history(studio)
    (data / "app.db").write_bytes(b"")  # truncate -s 0 app.db

    app = create_app(make_settings(data), start_worker=False)
    with pytest.raises(StartupRefused) as refused:
        async with app.router.lifespan_context(app):
            pass
    message = str(refused.value)
    assert "history is empty" in message and "6 stored images" in message
    assert "python -m app.rebuild_history" in message


async def test_an_empty_database_without_images_starts(tmp_path: Path) -> None:
    async with running_studio(tmp_path / "data") as studio:
        assert (await studio.client.get("/health")).status_code == 200


async def test_rebuild_command_restores_the_history(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running_studio(data) as studio:
        before = await _make_history(studio)
    (data / "app.db").write_bytes(b"")

    result = subprocess.run(
        [sys.executable, "-m", "app.rebuild_history"],
        cwd=BACKEND, env=clean_env(DATA_DIR=str(data)), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "4 tasks and 6 images added" in result.stdout, result.stdout

    async with running_studio(data) as studio:
        for task_id, task in before.items():
            after = await studio.task(task_id)
            assert _recoverable(after) == _recoverable(task)
            assert after["completed_at"] is not None
        page = (await studio.client.get("/api/v1/history")).json()
        assert [i["task_id"] for i in page["items"]] == list(reversed(before))
        # The rebuilt parameters are whole: an image-to-image task (reference re-linked) retries.
        edit = list(before)[2]
        retry = await studio.client.post(f"/api/v1/tasks/{edit}/retry")
        assert retry.status_code == 202, retry.text
        await studio.run_jobs()
        assert (await studio.task(retry.json()["task_id"]))["status"] == "completed"


async def test_rebuild_is_idempotent_and_fills_only_what_is_missing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running_studio(data) as studio:
        before = await _make_history(studio)
        services = studio.services
        # Nothing lost: nothing to add.
        report = await rebuild_history(services.db, services.store, services.catalog)
        assert (report.tasks_added, report.images_added, report.images_known) == (0, 0, 6)
        # One image row and one task lost (a database restored from an older backup).
        first, second, _, _ = before
        statements = [
            ('DELETE FROM images WHERE task_id = :t AND "index" = 1', first),
            ("DELETE FROM images WHERE task_id = :t", second),
            ("DELETE FROM tasks WHERE id = :t", second),
        ]
        for sql, task_id in statements:
            await services.db.run_write(lambda s, sql=sql, task_id=task_id: s.execute(text(sql), {"t": task_id}))
        report = await rebuild_history(services.db, services.store, services.catalog)
        assert (report.tasks_added, report.images_added, report.images_known) == (1, 3, 3)
        again = await rebuild_history(services.db, services.store, services.catalog)
        assert (again.tasks_added, again.images_added, again.images_known) == (0, 0, 6)
        assert again.skipped == []
        for task_id, task in before.items():
            after = await studio.task(task_id)
            assert after["outputs"] == task["outputs"]
            assert after["favorite"] == (task_id == first)  # the surviving row keeps its favourite


async def test_rebuild_regenerates_missing_thumbnails_and_reports_what_it_cannot_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running_studio(data) as studio:
        before = await _make_history(studio)
        services = studio.services
        output = services.store.output_dir
        task = next(iter(before.values()))
        thumb = output / task["outputs"][0]["thumbnail_url"].removeprefix("/images/")
        thumb.unlink()
        # A file that is not ours (no embedded parameters) and a tmp leftover: reported, ignored.
        stray = thumb.parent / "zz77zz77zz77.png"
        stray.write_bytes(_png("blue"))
        (thumb.parent / ".zz88zz88zz88.png.abc.tmp").write_bytes(b"partial")
    (data / "app.db").write_bytes(b"")

    settings = make_settings(data)
    db = Database(settings.database_url)
    await db.migrate()
    try:
        report = await rebuild_history(
            db, ImageStore(settings.output_dir, settings.uploads_dir, 0), Catalog.from_settings(settings)
        )
    finally:
        await db.dispose()
    assert (report.tasks_added, report.images_added) == (4, 6)
    assert report.thumbnails_made == 1 and thumb.exists()
    assert report.skipped == [(stray.relative_to(output).as_posix(), "no parameters embedded in the file")]
    assert os.path.exists(stray)  # never deleted: it is not ours to remove
