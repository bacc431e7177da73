from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from app.api.deps import TasksDep
from app.schemas.errors import ErrorResponse
from app.schemas.task import DownloadRequest, HistoryPage, HistoryUpdate, TaskPublic
from app.services.tasks import TaskService

router = APIRouter(prefix="/api/v1/history", tags=["history"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


class HistoryQuery(BaseModel):
    model_config = {"extra": "ignore"}

    page: int = Field(default=1, ge=1, le=100_000)
    page_size: int = Field(default=20, ge=1, le=200)
    q: str | None = Field(default=None, max_length=500, description="Substring of the prompt")
    model: str | None = Field(default=None, max_length=200)
    type: Literal["text2image", "image2image"] | None = None
    favorite: bool | None = None
    since: datetime | None = None
    until: datetime | None = None


async def history_page(tasks: TaskService, query: HistoryQuery) -> HistoryPage:
    total, items = await tasks.history(
        page=query.page,
        page_size=query.page_size,
        q=query.q.strip() if query.q and query.q.strip() else None,
        model=query.model or None,
        type_=query.type,
        favorite=query.favorite,
        since=query.since,
        until=query.until,
    )
    return HistoryPage(total=total, items=[tasks.to_public(t) for t in items], page=query.page, page_size=query.page_size)


@router.get("", response_model=HistoryPage)
async def list_history(tasks: TasksDep, query: Annotated[HistoryQuery, Query()]) -> HistoryPage:
    """Completed tasks, newest first, with prompt search and filters."""
    return await history_page(tasks, query)


@router.patch("/{task_id}", response_model=TaskPublic, responses=NOT_FOUND)
async def update_history_item(task_id: str, body: HistoryUpdate, tasks: TasksDep) -> TaskPublic:
    return tasks.to_public(await tasks.set_favorite(task_id, body.favorite))


@router.delete("/{task_id}", status_code=204, responses={**NOT_FOUND, 409: {"model": ErrorResponse}})
async def delete_history_item(task_id: str, tasks: TasksDep) -> Response:
    """Delete the task and its image files."""
    await tasks.delete(task_id)
    return Response(status_code=204)


@router.post(
    "/download",
    responses={200: {"content": {"application/zip": {}}, "description": "zip of images + metadata.json"}, **NOT_FOUND},
)
async def download_history(body: DownloadRequest, tasks: TasksDep) -> StreamingResponse:
    """A streamed zip of the selected tasks' images plus `metadata.json`."""
    chunks = await tasks.download(body.ids)
    return StreamingResponse(
        chunks,
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="volcengine-studio-images.zip"'},
    )
