"""The live channel: ONE Server-Sent Events stream carrying every task's changes.

A browser allows six connections per host over HTTP/1.1; one stream per running job froze the tab
at the seventh. This stream costs one connection for any number of jobs. Each event's id is the
moment of the newest change sent so far; EventSource sends it back as Last-Event-ID when it
reconnects, and the stream resumes from there (re-sending a few recent states rather than
missing one: clients treat a task state as a replace, so a repeat is harmless).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from app.api.deps import PrincipalDep, ServicesDep
from app.models.base import utcnow
from app.models.task import Task

router = APIRouter(prefix="/api/v1", tags=["events"])

# Writes commit a little after they stamp updated_at (and out of order across writers): every scan
# looks back this far and skips states already sent.
OVERLAP = timedelta(seconds=2)
KEEPALIVE_SECONDS = 15.0
# Changes arriving together (a group's images) go out in one scan.
COALESCE_SECONDS = 0.02
# How long the browser waits before reconnecting after the stream drops.
RETRY_MS = 2000


def _cursor(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@router.get(
    "/events",
    responses={200: {"content": {"text/event-stream": {}}, "description": "`task` events (the task JSON)"}},
)
async def events(
    services: ServicesDep,
    request: Request,
    who: PrincipalDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    since: Annotated[str | None, Query(description="Resume point (an event id), for clients without Last-Event-ID")] = None,
) -> StreamingResponse:
    """Every change of every task as `task` events (the task JSON), resumable by Last-Event-ID;
    a member's stream carries only their own tasks.

    Without a resume point the stream starts with the tasks that are pending or running."""
    tasks = services.tasks
    resume = _cursor(last_event_id) or _cursor(since)

    async def stream() -> AsyncIterator[bytes]:
        sent: dict[str, datetime] = {}
        high = resume or utcnow()

        def frame(task: Task) -> bytes:
            payload = orjson.dumps(tasks.to_public(task).model_dump(mode="json"))
            return b"id: " + high.isoformat().encode() + b"\nevent: task\ndata: " + payload + b"\n\n"

        with services.events.subscribe_all() as changed:
            yield f"retry: {RETRY_MS}\n\n".encode()
            if resume is None:
                for task in await tasks.active(who):
                    sent[task.id] = task.updated_at
                    yield frame(task)
            idle = 0.0
            scan = True
            while True:
                changed.clear()
                for task in await tasks.changed_since(high - OVERLAP, who) if scan else ():
                    if sent.get(task.id) == task.updated_at:
                        continue
                    sent[task.id] = task.updated_at
                    high = max(high, task.updated_at)
                    idle = 0.0
                    yield frame(task)
                # Forget what is older than any future scan can return.
                horizon = high - OVERLAP * 2
                for task_id in [k for k, v in sent.items() if v < horizon]:
                    del sent[task_id]
                # Without a relay (SQLite), jobs run by another process are found by rescanning.
                rescan = services.events.rescan_seconds
                wait = min(rescan, KEEPALIVE_SECONDS - idle) if rescan is not None else KEEPALIVE_SECONDS - idle
                try:
                    await asyncio.wait_for(changed.wait(), timeout=wait)
                    await asyncio.sleep(COALESCE_SECONDS)
                    scan = True
                except TimeoutError:
                    idle += wait
                    scan = rescan is not None
                    if idle >= KEEPALIVE_SECONDS:
                        idle = 0.0
                        yield b": keep-alive\n\n"
                if services.events.closing or await request.is_disconnected():
                    # Stopping: the browser reconnects (elsewhere, or here once back) and resumes.
                    return

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"},
    )
