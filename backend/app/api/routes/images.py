from __future__ import annotations

import asyncio

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response

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
async def serve_image(rel_path: str, services: ServicesDep) -> Response:
    """Stored images when the API runs without nginx (development); nginx serves them otherwise.
    Behind APP_PASSWORD only with a session (app/api/access.py), and cached privately.

    On object storage (nginx sends ``/images/`` here then) the answer is a redirect to a presigned
    URL of a few minutes, made only after that access check: the bytes go from the bucket to the
    browser, and a guessed object URL without a signature opens nothing."""
    if not services.store.serves_from_disk:
        return await _redirect(rel_path, services)
    return await _serve(rel_path, services)


async def serve_thumbnail(rel_path: str, services: ServicesDep) -> Response:
    """Behind nginx (SERVE_IMAGES=false), the thumbnails nginx did not find on disk; on object
    storage, every image (nginx has no files to serve)."""
    if services.store.serves_from_disk and not rel_path.endswith(THUMB_SUFFIX):
        raise NotFound("No such image.", message_zh="图片不存在。")
    return await serve_image(rel_path, services)


async def _redirect(rel_path: str, services: ServicesDep) -> Response:
    store = services.store
    # Only for a row of the history (one indexed read): a presigned URL of an object that was never
    # stored, or is deleted, would be the bucket's error page instead of our 404.
    if await services.image_access.owner_of(rel_path) is None:
        raise NotFound("No such image.", message_zh="图片不存在。")
    # One HEAD for a thumbnail (a large PNG's is made after its job, or may be lost): made now,
    # from the image, as on disk. An image with a row is there:
    # rows are written after their objects and deleted before them.
    if rel_path.endswith(THUMB_SUFFIX) and not await asyncio.to_thread(store.output_exists, rel_path):
        image = await asyncio.to_thread(store.image_for_thumbnail, rel_path)
        try:
            if image is None or not await services.images.ensure_thumbnail(image, rel_path):
                raise NotFound("No such image.", message_zh="图片不存在。")
        except ImageUnreadable:
            raise NotFound("No such image.", message_zh="图片不存在。") from None
    url = store.presigned_url(rel_path)
    if url is None:
        raise NotFound("No such image.", message_zh="图片不存在。")
    # The redirect itself is not cached: the URL it names expires.
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


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


