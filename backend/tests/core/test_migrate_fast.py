"""Start-up: a schema already at the head is recognised without importing Alembic; anything else
still goes through Alembic."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from app.core.db import BACKEND_DIR, Database, _alembic_config, script_head


def test_the_head_read_from_the_files_is_alembics() -> None:
    assert script_head() == ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _version(folder: Path, name: str, revision: str, down: str) -> None:
    (folder / f"{name}.py").write_text(f'"""x"""\nrevision = "{revision}"\ndown_revision = {down}\n')


def test_anything_but_one_plain_chain_is_left_to_alembic(tmp_path: Path) -> None:
    _version(tmp_path, "a", "0001", "None")
    _version(tmp_path, "b", "0002", '"0001"')
    assert script_head(tmp_path) == "0002"
    _version(tmp_path, "c", "0003", '"0001"')  # two heads
    assert script_head(tmp_path) is None
    _version(tmp_path, "d", "0004", '("0002", "0003")')  # a merge
    assert script_head(tmp_path) is None
    (tmp_path / "d.py").unlink()
    (tmp_path / "c.py").write_text('"""x"""\nrevision = "0003"\ndown_revision = "0009"\n')  # unknown parent
    assert script_head(tmp_path) is None


def test_a_current_schema_is_not_migrated_through_alembic(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from app.core.db import Database

        async def main() -> None:
            db = Database({url!r})
            await db.migrate()
            await db.ping()
            print(db.expected_revision, "alembic" in sys.modules)
            await db.dispose()

        asyncio.run(main())
        """
    )

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=BACKEND_DIR, capture_output=True, text=True, timeout=120, check=True
        )
        return done.stdout.strip().splitlines()[-1]

    head = script_head()
    assert run() == f"{head} True"  # a new database: Alembic makes it
    assert run() == f"{head} False"  # current: Alembic is never imported


async def test_an_older_schema_is_still_upgraded(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    try:
        async with db.write_engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(_alembic_config(sync), "0005"))
        await db.migrate()
        assert db.expected_revision == script_head()
        async with db.read() as session:
            revision = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
            fts = (await session.execute(text("SELECT count(*) FROM tasks_fts"))).scalar_one()
        assert revision == script_head() and fts == 0
        await db.ping()
    finally:
        await db.dispose()
