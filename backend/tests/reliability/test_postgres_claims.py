"""Atomic job claims on PostgreSQL (FOR UPDATE SKIP LOCKED): several "replicas" (separate engines
and pools) claim one queue concurrently; every job is claimed exactly once, and stale leases are
taken over exactly once. Runs against the throw-away cluster of tests/pg.py (Debian's postgresql,
installed by the project's scripts), in every run: no skip for want of PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

from sqlalchemy import update

from app.core.db import Database
from app.jobs.queue import JobQueue
from app.models.base import utcnow
from app.models.task import Task

REPLICAS = 4
CLAIMERS_PER_REPLICA = 3
JOBS = 240


def _task(i: int) -> Task:
    now = utcnow()
    return Task(
        id=uuid.uuid4().hex, type="text2image", model="demo", provider="demo", status="pending", progress=0,
        prompt=f"claim {i}", parameters={"model": "demo", "prompt": f"claim {i}"}, expected_images=1, checkpoint={},
        failures=[], created_at=now + timedelta(microseconds=i), updated_at=now,
    )


async def _drain(queue: JobQueue, worker: str, claimed: list[str]) -> None:
    while True:
        jobs = await queue.claim(worker, 5)
        if not jobs:
            return
        claimed.extend(job.task_id for job in jobs)
        await asyncio.sleep(0)


async def test_concurrent_replicas_claim_each_job_once(shared_url: str) -> None:
    setup = Database(shared_url)
    await setup.migrate()
    async with setup.write() as session:
        session.add_all([_task(i) for i in range(JOBS)])
    replicas = [Database(shared_url) for _ in range(REPLICAS)]
    try:
        claimed: list[str] = []
        await asyncio.gather(*(
            _drain(JobQueue(db, lease_seconds=30), f"r{r}c{c}", claimed)
            for r, db in enumerate(replicas) for c in range(CLAIMERS_PER_REPLICA)
        ))
        counts = Counter(claimed)
        assert len(counts) == JOBS
        assert max(counts.values()) == 1

        # Leases that ran out (their holders died) are taken over exactly once.
        stale = list(counts)[:50]
        async with setup.write() as session:
            await session.execute(
                update(Task).where(Task.id.in_(stale)).values(lease_expires_at=utcnow() - timedelta(seconds=5))
            )
        retaken: list[str] = []
        await asyncio.gather(*(
            _drain(JobQueue(db, lease_seconds=30), f"late-r{r}c{c}", retaken)
            for r, db in enumerate(replicas) for c in range(CLAIMERS_PER_REPLICA)
        ))
        assert sorted(retaken) == sorted(stale)
        async with setup.read() as session:
            rows = (await session.execute(Task.__table__.select().where(Task.id.in_(stale)))).mappings().all()
        assert {row["attempts"] for row in rows} == {2}
    finally:
        for db in replicas:
            await db.dispose()
        await setup.dispose()
