from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from app.api.deps import PrincipalDep, ServicesDep, TasksDep, ZhDep
from app.api.requests import rate_limit
from app.api.responses import task_created
from app.core.errors import NotFound
from app.models.task import Task
from app.schemas.errors import ErrorResponse
from app.schemas.generation import TaskCreated
from app.schemas.task import HistoryPage, HistoryQuery, TaskList, TaskPublic

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}

# SSE: a comment line every so often keeps proxies from closing an idle stream.
KEEPALIVE_SECONDS = 15.0


@router.get("", response_model=TaskList)
async def list_tasks(tasks: TasksDep, who: PrincipalDep, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> TaskList:
    """Active tasks (oldest first) followed by the most recent finished ones (a member's own)."""
    return TaskList(items=[tasks.to_public(t) for t in await tasks.recent(limit, who)])


@router.get("/history", response_model=HistoryPage, summary="History (alias of /api/v1/history)")
async def tasks_history(tasks: TasksDep, who: PrincipalDep, query: Annotated[HistoryQuery, Query()]) -> HistoryPage:
    return await tasks.history_page(query, who)


@router.get("/{task_id}", response_model=TaskPublic, responses=NOT_FOUND)
async def get_task(task_id: str, tasks: TasksDep, who: PrincipalDep) -> TaskPublic:
    return (await tasks.to_public_with_collections([await tasks.get(task_id, who)], who))[0]


@router.get(
    "/{task_id}/events",
    responses={200: {"content": {"text/event-stream": {}}, "description": "task events"}, **NOT_FOUND},
)
async def task_events(task_id: str, services: ServicesDep, request: Request, who: PrincipalDep) -> StreamingResponse:
    """Server-Sent Events: `task` with the task JSON on every change, then `end`."""
    tasks = services.tasks
    await tasks.get(task_id, who)  # 404 before the stream starts

    async def stream() -> AsyncIterator[bytes]:
        last: bytes | None = None
        idle = 0.0
        with services.events.subscribe(task_id) as changed:
            # Read once subscribed: a change between the 404 check and here still wakes us.
            task: Task | None
            try:
                task = await tasks.get(task_id, who)
            except NotFound:
                task = None
            while task is not None and not services.events.closing:
                payload = orjson.dumps(tasks.to_public(task).model_dump(mode="json"))
                if payload != last:
                    yield b"event: task\ndata: " + payload + b"\n\n"
                    last = payload
                    idle = 0.0
                if task.is_terminal:
                    break
                # Without a relay (SQLite), a job run by another process is found by rescanning.
                rescan = services.events.rescan_seconds
                wait = min(rescan, KEEPALIVE_SECONDS - idle) if rescan is not None else KEEPALIVE_SECONDS - idle
                try:
                    await asyncio.wait_for(changed.wait(), timeout=wait)
                except TimeoutError:
                    idle += wait
                    if idle >= KEEPALIVE_SECONDS:
                        idle = 0.0
                        yield b": keep-alive\n\n"
                    if rescan is None:
                        if await request.is_disconnected():
                            return
                        continue
                # Cleared before the read: a change made while we read or send wakes the next wait.
                changed.clear()
                if await request.is_disconnected():
                    return
                try:
                    task = await tasks.get(task_id, who)
                except NotFound:
                    # Deleted while watched; any other failure is a real error, not an ending.
                    task = None
            if services.events.closing:
                return  # stopping, not ended: the client reconnects and follows the task on
            yield b"event: end\ndata: {}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"},
    )


@router.post("/{task_id}/cancel", response_model=TaskPublic, responses={**NOT_FOUND, 409: {"model": ErrorResponse}})
async def cancel_task(task_id: str, tasks: TasksDep, who: PrincipalDep) -> TaskPublic:
    """Cancel a pending task at once, a running one as soon as it can stop (409 when finished)."""
    return tasks.to_public(await tasks.cancel(task_id, who))


@router.post(
    "/{task_id}/retry",
    status_code=202,
    response_model=TaskCreated,
    responses={**NOT_FOUND, 409: {"model": ErrorResponse}, 429: {"model": ErrorResponse}},
)
async def retry_task(
    task_id: str, services: ServicesDep, request: Request, zh: ZhDep, who: PrincipalDep
) -> JSONResponse:
    """A new task with the same parameters."""
    await rate_limit(services, request)  # a retry is a new (billed) generation: same per-client limit
    task = await services.tasks.retry(task_id, who)
    return task_created(task, "已创建重试任务。" if zh else "Retry queued as a new task.")
