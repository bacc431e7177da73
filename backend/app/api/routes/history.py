from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from app.api.deps import PrincipalDep, TasksDep
from app.schemas.errors import ErrorResponse
from app.schemas.task import (
    DownloadRequest,
    HistoryPage,
    HistoryQuery,
    HistoryUpdate,
    TaskPublic,
)

router = APIRouter(prefix="/api/v1/history", tags=["history"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


@router.get("", response_model=HistoryPage)
async def list_history(tasks: TasksDep, who: PrincipalDep, query: Annotated[HistoryQuery, Query()]) -> HistoryPage:
    """Completed tasks, newest first, with prompt search and filters (a member's own; an admin's: all)."""
    return await tasks.history_page(query, who)


@router.patch("/{task_id}", response_model=TaskPublic, responses=NOT_FOUND)
async def update_history_item(task_id: str, body: HistoryUpdate, tasks: TasksDep, who: PrincipalDep) -> TaskPublic:
    """Favourite and/or rate (1-5 stars; null clears) an item."""
    task = await tasks.mark(task_id, body.model_dump(exclude_unset=True), who)
    return (await tasks.to_public_with_collections([task], who))[0]


@router.delete("/{task_id}", status_code=204, responses={**NOT_FOUND, 409: {"model": ErrorResponse}})
async def delete_history_item(task_id: str, tasks: TasksDep, who: PrincipalDep) -> Response:
    """Delete the task and its image files."""
    await tasks.delete(task_id, who)
    return Response(status_code=204)


@router.post(
    "/download",
    responses={200: {"content": {"application/zip": {}}, "description": "zip of images + metadata.json"}, **NOT_FOUND},
)
async def download_history(body: DownloadRequest, tasks: TasksDep, who: PrincipalDep) -> StreamingResponse:
    """A streamed zip of the selected tasks' images plus `metadata.json`."""
    chunks = await tasks.download(body.ids, who)
    return StreamingResponse(
        chunks,
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="volcengine-studio-images.zip"'},
    )
