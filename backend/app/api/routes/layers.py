from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from app.api.deps import PrincipalDep, get_services, on_loop
from app.schemas.errors import ErrorResponse
from app.schemas.layers import LayeredSetPublic
from app.services.layers import LayersService

router = APIRouter(prefix="/api/v1/images", tags=["layers"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


def get_layers(request: Request) -> LayersService:
    return get_services(request).layers


LayersDep = Annotated[LayersService, Depends(on_loop(get_layers))]


@router.get("/{image_id}/layers", response_model=LayeredSetPublic, responses=NOT_FOUND)
async def get_layered_set(image_id: str, layers: LayersDep, who: PrincipalDep) -> LayeredSetPublic:
    """A stored image with its transparent layers (empty for an image that was not layered)."""
    return layers.to_public(*await layers.load(image_id, who))


@router.get(
    "/{image_id}/layers.zip",
    responses={200: {"content": {"application/zip": {}}, "description": "PNG layers + manifest.json"}, **NOT_FOUND},
)
async def download_layers(image_id: str, layers: LayersDep, who: PrincipalDep) -> StreamingResponse:
    """A streamed ZIP of the base image and its PNG layers with `manifest.json` (canvas size, per
    layer: file, z-index, bounding boxes, name, description)."""
    name, chunks = await layers.download(image_id, who)
    return StreamingResponse(
        chunks,
        media_type="application/zip",
        headers={"Content-Disposition": f"attachment; filename=\"layers.zip\"; filename*=UTF-8''{quote(name)}"},
    )
