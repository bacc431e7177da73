"""The Alembic migrations build exactly the schema the models declare (one linear history)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from app.core.db import Database, _alembic_config, modelled
from app.models import Base


async def test_migrations_match_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    try:
        await db.migrate()
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"include_name": modelled}), Base.metadata
                )
            )
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            heads = await conn.run_sync(lambda sync: ScriptDirectory.from_config(_alembic_config(sync)).get_heads())
    finally:
        await db.dispose()
    assert diff == []
    assert {"tasks", "images", "uploads", "sessions", "app_settings"} <= tables
    assert len(heads) == 1
