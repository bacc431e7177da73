"""Prompt templates and style presets: the shipped ones (data, prompt_presets.toml) and a member's
own (rows, theirs alone; another member's id is "not found").

A template's ``{name}`` placeholders are filled in by the form before it is inserted; a style is
appended to the prompt as it is. ``{{`` and ``}}`` stand for literal braces.
"""

from __future__ import annotations

import re
import tomllib
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import cast

from sqlalchemy import func, select

from app.core.db import Database
from app.core.errors import AppError, Conflict, NotFound
from app.models.base import utcnow
from app.models.library import PromptTemplate
from app.schemas.library import TemplateKind
from app.services.users import Principal

PRESETS_FILE = Path(__file__).with_name("prompt_presets.toml")
BUILTIN_PREFIX = "builtin:"
MAX_TEMPLATES = 500
# {name}: letters (any script), digits, spaces, _ and -, not starting with a space; {{ }} escape.
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}\s][^{}]{0,39})\}")


def placeholders(text: str) -> list[str]:
    """The placeholder names of ``text`` in order of first appearance."""
    names: list[str] = []
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1)
        if name and name.strip() not in names:
            names.append(name.strip())
    return names


@dataclass(frozen=True, slots=True)
class TemplateView:
    id: str
    kind: TemplateKind
    builtin: bool
    name: str
    name_zh: str
    text: str
    text_zh: str
    updated_at: datetime | None


@cache
def shipped(path: Path = PRESETS_FILE) -> tuple[TemplateView, ...]:
    """The shipped presets, templates first, in file order (read once: the file is part of the code)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    views = []
    for kind in ("template", "style"):
        for entry in data.get(kind, []):
            views.append(
                TemplateView(
                    id=BUILTIN_PREFIX + entry["key"], kind=kind, builtin=True,
                    name=entry["name"]["en"], name_zh=entry["name"]["zh"],
                    text=entry["text"]["en"], text_zh=entry["text"]["zh"], updated_at=None,
                )
            )
    return tuple(views)


def _view(row: PromptTemplate) -> TemplateView:
    return TemplateView(
        id=row.id, kind=cast(TemplateKind, row.kind), builtin=False, name=row.name, name_zh=row.name, text=row.text, text_zh=row.text,
        updated_at=row.updated_at,
    )


def _not_found(template_id: str) -> AppError:
    if template_id.startswith(BUILTIN_PREFIX):
        return Conflict(
            "Shipped templates cannot be changed; save a copy as your own instead.",
            message_zh="内置模板不能修改，请另存为自己的模板。",
            code="template_builtin",
        )
    return NotFound(
        f"Template {template_id!r} does not exist.", message_zh=f"模板 {template_id!r} 不存在。", code="template_not_found"
    )


class PromptTemplateService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def owned(self, who: Principal) -> list[TemplateView]:
        stmt = (
            select(PromptTemplate)
            .where(PromptTemplate.owner_id == who.user_id)
            .order_by(PromptTemplate.kind, PromptTemplate.name, PromptTemplate.id)
        )
        async with self.db.read() as session:
            rows = (await session.execute(stmt)).scalars().all()
        return [*shipped(), *(_view(r) for r in rows)]

    async def create(self, kind: str, name: str, text: str, who: Principal) -> TemplateView:
        now = utcnow()
        row = PromptTemplate(
            id=uuid.uuid4().hex, owner_id=who.user_id, kind=kind, name=name, text=text, created_at=now, updated_at=now
        )
        async with self.db.write() as session:
            owned = (
                await session.execute(select(func.count()).where(PromptTemplate.owner_id == who.user_id))
            ).scalar_one()
            if owned >= MAX_TEMPLATES:
                raise Conflict(
                    f"You have {MAX_TEMPLATES} templates, the most one member may have; delete one first.",
                    message_zh=f"您已有 {MAX_TEMPLATES} 个模板，已达上限；请先删除一个。",
                    code="too_many_templates",
                )
            session.add(row)
        return _view(row)

    async def update(self, template_id: str, kind: str, name: str, text: str, who: Principal) -> TemplateView:
        async with self.db.write() as session:
            row = await session.get(PromptTemplate, template_id)
            if row is None or row.owner_id != who.user_id:
                raise _not_found(template_id)
            row.kind, row.name, row.text, row.updated_at = kind, name, text, utcnow()
        return _view(row)

    async def delete(self, template_id: str, who: Principal) -> None:
        async with self.db.write() as session:
            row = await session.get(PromptTemplate, template_id)
            if row is None or row.owner_id != who.user_id:
                raise _not_found(template_id)
            await session.delete(row)
