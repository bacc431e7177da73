from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse

from app.api.deps import PrincipalDep, ServicesDep
from app.api.requests import check_content_length
from app.schemas.errors import ErrorResponse
from app.schemas.task import UploadPublic

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (413, 415, 422)}


@router.post("", response_model=UploadPublic, responses=ERRORS)
async def upload_image(
    services: ServicesDep, request: Request, who: PrincipalDep, file: UploadFile = File(...)
) -> UploadPublic:
    """Store a reference image after checking its real type, size and pixel count."""
    limit = services.settings.max_upload_bytes
    check_content_length(request, limit + 64 * 1024)
    record = await services.tasks.receive_upload(file.file, who.user_id)
    return UploadPublic(
        id=record.id, width=record.width, height=record.height, bytes=record.bytes, content_type=record.content_type
    )


@router.get(
    "/{upload_id}",
    response_class=FileResponse,
    responses={200: {"content": {"image/*": {}}, "description": "the stored image"}, 404: {"model": ErrorResponse}},
)
async def get_upload(upload_id: str, services: ServicesDep, who: PrincipalDep) -> FileResponse:
    """A reference image you uploaded (reference sets show them)."""
    path, content_type = await services.reference_sets.upload_file(upload_id, who)
    # Content-addressed: the bytes behind an id never change.
    return FileResponse(path, media_type=content_type, headers={"Cache-Control": "private, max-age=31536000, immutable"})
