"""One live channel for every task: a real uvicorn on 127.0.0.1, one SSE connection, many jobs."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import uvicorn

from tests.conftest import Studio, StudioFactory

GUARD = 30.0


@asynccontextmanager
async def serving(studio: Studio) -> AsyncIterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The app's lifespan already ran (the factory); uvicorn only serves it.
    server = uvicorn.Server(uvicorn.Config(studio.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, GUARD)


async def read_events(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str | None, str, dict[str, Any]]]:
    """(id, event, data) of each SSE event, as it arrives."""
    event_id, name, data = None, "message", []
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield event_id, name, json.loads("\n".join(data))
            name, data = "message", []
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "id":
            event_id = value
        elif field == "event":
            name = value
        elif field == "data":
            data.append(value)


async def test_one_connection_carries_every_job(studio_factory: StudioFactory) -> None:
    studio = await studio_factory()
    async with serving(studio) as base, aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/v1/events", headers={"Accept-Language": "en"}) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            ids = []
            for i in range(12):
                r = await http.post(f"{base}/api/v1/generate/text2image", json={"model": "demo", "prompt": f"job {i}"})
                assert r.status == 202
                ids.append((await r.json())["task_id"])
            worker = asyncio.create_task(studio.run_jobs())
            final: dict[str, str] = {}
            last_id = None

            async def collect() -> None:
                nonlocal last_id
                async for event_id, name, task in read_events(response):
                    assert name == "task"
                    last_id = event_id
                    final[task["task_id"]] = task["status"]
                    if all(final.get(i) == "completed" for i in ids):
                        return

            await asyncio.wait_for(collect(), GUARD)
            await worker
        assert {i: final[i] for i in ids} == dict.fromkeys(ids, "completed")

        # Reconnect with the last id: the stream resumes from there and brings what came after.
        later = await http.post(f"{base}/api/v1/generate/text2image", json={"model": "demo", "prompt": "later"})
        later_id = (await later.json())["task_id"]
        await studio.run_jobs()
        assert last_id is not None
        async with http.get(f"{base}/api/v1/events", headers={"Last-Event-ID": last_id}) as response:

            async def resumed() -> None:
                async for _, _, task in read_events(response):
                    if task["task_id"] == later_id and task["status"] == "completed":
                        return

            await asyncio.wait_for(resumed(), GUARD)


async def test_without_a_resume_point_the_stream_starts_with_the_running_tasks(studio_factory: StudioFactory) -> None:
    studio = await studio_factory()
    pending = await studio.submit({"model": "demo", "prompt": "waiting"})
    async with serving(studio) as base, aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/v1/events") as response:

            async def first() -> dict[str, Any]:
                async for _, _, task in read_events(response):
                    return task
                raise AssertionError("stream ended")

            task = await asyncio.wait_for(first(), GUARD)
            assert task["task_id"] == pending and task["status"] == "pending"
