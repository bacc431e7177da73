"""The Alembic migrations build exactly the schema the models declare (one linear history)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from app.core.db import Database, _alembic_config
from app.models import Base


async def test_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    await db.migrate()
    await db.dispose()
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        heads = ScriptDirectory.from_config(_alembic_config(conn)).get_heads()
    engine.dispose()
    assert diff == []
    assert len(heads) == 1
