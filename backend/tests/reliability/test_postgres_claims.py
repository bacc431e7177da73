"""Atomic job claims on PostgreSQL (FOR UPDATE SKIP LOCKED): several "replicas" (separate engines
and pools) claim one queue concurrently; every job is claimed exactly once, and stale leases are
taken over exactly once. Runs against a throw-away cluster made with the local initdb/pg_ctl;
skipped when no PostgreSQL binaries are installed."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from app.core.db import Database
from app.jobs.queue import JobQueue
from app.models.base import utcnow
from app.models.task import Task

REPLICAS = 4
CLAIMERS_PER_REPLICA = 3
JOBS = 240


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True):
        return Path(candidate).parent
    return None


def _as_postgres(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL binaries (pg_ctl/initdb) on this machine")
    if os.geteuid() == 0 and subprocess.run(["id", "-u", "postgres"], capture_output=True).returncode != 0:
        pytest.skip("running as root and there is no 'postgres' user to run the server as")
    work = Path(tempfile.mkdtemp(prefix="studio-pg-"))
    work.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(work, "postgres", "postgres")
    data = work / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    init = subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]),
        capture_output=True, text=True,
    )
    if init.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        pytest.skip(f"initdb failed: {init.stderr.strip()[:300]}")
    options = f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    start = subprocess.run(
        _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(work / "log"), "-w", "-t", "60", "start"]),
        capture_output=True, text=True,
    )
    if start.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        pytest.skip(f"postgres did not start: {start.stderr.strip()[:300]}")
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


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


async def test_concurrent_replicas_claim_each_job_once(pg_url: str) -> None:
    setup = Database(pg_url)
    await setup.migrate()
    async with setup.write() as session:
        session.add_all([_task(i) for i in range(JOBS)])
    replicas = [Database(pg_url) for _ in range(REPLICAS)]
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
