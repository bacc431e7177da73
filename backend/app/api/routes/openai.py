"""The OpenAI-compatible Images API under ``/v1/``: what Open WebUI, LobeHub and scripts written
against the OpenAI SDK already speak.

Authenticated by ``Authorization: Bearer <personal API token>`` (app/api/access.py, errors in
OpenAI's shape from app/api/errors.py). Every call is an ordinary task of the token's user: it is
queued like any other, counts against the budgets, shows in the UI live and stays in the history.
The HTTP call waits for it (OPENAI_WAIT_SECONDS); a task still running then is answered 504 and
keeps running. ``url`` results point at our stored copy through nginx, with a signature that
opens them without a session (app/services/image_access.py) for SIGNED_URL_SECONDS.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from app.api.deps import PrincipalDep, ServicesDep
from app.api.errors import openai_error_response
from app.api.requests import check_content_length, invalid_body, json_body, rate_limit
from app.core.errors import InvalidRequest, NotFound
from app.models.task import Task, TaskStatus
from app.providers.catalog.edits import EditInput
from app.schemas.generation import Image2ImageIn
from app.services.container import Services
from app.services.users import Principal

router = APIRouter(prefix="/v1", tags=["openai"])

# OpenAI's error body, for the schema (the SDKs read error.message / type / code).
OPENAI_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": "`{\"error\": {\"message\", \"type\", \"param\", \"code\"}}`"}
    for code in (400, 401, 404, 413, 429, 500, 502, 504)
}
MAX_REFERENCES = 14


class OpenAIImagesIn(BaseModel):
    # OpenAI clients send fields we have no use for (quality, style, background, moderation...):
    # ignored, as OpenAI itself ignores those a model does not take.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    prompt: str = Field(min_length=1, max_length=4000)
    model: str | None = Field(default=None, max_length=200)
    n: int = Field(default=1, ge=1, le=4)
    size: str | None = Field(default=None, max_length=20, description='"1024x1024" style, or a preset: "2K", "4K"')
    response_format: Literal["url", "b64_json"] = "url"
    user: str | None = Field(default=None, max_length=200, description="The end user, as OpenAI's (not stored)")

    def to_generate(self, images: list[str] | None = None) -> Image2ImageIn:
        size = None if self.size in (None, "", "auto") else self.size
        return Image2ImageIn(model=self.model, prompt=self.prompt, size=size, num_images=self.n, images=images or [])


class OpenAIImage(BaseModel):
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None


class OpenAIUsage(BaseModel):
    # Billing figures of this studio, not OpenAI's tokens: images made and what they cost.
    images: int
    cost_cny: float | None


class OpenAIImagesResponse(BaseModel):
    created: int
    data: list[OpenAIImage]
    usage: OpenAIUsage | None = None


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]


@router.get("/models", response_model=OpenAIModelList, responses=OPENAI_ERRORS)
async def list_models(services: ServicesDep) -> OpenAIModelList:
    """The image models this studio can run now (OpenAI's model list shape)."""
    catalog = services.catalog
    return OpenAIModelList(
        data=[
            OpenAIModel(id=spec.id, owned_by="demo" if spec.provider == "demo" else "volcengine")
            for spec in catalog.all()
            if catalog.available(spec)
        ]
    )


def _parse(raw: Any) -> OpenAIImagesIn:
    try:
        return OpenAIImagesIn.model_validate(raw)
    except ValidationError as exc:
        raise invalid_body(exc) from exc


@router.post("/images/generations", response_model=OpenAIImagesResponse, responses=OPENAI_ERRORS)
async def generations(services: ServicesDep, request: Request, who: PrincipalDep) -> Any:
    """Text to image, as OpenAI's ``images.generate``."""
    await rate_limit(services, request)
    check_content_length(request, 256 * 1024)
    body = _parse(await json_body(request))
    task, _ = await services.tasks.submit(body.to_generate(), mode="text2image", who=who)
    return await _answer(services, request, who, task, body.response_format)


@router.post(
    "/images/edits",
    response_model=OpenAIImagesResponse,
    responses=OPENAI_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "description": "OpenAI's images.edit: `image` (or repeated `image[]`) files, optional `mask` "
                        "(a PNG whose transparent pixels mark what to redraw: the edit is then an inpaint of the "
                        "one image, n = 1, at its own size), and the fields of /v1/images/generations.",
                        "properties": {
                            "image": {"type": "string", "format": "binary"},
                            "image[]": {"type": "array", "items": {"type": "string", "format": "binary"}},
                            "mask": {"type": "string", "format": "binary"},
                            "prompt": {"type": "string"},
                            "model": {"type": "string"},
                            "n": {"type": "integer"},
                            "size": {"type": "string"},
                            "response_format": {"type": "string", "enum": ["url", "b64_json"]},
                            "user": {"type": "string"},
                        },
                        "required": ["image", "prompt"],
                    }
                }
            },
        }
    },
)
async def edits(services: ServicesDep, request: Request, who: PrincipalDep) -> Any:
    """Image editing with reference images, as OpenAI's ``images.edit`` (multipart)."""
    await rate_limit(services, request)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest(
            "Send images/edits as multipart/form-data with an `image` file.",
            message_zh="images/edits 需以 multipart/form-data 发送，并包含 `image` 文件。",
            details={"field": "image"},
        )
    settings = services.settings
    check_content_length(request, settings.max_upload_bytes * (MAX_REFERENCES + 1) + 1024 * 1024)
    uploaded: list[str] = []
    mask_id: str | None = None
    async with request.form(max_files=MAX_REFERENCES + 1, max_fields=50) as form:
        mask = form.get("mask")
        files = [v for key in ("image", "image[]") for v in form.getlist(key) if isinstance(v, UploadFile)]
        if not files:
            raise InvalidRequest(
                "An `image` file is required.", message_zh="缺少 `image` 图片文件。", details={"field": "image"}
            )
        if len(files) > MAX_REFERENCES:
            raise InvalidRequest(
                f"At most {MAX_REFERENCES} images are accepted.",
                message_zh=f"最多接受 {MAX_REFERENCES} 张图片。",
                details={"field": "image"},
            )
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str) and k not in ("image", "image[]", "mask")}
        body = _parse(fields)
        if isinstance(mask, UploadFile):
            _check_inpaint(body, len(files))
            mask_id = (await services.tasks.receive_upload(mask.file, who.user_id)).id
        elif mask is not None and mask != "":
            raise InvalidRequest(
                "`mask` must be a PNG file.", message_zh="`mask` 必须是 PNG 文件。", details={"field": "mask"}
            )
        for file in files:
            uploaded.append((await services.tasks.receive_upload(file.file, who.user_id)).id)
    if mask_id is not None:
        # A mask means inpaint: OpenAI's mask marks with transparency what to edit.
        task, _ = await services.edits.submit(
            "inpaint",
            body.model,
            EditInput(prompt=body.prompt, has_mask=True),
            source_image_id=None,
            source_upload_id=uploaded[0],
            mask_upload_id=mask_id,
            who=who,
            transparent_edits=True,
        )
    else:
        task, _ = await services.tasks.submit(body.to_generate(), mode="image2image", who=who, uploaded=uploaded)
    return await _answer(services, request, who, task, body.response_format)


