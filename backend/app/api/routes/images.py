from __future__ import annotations

import asyncio

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse

from app.api.deps import ServicesDep
from app.api.requests import check_content_length, read_upload
from app.core.errors import NotFound
from app.schemas.errors import ErrorResponse
from app.schemas.task import InspectResult
from app.storage import metadata as image_metadata
from app.storage.uploads import accepted_type

router = APIRouter(tags=["images"])


@router.post(
    "/api/v1/images/inspect",
    response_model=InspectResult,
    responses={code: {"model": ErrorResponse} for code in (413, 415, 422)},
)
async def inspect_image(services: ServicesDep, request: Request, file: UploadFile = File(...)) -> InspectResult:
    """Read back the generation parameters embedded in an image made by this studio."""
    limit = max(services.settings.max_upload_bytes, 64 * 1024 * 1024)
    check_content_length(request, limit + 64 * 1024)
    data = await read_upload(file, limit)
    accepted_type(data)  # not an image at all is the caller's mistake, not "no metadata found"
    found = await asyncio.to_thread(image_metadata.read, data)
    return InspectResult(found=found is not None, metadata=found)


@router.get("/images/{rel_path:path}", include_in_schema=False)
async def serve_image(rel_path: str, services: ServicesDep) -> FileResponse:
    """Stored images when the API runs without nginx (development); nginx serves them otherwise.
    Behind APP_PASSWORD only with a session (app/api/access.py), and cached privately."""
    path = services.store.resolve_output(rel_path)
    if path is None:
        raise NotFound("No such image.", message_zh="图片不存在。")
    media = "image/webp" if path.suffix == ".webp" else None
    return FileResponse(path, media_type=media, headers={"Cache-Control": services.auth.image_cache_control})


