from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import update

from app.models.task import Task
from tests.conftest import Studio


async def _completed(studio: Studio, prompt: str, **extra: object) -> str:
    task_id = await studio.submit({"model": "demo", "prompt": prompt, "width": 256, "height": 256, **extra})
    return task_id


async def test_cancel_pending_then_conflict(studio: Studio) -> None:
    task_id = await _completed(studio, "to cancel")
    r = await studio.client.post(f"/api/v1/tasks/{task_id}/cancel")
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    assert r.json()["error"] == {
        "code": "cancelled", "message": "Cancelled by the user.", "message_zh": "已被用户取消。", "retryable": True,
        "stage": None, "upstream_code": None,
    }
    await studio.run_jobs()
    assert (await studio.task(task_id))["status"] == "cancelled"
    r = await studio.client.post(f"/api/v1/tasks/{task_id}/cancel")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "conflict"


async def test_rows_stored_with_english_only_messages_serve_it_as_message_zh(studio: Studio) -> None:
    """Tasks that ended before messages were stored in both languages still read (in English)."""
    task_id = await _completed(studio, "old row")
    await studio.run_jobs()
    stmt = update(Task).where(Task.id == task_id).values(
        error={"code": "upstream_error", "message": "Ark had an internal error.", "retryable": True},
        failures=[{"index": 1, "code": "upstream_error", "message": "The stream was cut off."}],
    )
    await studio.services.db.run_write(lambda session: session.execute(stmt))
    task = await studio.task(task_id)
    assert task["error"]["message_zh"] == "Ark had an internal error."
    assert task["failures"] == [
        {"index": 1, "code": "upstream_error", "message": "The stream was cut off.", "message_zh": "The stream was cut off."}
    ]


async def test_retry_creates_new_task_with_same_parameters(studio: Studio) -> None:
    task_id = await _completed(studio, "retry me", seed=5)
    r = await studio.client.post(f"/api/v1/tasks/{task_id}/retry")
    assert r.status_code == 409  # still pending
    await studio.run_jobs()
    r = await studio.client.post(f"/api/v1/tasks/{task_id}/retry")
    assert r.status_code == 202
    new_id = r.json()["task_id"]
    assert new_id != task_id
    await studio.run_jobs()
    new = await studio.task(new_id)
    assert new["status"] == "completed"
    assert new["retry_of"] == task_id
    assert new["parameters"] == (await studio.task(task_id))["parameters"]


@pytest.mark.local_storage_only
async def test_history_paging_search_filters_favorite_delete(studio: Studio) -> None:
    ids = [await _completed(studio, f"landscape number {i}") for i in range(5)]
    ids.append(await _completed(studio, "水墨山水画 with mountains"))
    await studio.run_jobs()

    page1 = (await studio.client.get("/api/v1/history", params={"page": 1, "page_size": 4})).json()
    assert page1["total"] == 6 and len(page1["items"]) == 4 and page1["page"] == 1
    assert page1["items"][0]["task_id"] == ids[-1]  # newest first
    page2 = (await studio.client.get("/api/v1/history", params={"page": 2, "page_size": 4})).json()
    assert len(page2["items"]) == 2
    seen = {i["task_id"] for i in page1["items"]} | {i["task_id"] for i in page2["items"]}
    assert seen == set(ids)

    zh = (await studio.client.get("/api/v1/history", params={"q": "山水"})).json()
    assert [i["task_id"] for i in zh["items"]] == [ids[-1]]
    en = (await studio.client.get("/api/v1/history", params={"q": "NUMBER 3"})).json()
    assert [i["task_id"] for i in en["items"]] == [ids[3]]
    none = (await studio.client.get("/api/v1/history", params={"q": "100%"})).json()
    assert none["total"] == 0
    legacy = (await studio.client.get("/api/v1/tasks/history", params={"q": "山水"})).json()
    assert legacy["total"] == 1

    r = await studio.client.patch(f"/api/v1/history/{ids[0]}", json={"favorite": True})
    assert r.status_code == 200 and r.json()["favorite"] is True
    favs = (await studio.client.get("/api/v1/history", params={"favorite": "true"})).json()
    assert [i["task_id"] for i in favs["items"]] == [ids[0]]
    by_model = (await studio.client.get("/api/v1/history", params={"model": "demo", "type": "text2image"})).json()
    assert by_model["total"] == 6

    victim = await studio.task(ids[1])
    files = [studio.services.store.output_dir / o["url"].removeprefix("/images/") for o in victim["outputs"]]
    assert all(f.exists() for f in files)
    r = await studio.client.delete(f"/api/v1/history/{ids[1]}")
    assert r.status_code == 204
    assert not any(f.exists() for f in files)
    assert (await studio.client.get(f"/api/v1/tasks/{ids[1]}")).status_code == 404
    assert (await studio.client.get(victim["outputs"][0]["url"])).status_code == 404


