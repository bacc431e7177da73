from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse

from app.api.deps import PrincipalDep, ServicesDep, ZhDep
from app.api.requests import rate_limit
from app.api.responses import task_submitted
from app.schemas.edit import EditIn, LineagePublic
from app.schemas.errors import ErrorResponse
from app.schemas.generation import TaskCreated

router = APIRouter(tags=["edit"])

ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (404, 422, 429, 507)}
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
Operation = Annotated[
    Literal["inpaint", "erase", "outpaint", "upscale"],
    Path(description="inpaint (mask + prompt), erase (mask), outpaint (expand), upscale (resolution)"),
]


@router.post("/api/v1/edit/{operation}", status_code=202, response_model=TaskCreated, responses=ERRORS)
async def edit(
    operation: Operation,
    body: EditIn,
    services: ServicesDep,
    request: Request,
    zh: ZhDep,
    who: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Queue an edit of a history image (`source.image_id`) or an upload (`source.upload_id`).

    Fields per operation: inpaint takes `mask` and `prompt`; erase takes `mask`; outpaint takes
    `expand` (per-edge ratios or a target `aspect`) and an optional `prompt`; upscale takes
    `resolution` ("4k" / "8k"). Checked against the model's edit rules before anything is spent;
    answers like the generation routes (the task then runs, streams and settles the same way)."""
    await rate_limit(services, request)
    task, fresh = await services.edits.submit(
        operation,
        body.model,
        body.to_input(),
        source_image_id=body.source.image_id,
        source_upload_id=body.source.upload_id,
        mask_upload_id=body.mask.upload_id if body.mask else None,
        who=who,
        idempotency_key=idempotency_key,
    )
    return task_submitted(task, fresh, zh)


@router.get(
    "/api/v1/images/{image_id}/lineage", response_model=LineagePublic, responses={404: {"model": ErrorResponse}}
)
async def lineage(image_id: str, services: ServicesDep, who: PrincipalDep) -> LineagePublic:
    """The chain of images an edit result was made from (parent first)."""
    return await services.lineage.ancestors(image_id, who)
