"""Reference sets: named groups of uploaded reference images, reused across jobs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from app.api.deps import PrincipalDep, ServicesDep
from app.schemas.errors import ErrorResponse
from app.schemas.library import (
    ReferenceImagePublic,
    ReferenceSetIn,
    ReferenceSetList,
    ReferenceSetPublic,
    ReferenceSetUpdate,
    ReferenceSetUse,
)
from app.services.reference_sets import SetView

router = APIRouter(prefix="/api/v1/reference-sets", tags=["reference-sets"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (404, 409, 422)}


def _public(view: SetView) -> ReferenceSetPublic:
    return ReferenceSetPublic(
        id=view.id,
        name=view.name,
        images=[
            ReferenceImagePublic(
                upload_id=u.id, url=f"/api/v1/uploads/{u.id}", width=u.width, height=u.height, bytes=u.bytes,
                content_type=u.content_type,
            )
            for u in view.images
        ],
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


@router.get("", response_model=ReferenceSetList)
async def list_reference_sets(services: ServicesDep, who: PrincipalDep) -> ReferenceSetList:
    return ReferenceSetList(items=[_public(v) for v in await services.reference_sets.owned(who)])


@router.post("", status_code=201, response_model=ReferenceSetPublic, responses=ERRORS)
async def create_reference_set(body: ReferenceSetIn, services: ServicesDep, who: PrincipalDep) -> ReferenceSetPublic:
    """Save uploads (yours, by id, in order) as a named set."""
    return _public(await services.reference_sets.create(body.name, body.upload_ids, who))


@router.get("/{set_id}", response_model=ReferenceSetPublic, responses=ERRORS)
async def get_reference_set(set_id: str, services: ServicesDep, who: PrincipalDep) -> ReferenceSetPublic:
    return _public(await services.reference_sets.get(set_id, who))


@router.patch("/{set_id}", response_model=ReferenceSetPublic, responses=ERRORS)
async def update_reference_set(
    set_id: str, body: ReferenceSetUpdate, services: ServicesDep, who: PrincipalDep
) -> ReferenceSetPublic:
    """Rename the set and/or replace its images."""
    view = await services.reference_sets.update(set_id, who, name=body.name, upload_ids=body.upload_ids)
    return _public(view)


@router.delete("/{set_id}", status_code=204, responses=ERRORS)
async def delete_reference_set(set_id: str, services: ServicesDep, who: PrincipalDep) -> Response:
    await services.reference_sets.delete(set_id, who)
    return Response(status_code=204)


@router.post("/{set_id}/use", response_model=ReferenceSetPublic, responses=ERRORS)
async def use_reference_set(
    set_id: str, body: ReferenceSetUse, services: ServicesDep, who: PrincipalDep
) -> ReferenceSetPublic:
    """The set's images for a job on `model`: 422 `too_many_references` (with the limit) when they
    do not fit beside the `already` references of the form."""
    return _public(await services.reference_sets.for_model(set_id, body.model, body.already, who))
