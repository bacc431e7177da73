from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from app.api.deps import PrincipalDep, ServicesDep, ZhDep
from app.api.requests import rate_limit
from app.api.responses import task_submitted
from app.billing.prices import cny_float
from app.schemas.edit import EditIn, LineagePublic
from app.schemas.errors import ErrorResponse
from app.schemas.generation import TaskCreated
from app.schemas.usage import EstimatePublic

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


@router.get("/api/v1/edit/{operation}/estimate", response_model=EstimatePublic, responses={422: {"model": ErrorResponse}})
async def estimate(
    operation: Operation,
    services: ServicesDep,
    model: Annotated[str | None, Query(max_length=200, description="Model id; as for the edit itself when omitted")] = None,
) -> EstimatePublic:
    """What one edit may cost at most (an edit makes one image, priced by its operation's req_key)."""
    spec, result = services.edits.estimate(model, operation)
    return EstimatePublic(
        model=spec.id,
        images_max=1,
        unit=result.price.unit,
        unit_price_cny=cny_float(result.price.micro),
        cost_max_cny=cny_float(result.cost_max),
        confirmed=result.price.confirmed,
    )


@router.get(
    "/api/v1/images/{image_id}/lineage", response_model=LineagePublic, responses={404: {"model": ErrorResponse}}
)
async def lineage(image_id: str, services: ServicesDep, who: PrincipalDep) -> LineagePublic:
    """The chain of images an edit result was made from (parent first)."""
    return await services.lineage.ancestors(image_id, who)