@pytest.mark.local_storage_only
async def test_zip_download(studio: Studio) -> None:
    a = await _completed(studio, "first", num_images=2)
    b = await _completed(studio, "second")
    await studio.run_jobs()
    r = await studio.client.post("/api/v1/history/download", json={"ids": [a, b]})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    names = archive.namelist()
    assert "metadata.json" in names
    images = [n for n in names if n.endswith(".png")]
    assert len(images) == 3
    meta = orjson.loads(archive.read("metadata.json"))
    assert {m["prompt"] for m in meta} == {"first", "second"}
    # date, prompt slug and image number, as a single download is named; every member is listed
    assert all(re.fullmatch(r"\d{8}-\d{6}_(first|second)_[0-9a-f]{8}_\d\.png", n) for n in images), images
    assert sorted(m["file"] for m in meta) == sorted(images)
    task_a = await studio.task(a)
    stored = (await studio.client.get(task_a["outputs"][0]["url"])).content
    assert stored in [archive.read(n) for n in images]

    r = await studio.client.post("/api/v1/history/download", json={"ids": [a, "missing"]})
    assert r.status_code == 404
    r = await studio.client.post("/api/v1/history/download", json={"ids": []})
    assert r.status_code == 422


async def test_zip_names_tasks_apart_with_the_same_prompt_and_second(studio: Studio) -> None:
    """Two tasks with the same prompt in the same second: distinct members, each in metadata.json."""
    a = await _completed(studio, "twin")
    b = await _completed(studio, "twin")
    await studio.run_jobs()
    same = update(Task).where(Task.id.in_([a, b])).values(created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    await studio.services.db.run_write(lambda session: session.execute(same))
    r = await studio.client.post("/api/v1/history/download", json={"ids": [a, b]})
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    images = sorted(n for n in archive.namelist() if n.endswith(".png"))
    assert images == sorted(f"20260102-030405_twin_{task_id[:8]}_1.png" for task_id in (a, b))
    assert sorted(m["file"] for m in orjson.loads(archive.read("metadata.json"))) == images


@pytest.mark.local_storage_only
async def test_image_deleted_behind_the_apps_back_shows_as_missing(studio: Studio) -> None:
    task_id = await _completed(studio, "two images", num_images=2)
    await studio.run_jobs()
    task = await studio.task(task_id)
    assert [o["missing"] for o in task["outputs"]] == [False, False]
    gone = task["outputs"][1]
    (studio.services.store.output_dir / gone["url"].removeprefix("/images/")).unlink()

    task = await studio.task(task_id)
    assert task["status"] == "completed"
    assert [o["missing"] for o in task["outputs"]] == [False, True]
    page = (await studio.client.get("/api/v1/history")).json()
    assert [o["missing"] for o in page["items"][0]["outputs"]] == [False, True]


@pytest.mark.local_storage_only
async def test_zip_says_which_images_are_missing(studio: Studio) -> None:
    a = await _completed(studio, "kept and lost", num_images=2)
    b = await _completed(studio, "kept")
    await studio.run_jobs()
    lost = (await studio.task(a))["outputs"][0]
    (studio.services.store.output_dir / lost["url"].removeprefix("/images/")).unlink()

    r = await studio.client.post("/api/v1/history/download", json={"ids": [a, b]})
    assert r.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    meta = orjson.loads(archive.read("metadata.json"))
    by_file = {m["file"]: m for m in meta}
    images = sorted(n for n in archive.namelist() if n.endswith(".png"))
    assert len(meta) == 3 and len(images) == 2
    missing = [m for m in meta if m.get("missing")]
    assert [(m["task_id"], m["index"]) for m in missing] == [(a, 0)]
    assert missing[0]["file"] not in archive.namelist()
    assert all(by_file[name].get("missing") is None for name in images)
    listing = archive.read("MISSING.txt").decode()
    assert missing[0]["file"] in listing
    assert lost["url"] in listing
    # Nothing missing: no MISSING.txt, and no "missing" key in metadata.json.
    r = await studio.client.post("/api/v1/history/download", json={"ids": [b]})
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert "MISSING.txt" not in archive.namelist()
    assert all("missing" not in m for m in orjson.loads(archive.read("metadata.json")))


async def test_sse_stream_of_a_finished_task(studio: Studio) -> None:
    task_id = await _completed(studio, "events")
    await studio.run_jobs()
    async with studio.client.stream("GET", f"/api/v1/tasks/{task_id}/events") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        body = b"".join([chunk async for chunk in r.aiter_bytes()])
    frames = [f for f in body.split(b"\n\n") if f.strip()]
    assert frames[0].startswith(b"event: task\ndata: ")
    task = orjson.loads(frames[0].split(b"data: ", 1)[1])
    assert task["status"] == "completed" and len(task["outputs"]) == 1
    assert frames[-1] == b"event: end\ndata: {}"


async def test_sse_follows_a_running_task(studio: Studio) -> None:
    import asyncio

    task_id = await _completed(studio, "live")
    events: list[dict] = []

    async def listen() -> None:
        async with studio.client.stream("GET", f"/api/v1/tasks/{task_id}/events") as r:
            buffer = b""
            async for chunk in r.aiter_bytes():
                buffer += chunk
                while b"\n\n" in buffer:
                    frame, buffer = buffer.split(b"\n\n", 1)
                    if frame.startswith(b"event: task"):
                        events.append(orjson.loads(frame.split(b"data: ", 1)[1]))

    listener = asyncio.create_task(listen())
    # httpx's ASGI transport hands the body over only at the end, so wait for the stream to be
    # subscribed (it has sent the pending snapshot by then) rather than for a received frame.
    events_hub = studio.services.events
    for _ in range(100_000):
        if task_id in events_hub._subscribers:
            break
        await asyncio.sleep(0)
    assert task_id in events_hub._subscribers
    await studio.run_jobs()
    await asyncio.wait_for(listener, timeout=10)
    assert events[0]["status"] == "pending"
    assert events[-1]["status"] == "completed"


async def test_queue_lists_active_first(studio: Studio) -> None:
    done = await _completed(studio, "done")
    await studio.run_jobs()
    waiting = await _completed(studio, "waiting")
    items = (await studio.client.get("/api/v1/tasks", params={"limit": 10})).json()["items"]
    assert [i["task_id"] for i in items] == [waiting, done]


async def test_health_and_models(studio: Studio) -> None:
    r = await studio.client.get("/health")
    assert r.status_code == 200
    health = r.json()
    assert health["status"] == "healthy"
    assert health["volcengine_configured"] is False
    assert health["providers"]["demo"]["configured"] is True
    assert health["database"] == "ok"
    assert health["disk_free_bytes"] > 0
    models = (await studio.client.get("/api/v1/models")).json()
    assert models["default_model"] == "demo"
    by_id = {m["id"]: m for m in models["models"]}
    assert by_id["demo"]["available"] is True
    assert by_id["doubao-seedream-4-0-250828"]["available"] is False


async def test_health_unhealthy_when_storage_broken(studio: Studio, monkeypatch) -> None:
    monkeypatch.setattr(studio.services.store, "check_writable", lambda: "output directory is read-only")
    r = await studio.client.get("/health")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unhealthy"
    assert body["storage"] == "output directory is read-only"


async def test_models_route_serves_the_catalogue(studio: Studio) -> None:
    body = (await studio.client.get("/api/v1/models")).json()
    catalog = studio.services.catalog
    assert body["default_model"] == catalog.default_model
    assert [m["id"] for m in body["models"]] == [spec.id for spec in catalog.all()]
    demo = next(m for m in body["models"] if m["id"] == "demo")
    assert demo["available"] is True and demo["provider"] == "demo"


async def test_upstream_state_of_a_running_task(studio: Studio) -> None:
    """Read from the checkpoint the job keeps: polled status of an async model, pending downloads."""
    task_id = await _completed(studio, "watched")

    async def set_state(status: str, checkpoint: dict[str, object]) -> str | None:
        stmt = update(Task).where(Task.id == task_id).values(status=status, checkpoint=checkpoint)
        await studio.services.db.run_write(lambda session: session.execute(stmt))
        return (await studio.task(task_id))["upstream_state"]

    assert await set_state("pending", {}) is None
    assert await set_state("processing", {}) is None
    assert await set_state("processing", {"provider": {"upstream_status": "in_queue"}}) == "queued"
    assert await set_state("processing", {"provider": {"upstream_status": "generating"}}) == "generating"
    downloading = {"provider": {"upstream_status": "generating"}, "urls": {"0": "https://example.invalid/0.png"}}
    assert await set_state("processing", downloading) == "downloading"
    assert await set_state("completed", downloading) is None
