"""Prompt history: the prompts this install's tasks were submitted with, one entry per distinct
prompt, most recent or most used first, searchable like History.

The search is History's (``prompt_condition``: FTS5 trigrams on SQLite, pg_trgm on PostgreSQL),
so a query finds here what it finds there. A member sees the prompts of their own tasks, an admin
those of every task (as in History). Every status counts: a prompt that failed is still one the
user wrote and may want to fix and send again.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select

from app.core.db import Database
from app.models.task import Task
from app.services.history_search import prompt_condition
from app.services.users import Principal

PromptOrder = Literal["recent", "uses"]


class PromptHistoryService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(
        self, who: Principal, *, q: str | None, order: PromptOrder, limit: int
    ) -> list[tuple[str, int, datetime]]:
        """(prompt, uses, last used) for up to ``limit`` distinct prompts."""
        last = func.max(Task.created_at).label("last_used")
        uses = func.count().label("uses")
        stmt = select(Task.prompt, uses, last).where(Task.prompt != "").group_by(Task.prompt)
        if who.scope is not None:
            stmt = stmt.where(Task.owner_id == who.scope)
        text = unicodedata.normalize("NFC", q.strip()) if q else ""
        if text:
            stmt = stmt.where(prompt_condition(text, sqlite=self.db.is_sqlite))
        # Ties broken by the other key, then by the text, so a page is stable.
        keys = (last.desc(), uses.desc()) if order == "recent" else (uses.desc(), last.desc())
        stmt = stmt.order_by(*keys, Task.prompt).limit(limit)
        async with self.db.read() as session:
            return [(row[0], int(row[1]), row[2]) for row in (await session.execute(stmt)).all()]
