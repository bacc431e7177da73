"""How history finds prompts and pages deep: the substring search and the keyset cursor.

Search: ``%q%`` on the prompt or the negative prompt, case-insensitive. SQLite answers it from the
FTS5 trigram index of migration 0007 (a phrase of trigrams is a substring test in any script);
PostgreSQL from its pg_trgm GIN indexes, which ILIKE uses by itself. A trigram index cannot answer
a query shorter than three characters, so those fall back to LIKE (a scan).

Cursor: the position after the last item of a page, ``(created_at, id)`` of that item, opaque to
clients (base64url JSON). ``WHERE (created_at, id) < cursor`` walks the history index from there,
so page 2,000 costs what page 1 costs; OFFSET reads and throws away every row before it.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import ColumnElement, Select, column, func, literal, literal_column, or_, select, table, text, tuple_

from app.core.errors import InvalidRequest
from app.models.task import UNFINISHED_WHERE, Task, TaskStatus

FTS_TABLE = "tasks_fts"  # migration 0007
TRIGRAM = 3

_fts = table(FTS_TABLE, column("rowid"))


def _like_pattern(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _fts_match(q: str) -> ColumnElement[bool]:
    # One FTS5 string: operators and column filters inside it are plain text.
    return literal_column(FTS_TABLE).op("MATCH")('"' + q.replace('"', '""') + '"')


def prompt_condition(q: str, *, sqlite: bool, for_page: bool = False) -> ColumnElement[bool]:
    """Tasks whose prompt or negative prompt contains ``q`` (NFC, as prompts are stored).

    ``for_page``: the condition of a newest-first page rather than of a count. On SQLite the page
    then walks the history index newest first and tests each entry's rowid against the matches
    (``+rowid``: not an index term) until the page is full; looking up every match by rowid and
    sorting them costs 13 ms for 5,600 matches in 100,000 tasks, the walk 2-4 ms. A count needs
    every match either way, and the lookups are the cheaper way to it.
    """
    q = unicodedata.normalize("NFC", q)
    pattern = _like_pattern(q)
    if not sqlite:
        return or_(Task.prompt.ilike(pattern, escape="\\"), Task.negative_prompt.ilike(pattern, escape="\\"))
    if len(q) < TRIGRAM:
        # SQLite's LIKE already ignores case for ASCII, and its lower() folds only ASCII, so the
        # lower(x) LIKE lower(y) that ilike renders is the same test at ~1.6x the cost.
        return or_(Task.prompt.like(pattern, escape="\\"), Task.negative_prompt.like(pattern, escape="\\"))
    matching = select(_fts.c.rowid).where(_fts_match(q))
    return literal_column("+tasks.rowid" if for_page else "tasks.rowid").in_(matching)


def completed_matches(q: str) -> Select[tuple[int]] | None:
    """The number of completed tasks matching ``q`` on SQLite, for whoever sees every task; None
    when the FTS index cannot answer ``q`` (under three characters).

    Every match is counted inside the FTS index, less the matches that are not completed, which
    are found by walking the small partial index of unfinished tasks (migration 0014) and testing
    each against the matches. The plain count looks every match up in the tasks table: 5-9 ms for
    5,600 matches in 100,000 tasks, against 1-4 ms.
    """
    q = unicodedata.normalize("NFC", q)
    if len(q) < TRIGRAM:
        return None
    match = _fts_match(q)
    every = select(func.count()).select_from(_fts).where(match).scalar_subquery()
    # The partial index serves only a query that repeats its WHERE term as written; "+rowid"
    # keeps the planner from looking each match up by rowid instead.
    unfinished = (
        select(func.count())
        .select_from(Task)
        .where(text(f"tasks.{UNFINISHED_WHERE}"), literal_column("+tasks.rowid").in_(select(_fts.c.rowid).where(match)))
        .scalar_subquery()
    )
    return select(every - unfinished)


COUNTS_TABLE = "task_status_counts"  # migration 0007, SQLite only
_counts = table(COUNTS_TABLE, column("status"), column("n"))


def completed_total() -> Select[tuple[int]]:
    """The number of completed tasks from the counts the triggers keep (SQLite)."""
    return select(func.coalesce(func.sum(_counts.c.n), 0)).where(_counts.c.status == TaskStatus.COMPLETED.value)


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: datetime
    id: str

    def encode(self) -> str:
        raw = orjson.dumps([self.created_at.isoformat(), self.id])
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def of(cls, task: Task) -> Cursor:
        return cls(task.created_at, task.id)

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            created, task_id = orjson.loads(raw)
            when = datetime.fromisoformat(created)
            if not isinstance(task_id, str) or len(task_id) > 32 or when.tzinfo is None:
                raise ValueError(task_id)
        except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
            raise InvalidRequest(
                "The history cursor is not valid; start again from the first page.",
                message_zh="历史记录游标无效，请从第一页重新开始。",
                code="invalid_cursor",
                details={"field": "cursor"},
            ) from exc
        return cls(when, task_id)

    def after(self) -> ColumnElement[bool]:
        """Items after this position in the newest-first order (created_at desc, id desc).

        A row-value comparison, not ``a < x OR (a = x AND b < y)``: SQLite and PostgreSQL seek
        straight to it in the history index (0.02 ms at depth 50,000), while the OR form walks
        the index from the top (7 ms).
        """
        return tuple_(Task.created_at, Task.id) < tuple_(
            literal(self.created_at, Task.created_at.type), literal(self.id, Task.id.type)
        )
