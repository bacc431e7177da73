"""The job queue: the tasks table is the queue.

Rule: every job may run twice (a worker can die between any two statements). Claims are one
atomic UPDATE ... RETURNING, so two workers never hold the same job; a lease renewed by heartbeat
tells other workers the holder is alive; a job whose lease ran out is claimed again and resumes
from its checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, or_, select, text, update

from app.core.db import Database, rowcount
from app.models.base import utcnow
from app.models.task import ACTIVE_STATUSES, Task, TaskStatus

# SQLite's claim candidates, pinned to the partial index of queued and running tasks. Left to
# choose, the planner reads statistics taken when the queue was empty (every status 'completed'):
# it then costs a walk of the queue as a walk of the whole table and scans the table instead, 12 ms
# per claim at 100,000 rows. INDEXED BY makes that plan impossible whatever the statistics say
# (and fails loudly, never slowly, if the index were missing). SQLAlchemy has no SQLite index hint.
_SQLITE_CANDIDATES = """SELECT tasks.id FROM tasks INDEXED BY ix_tasks_claimable
WHERE tasks.status IN ('pending', 'processing')
  AND ((tasks.status = 'pending' AND tasks.cancel_requested = 0)
       OR (tasks.status = 'processing' AND tasks.lease_expires_at < :now)){providers}
ORDER BY tasks.created_at, tasks.id LIMIT :limit"""


def _sqlite_candidates(now: datetime, limit: int, providers: Sequence[str] | None) -> Any:
    params = [bindparam("now", now, type_=Task.lease_expires_at.type), bindparam("limit", limit)]
    clause = ""
    if providers is not None:
        clause = " AND tasks.provider IN :providers"
        params.append(bindparam("providers", list(providers), expanding=True))
    return text(_SQLITE_CANDIDATES.format(providers=clause)).bindparams(*params).columns(Task.id).scalar_subquery()


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    task_id: str
    provider: str
    attempts: int


class JobQueue:
    def __init__(self, db: Database, *, lease_seconds: float, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.lease = timedelta(seconds=lease_seconds)
        self.clock = clock

    def _claimable(self, now: datetime) -> ColumnElement[bool]:
        return and_(
            # Redundant, and needed: only a query that repeats the partial index's WHERE may use
            # it (ix_tasks_claimable; the OR below does not imply it by the planners' rules).
            Task.status.in_(ACTIVE_STATUSES),
            or_(
                and_(Task.status == TaskStatus.PENDING, Task.cancel_requested.is_(False)),
                and_(Task.status == TaskStatus.PROCESSING, Task.lease_expires_at < now),
            ),
        )

    async def claim(self, worker_id: str, limit: int, *, providers: Sequence[str] | None = None) -> list[ClaimedJob]:
        """Take up to ``limit`` runnable jobs (oldest first) for ``worker_id``."""
        if limit <= 0:
            return []
        now = self.clock()
        candidates = select(Task.id).where(self._claimable(now)).order_by(Task.created_at, Task.id).limit(limit)
        if providers is not None:
            candidates = candidates.where(Task.provider.in_(list(providers)))
        if self.db.is_sqlite:
            chosen: Any = _sqlite_candidates(now, limit, providers)
        else:
            # A materialised CTE, not `IN (subquery)`: PostgreSQL may run an IN-subquery again for
            # each row it updates, and with SKIP LOCKED every run can pick other rows, so one
            # claim could take more than `limit` jobs (caps overrun: 6 Visual jobs under a cap of 2).
            chosen = select(
                candidates.with_for_update(skip_locked=True).cte("claimable", nesting=False).prefix_with("MATERIALIZED")
            )
        stmt = (
            update(Task)
            .where(Task.id.in_(chosen))
            # Re-check inside the UPDATE: on PostgreSQL another worker may have taken the row
            # between the sub-select's snapshot and the lock.
            .where(self._claimable(now))
            .values(
                status=TaskStatus.PROCESSING,
                lease_owner=worker_id,
                lease_expires_at=now + self.lease,
                attempts=Task.attempts + 1,
                started_at=now,
                updated_at=now,
            )
            .returning(Task.id, Task.provider, Task.attempts, Task.created_at)
            .execution_options(synchronize_session=False)
        )
        rows = list(await self.db.run_write(lambda session: session.execute(stmt).all()))
        rows.sort(key=lambda r: (r.created_at, r.id))
        return [ClaimedJob(task_id=r.id, provider=r.provider, attempts=r.attempts) for r in rows]

    async def heartbeat(self, worker_id: str, task_ids: Iterable[str]) -> set[str]:
        """Extend the leases this worker holds; returns the ids whose lease it still owns."""
        ids = list(task_ids)
        if not ids:
            return set()
        now = self.clock()
        stmt = (
            update(Task)
            .where(Task.id.in_(ids), Task.lease_owner == worker_id, Task.status == TaskStatus.PROCESSING)
            .values(lease_expires_at=now + self.lease)
            .returning(Task.id)
            .execution_options(synchronize_session=False)
        )
        return await self.db.run_write(lambda session: set(session.execute(stmt).scalars().all()))

    async def cancel_requested(self, task_ids: Iterable[str]) -> set[str]:
        ids = list(task_ids)
        if not ids:
            return set()
        async with self.db.read() as session:
            rows = await session.execute(select(Task.id).where(Task.id.in_(ids), Task.cancel_requested.is_(True)))
            return set(rows.scalars().all())

    async def release(self, worker_id: str, task_ids: Iterable[str]) -> int:
        """Hand unfinished jobs back (graceful shutdown) so the next worker starts them at once."""
        ids = list(task_ids)
        if not ids:
            return 0
        stmt = (
            update(Task)
            .where(Task.id.in_(ids), Task.lease_owner == worker_id, Task.status == TaskStatus.PROCESSING)
            .values(lease_expires_at=self.clock() - timedelta(seconds=1))
            .execution_options(synchronize_session=False)
        )
        async with self.db.write() as session:
            return rowcount(await session.execute(stmt))

    async def recover_abandoned(self, worker_id: str) -> int:
        """At start-up, make jobs left ``processing`` by a dead process claimable now.

        SQLite means a single node, so every lease not held by this process belongs to a process
        that is gone. On PostgreSQL other replicas may be alive: there only expired leases are
        touched (they are claimable anyway; this just makes the count visible in the logs).
        """
        now = self.clock()
        cond = [Task.status == TaskStatus.PROCESSING]
        if self.db.is_sqlite:
            cond.append(or_(Task.lease_owner.is_(None), Task.lease_owner != worker_id))
        else:
            cond.append(Task.lease_expires_at < now)
        stmt = (
            update(Task)
            .where(*cond)
            .values(lease_expires_at=now - timedelta(seconds=1))
            .execution_options(synchronize_session=False)
        )
        async with self.db.write() as session:
            return rowcount(await session.execute(stmt))

    async def claimable_providers(self) -> set[str]:
        now = self.clock()
        stmt = select(Task.provider).where(self._claimable(now)).distinct()
        async with self.db.read() as session:
            return set((await session.execute(stmt)).scalars().all())

    async def has_claimable(self, providers: Sequence[str] | None = None) -> bool:
        now = self.clock()
        stmt = select(Task.id).where(self._claimable(now)).limit(1)
        if providers is not None:
            stmt = stmt.where(Task.provider.in_(list(providers)))
        async with self.db.read() as session:
            return (await session.execute(stmt)).first() is not None
