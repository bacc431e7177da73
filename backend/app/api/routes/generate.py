from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from app.api.deps import PrincipalDep, ServicesDep, ZhDep
from app.api.requests import check_content_length, invalid_body, json_body, rate_limit
from app.api.responses import task_submitted
from app.core.errors import InvalidRequest
from app.models.task import Task
from app.schemas.errors import ErrorResponse
from app.schemas.generation import GenerateIn, Image2ImageIn, TaskCreated

router = APIRouter(prefix="/api/v1/generate", tags=["generate"])

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (413, 415, 422, 429, 507)
}
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def _created(task: Task, fresh: bool, zh: bool) -> JSONResponse:
    return task_submitted(task, fresh, zh)


@router.post("/text2image", status_code=202, response_model=TaskCreated, responses=ERRORS)
async def text2image(
    body: GenerateIn,
    services: ServicesDep,
    request: Request,
    zh: ZhDep,
    who: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Queue a text-to-image (or group) generation; returns at once with the task id."""
    await rate_limit(services, request)
    task, fresh = await services.tasks.submit(body, mode="text2image", who=who, idempotency_key=idempotency_key)
    return _created(task, fresh, zh)


def _form_to_body(form: FormData) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str) or key == "images":
            continue
        if key == "group":
            try:
                data[key] = json.loads(value)
            except ValueError:
                data[key] = {"max_images": value}
        elif key == "group_max_images":
            data["group"] = {"max_images": value}
        elif value != "":
            data[key] = value
    data["images"] = [v for v in form.getlist("images") if isinstance(v, str)]
    return data


@router.post(
    "/image2image",
    status_code=202,
    response_model=TaskCreated,
    responses=ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Image2ImageIn"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "description": "Same fields as the JSON body; reference images as repeated `images` file fields.",
                        "properties": {
                            "prompt": {"type": "string"},
                            "model": {"type": "string"},
                            "images": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        },
                        "required": ["prompt"],
                    }
                },
            },
        }
    },
)
async def image2image(
    services: ServicesDep, request: Request, zh: ZhDep, who: PrincipalDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Queue an image-to-image / editing generation with reference images."""
    await rate_limit(services, request)
    settings = services.settings
    content_type = request.headers.get("content-type", "")
    uploaded: list[str] = []
    if content_type.startswith("multipart/form-data"):
        check_content_length(request, settings.max_upload_bytes * 14 + 1024 * 1024)
        async with request.form(max_files=14, max_fields=100) as form:
            for value in form.getlist("images"):
                if isinstance(value, UploadFile):
                    uploaded.append((await services.tasks.receive_upload(value.file, who.user_id)).id)
            raw: Any = _form_to_body(form)
    else:
        check_content_length(request, int(settings.max_upload_bytes * 1.4) * 14 + 1024 * 1024)
        raw = await json_body(request)
    try:
        body = Image2ImageIn.model_validate(raw)
    except ValidationError as exc:
        raise invalid_body(exc) from exc
    if len(body.images) + len(uploaded) > 14:
        raise InvalidRequest(
            "At most 14 reference images are accepted.", message_zh="参考图最多 14 张。", details={"field": "images"}
        )
    task, fresh = await services.tasks.submit(
        body, mode="image2image", who=who, idempotency_key=idempotency_key, uploaded=uploaded
    )
    return _created(task, fresh, zh)