def _check_inpaint(body: OpenAIImagesIn, images: int) -> None:
    """What a masked edit (one inpaint of one image) cannot honour is refused, not ignored."""
    if images > 1:
        raise InvalidRequest(
            "With a `mask`, send exactly one `image`: the mask edits that image.",
            message_zh="带 `mask` 时只能发送一张 `image`：蒙版用于编辑这张图片。",
            details={"field": "image"},
        )
    if body.n != 1:
        raise InvalidRequest(
            "With a `mask`, `n` must be 1: an inpaint makes one image.",
            message_zh="带 `mask` 时 `n` 必须为 1：局部重绘只生成一张图片。",
            details={"field": "n"},
        )


async def _answer(
    services: Services, request: Request, who: Principal, task: Task, response_format: str
) -> Any:
    task = await services.tasks.wait(task.id, who, services.settings.openai_wait_seconds)
    if not task.is_terminal:
        return openai_error_response(
            504,
            f"The image is still being generated after {services.settings.openai_wait_seconds:g} s; it will appear "
            f"in the history when done (task {task.id}).",
            "timeout",
        )
    if not task.images:
        return _failure(task)
    data: list[OpenAIImage] = []
    base = str(request.base_url).rstrip("/")
    for image in task.images:
        if response_format == "b64_json":
            raw = await asyncio.to_thread(services.store.read_output, image.rel_path)
            if raw is None:
                raise NotFound("The generated image is no longer stored.", message_zh="生成的图片已不在存储中。")
            data.append(OpenAIImage(b64_json=base64.b64encode(raw).decode("ascii")))
        else:
            query = services.image_access.signed_query(image.rel_path, who.user_id)
            data.append(OpenAIImage(url=f"{base}{services.store.url_for(image.rel_path)}?{query}"))
    cost = None if task.cost_micro is None else task.cost_micro / 1_000_000
    return OpenAIImagesResponse(
        created=int(task.created_at.timestamp()),
        data=data,
        usage=OpenAIUsage(images=len(data), cost_cny=cost),
    )


# A failed task's stored error code -> OpenAI's status and code.
_FAILURE_STATUS = {
    "content_moderation": (400, "content_policy_violation"),
    "upstream_rate_limited": (429, "rate_limit_exceeded"),
    "upstream_timeout": (504, "timeout"),
    "upstream_auth_failed": (502, "upstream_error"),
    "upstream_error": (502, "upstream_error"),
}


def _failure(task: Task) -> Any:
    error = task.error or {}
    if task.status == TaskStatus.CANCELLED:
        return openai_error_response(500, f"Task {task.id} was cancelled.", "cancelled")
    status, code = _FAILURE_STATUS.get(str(error.get("code")), (500, "server_error"))
    message = str(error.get("message") or "The generation failed.")
    return openai_error_response(status, f"{message} (task {task.id})", code)
