"""Statements the job path runs once or more per job, built once.

Building ``update(Task).where(...).values(...)`` and its cache key costs more than running it on
SQLite (a 12-column finish: ~0.5 ms built per call, ~0.2 ms prebuilt, measured on this machine),
and it runs on the event loop or the writer thread, both shared by every job. These are built at
import with bind parameters, and given their values at execution.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, Update, bindparam, select, update

from app.models.task import Task

# Prefixed: a bind parameter may not share its name with a column the statement sets.
_PREFIX = "p_"
_TASK_ID = _PREFIX + "task_id"


def task_update(*columns: str) -> Update:
    """``UPDATE tasks SET <columns> WHERE id = :task_id``; run with ``task_values``.

    No ORM synchronisation: the job path never holds the Task it updates in the writer's session
    (it would only try to evaluate the criteria against the session's objects).
    """
    return (
        update(Task)
        .where(Task.id == bindparam(_TASK_ID))
        .values({column: bindparam(_PREFIX + column) for column in columns})
        .execution_options(synchronize_session=False)
    )


def task_values(task_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of a ``task_update`` statement."""
    return {_TASK_ID: task_id, **{_PREFIX + column: value for column, value in values.items()}}


FINISH_COLUMNS = (
    "status", "error", "failures", "completed_at", "updated_at", "lease_owner", "lease_expires_at",
    "expected_images", "reserved_micro", "billed_images", "web_searches", "cost_micro",
)
FINISH = task_update(*FINISH_COLUMNS)
FINISH_WITH_PROGRESS = task_update(*FINISH_COLUMNS, "progress")
# An image of the task is stored.
STORED_PROGRESS = task_update("progress", "checkpoint", "updated_at")


@functools.cache
def task_update_of(columns: frozenset[str]) -> Update:
    """A job's own updates while it runs (TaskJobContext._update): built once per set of columns
    (the job path sets a handful of them)."""
    return task_update(*sorted(columns))


# The job's first read of its task.
TASK_BY_ID: Select[Task] = select(Task).where(Task.id == bindparam(_TASK_ID))


def task_id_param(task_id: str) -> dict[str, Any]:
    return {_TASK_ID: task_id}
