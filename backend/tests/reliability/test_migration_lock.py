"""Replicas starting together on one fresh PostgreSQL database: the schema is built once.

Every replica runs the migrations at start-up; without a lock, two of them create the same tables at
once and one fails ("relation already exists"), so a scaled-out deployment would come up with a
replica in a crash loop. Runs on the throw-away cluster of tests/pg.py in every run."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from app.core.db import Database
from tests.pg import Cluster

REPLICAS = 4


async def test_replicas_migrating_at_once_build_the_schema_once(pg_cluster: Cluster) -> None:
    # A database without the template's schema: every replica finds it empty.
    name = await pg_cluster.create_database(template="template0")
    url = pg_cluster.url(name)
    replicas = [Database(url) for _ in range(REPLICAS)]
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(db.migrate() for db in replicas), return_exceptions=True), 60
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
        async with replicas[0].engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert len(versions) == 1
    finally:
        for db in replicas:
            await db.dispose()
        await pg_cluster.drop_database(name)
