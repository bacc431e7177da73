"""Collections (albums) of history items: a member's own, listed, renamed, filled and zipped."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from app.api.deps import PrincipalDep, ServicesDep
from app.core.errors import Conflict
from app.models.base import utcnow
from app.schemas.errors import ErrorResponse
from app.schemas.library import (
    CollectionIn,
    CollectionItemsIn,
    CollectionItemsResult,
    CollectionList,
    CollectionPublic,
)
from app.services.collections import CollectionView
from app.storage.names import archive_name

router = APIRouter(prefix="/api/v1/collections", tags=["collections"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (404, 409, 422)}


def _public(view: CollectionView) -> CollectionPublic:
    c = view.collection
    return CollectionPublic(
        id=c.id, name=c.name, count=view.count, cover_url=view.cover_url, created_at=c.created_at,
        updated_at=c.updated_at,
    )


@router.get("", response_model=CollectionList)
async def list_collections(services: ServicesDep, who: PrincipalDep) -> CollectionList:
    """Your collections by name, with their item counts."""
    return CollectionList(items=[_public(v) for v in await services.collections.owned(who)])


@router.post("", status_code=201, response_model=CollectionPublic, responses=ERRORS)
async def create_collection(body: CollectionIn, services: ServicesDep, who: PrincipalDep) -> CollectionPublic:
    return _public(await services.collections.create(body.name, who))


@router.patch("/{collection_id}", response_model=CollectionPublic, responses=ERRORS)
async def rename_collection(
    collection_id: str, body: CollectionIn, services: ServicesDep, who: PrincipalDep
) -> CollectionPublic:
    return _public(await services.collections.rename(collection_id, body.name, who))


@router.delete("/{collection_id}", status_code=204, responses=ERRORS)
async def delete_collection(collection_id: str, services: ServicesDep, who: PrincipalDep) -> Response:
    """Delete the collection; its items stay in the history."""
    await services.collections.delete(collection_id, who)
    return Response(status_code=204)


@router.post("/{collection_id}/items", response_model=CollectionItemsResult, responses=ERRORS)
async def add_collection_items(
    collection_id: str, body: CollectionItemsIn, services: ServicesDep, who: PrincipalDep
) -> CollectionItemsResult:
    """Add history items (already there: left as they are)."""
    view, changed = await services.collections.add(collection_id, body.task_ids, who)
    return CollectionItemsResult(collection=_public(view), changed=changed)


@router.post("/{collection_id}/items/remove", response_model=CollectionItemsResult, responses=ERRORS)
async def remove_collection_items(
    collection_id: str, body: CollectionItemsIn, services: ServicesDep, who: PrincipalDep
) -> CollectionItemsResult:
    """Take items out of the collection (they stay in the history)."""
    view, changed = await services.collections.remove(collection_id, body.task_ids, who)
    return CollectionItemsResult(collection=_public(view), changed=changed)


@router.get(
    "/{collection_id}/download",
    responses={200: {"content": {"application/zip": {}}, "description": "zip of images + metadata.json"}, **ERRORS},
)
async def download_collection(collection_id: str, services: ServicesDep, who: PrincipalDep) -> StreamingResponse:
    """The whole collection as one streamed zip (the images, and metadata.json with each one's
    rating and collections)."""
    collection = await services.collections.get(collection_id, who)
    ids = await services.collections.task_ids(collection_id, who)
    if not ids:
        raise Conflict(
            "This collection is empty; add images to it first.",
            message_zh="该收藏夹为空，请先添加图片。",
            code="collection_empty",
        )
    chunks = await services.tasks.download(ids, who)
    name = archive_name(collection.name, utcnow())
    # The ASCII name for old clients, the real one (Chinese names too) per RFC 6266.
    fallback = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return StreamingResponse(
        chunks,
        media_type="application/zip",
        headers={"Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"},
    )
