"""How long each model usually takes on this install: the median of its latest completed tasks.

The UI shows it beside a running job's timer ("usually ~12 s"), so the figure is this install's own
(its network, its upstream account's queue), not a number from the vendor's documentation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from statistics import median

from sqlalchemy import select

from app.core.db import Database
from app.models.task import Task, TaskStatus

# Enough to smooth out one slow job, few enough to follow a model that got faster or slower.
SAMPLE_SIZE = 50


@dataclass(frozen=True, slots=True)
class TypicalDuration:
    model: str
    median_seconds: float
    samples: int


async def typical_durations(db: Database, models: Iterable[str], sample_size: int = SAMPLE_SIZE) -> list[TypicalDuration]:
    """Per model with at least one completed task: the median seconds from start to end of its
    last ``sample_size`` completed tasks (queue time excluded: it depends on the other jobs)."""
    out: list[TypicalDuration] = []
    async with db.read() as session:
        for model in models:
            # One small query per model rides ix_tasks_model_recent (model, status, created_at).
            stmt = (
                select(Task.started_at, Task.completed_at)
                .where(Task.model == model, Task.status == TaskStatus.COMPLETED, Task.started_at.is_not(None))
                .order_by(Task.created_at.desc(), Task.id.desc())
                .limit(sample_size)
            )
            seconds = [
                (done - started).total_seconds()
                for started, done in (await session.execute(stmt)).all()
                if started is not None and done is not None and done >= started
            ]
            if seconds:
                out.append(TypicalDuration(model=model, median_seconds=round(median(seconds), 1), samples=len(seconds)))
    return out
