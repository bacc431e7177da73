from __future__ import annotations

import asyncio

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse

from app.api.deps import ServicesDep
from app.api.requests import check_content_length, read_upload
from app.core.errors import ImageUnreadable, NotFound
from app.schemas.errors import ErrorResponse
from app.schemas.task import InspectResult
from app.storage import metadata as image_metadata
from app.storage.files import THUMB_SUFFIX
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
    return await _serve(rel_path, services)


async def serve_thumbnail(rel_path: str, services: ServicesDep) -> FileResponse:
    """Behind nginx (SERVE_IMAGES=false), the thumbnails nginx did not find on disk."""
    if not rel_path.endswith(THUMB_SUFFIX):
        raise NotFound("No such image.", message_zh="图片不存在。")
    return await _serve(rel_path, services)


async def _serve(rel_path: str, services: ServicesDep) -> FileResponse:
    path = services.store.resolve_output(rel_path)
    if path is None and (image := services.store.image_for_thumbnail(rel_path)) is not None:
        # A thumbnail not made yet (a large PNG's is made after its job) or lost in a crash
        # (thumbnails are not fsynced): made now, from the image. nginx sends these here too.
        try:
            if await services.images.ensure_thumbnail(image, rel_path):
                path = services.store.resolve_output(rel_path)
        except ImageUnreadable:
            path = None
    if path is None:
        raise NotFound("No such image.", message_zh="图片不存在。")
    media = "image/webp" if path.suffix == ".webp" else None
    return FileResponse(path, media_type=media, headers={"Cache-Control": services.auth.image_cache_control})


