"""Prompt history (what this install's tasks were asked for) and prompt templates / style presets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.api.deps import PrincipalDep, ServicesDep
from app.schemas.errors import ErrorResponse
from app.schemas.library import PromptHistory, PromptUse, TemplateIn, TemplateList, TemplatePublic
from app.services.prompt_history import PromptOrder
from app.services.prompt_templates import TemplateView, placeholders

router = APIRouter(prefix="/api/v1/prompts", tags=["prompts"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (404, 409, 422)}


def _public(view: TemplateView) -> TemplatePublic:
    return TemplatePublic(
        id=view.id, kind=view.kind, builtin=view.builtin, name=view.name, name_zh=view.name_zh, text=view.text,
        text_zh=view.text_zh, placeholders=placeholders(view.text), updated_at=view.updated_at,
    )


@router.get("/history", response_model=PromptHistory)
async def prompt_history(
    services: ServicesDep,
    who: PrincipalDep,
    q: Annotated[str | None, Query(max_length=500, pattern=r"^[^\x00]*$", description="Substring of the prompt")] = None,
    order: Annotated[PromptOrder, Query(description="recent: last used first; uses: most used first")] = "recent",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PromptHistory:
    """Distinct prompts of your tasks (an admin: all tasks), each once with how often and when last used."""
    rows = await services.prompt_history.search(who, q=q, order=order, limit=limit)
    return PromptHistory(items=[PromptUse(prompt=p, uses=n, last_used_at=last) for p, n, last in rows])


@router.get("/templates", response_model=TemplateList)
async def list_templates(services: ServicesDep, who: PrincipalDep) -> TemplateList:
    """The shipped templates and styles (zh + en), then your own."""
    return TemplateList(items=[_public(v) for v in await services.templates.owned(who)])


@router.post("/templates", status_code=201, response_model=TemplatePublic, responses=ERRORS)
async def create_template(body: TemplateIn, services: ServicesDep, who: PrincipalDep) -> TemplatePublic:
    return _public(await services.templates.create(body.kind, body.name, body.text, who))


@router.put("/templates/{template_id}", response_model=TemplatePublic, responses=ERRORS)
async def update_template(template_id: str, body: TemplateIn, services: ServicesDep, who: PrincipalDep) -> TemplatePublic:
    return _public(await services.templates.update(template_id, body.kind, body.name, body.text, who))


@router.delete("/templates/{template_id}", status_code=204, responses=ERRORS)
async def delete_template(template_id: str, services: ServicesDep, who: PrincipalDep) -> Response:
    await services.templates.delete(template_id, who)
    return Response(status_code=204)
