"""history search: FTS5 trigram index on SQLite, pg_trgm GIN indexes on PostgreSQL; task counts

Revision ID: 0007
Revises: 0006

Both answer ``%substring%`` searches of prompts, Chinese included, without a full scan. On SQLite
the FTS5 table holds no text of its own (external content: it reads the prompts from ``tasks``);
triggers keep its index in step with every insert, update and delete, whoever writes the row.

SQLite also keeps the number of tasks per status in ``task_status_counts`` (triggers again): the
history's unfiltered total is then one row, not a count over 100,000 index entries (3.6 ms, a
third of the first page).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Kept in step with app.services.history_search, which names these objects in its queries.
FTS_TABLE = "tasks_fts"
TRGM_INDEXES = ("ix_tasks_prompt_trgm", "ix_tasks_negative_prompt_trgm")
COUNTS_TABLE = "task_status_counts"
COUNT_TRIGGERS = ("task_counts_ai", "task_counts_ad", "task_counts_au")

_SQLITE_UP = [
    # trigram: every 3-character window is a token, so a MATCH of a phrase is a substring test
    # for any script (CJK has no spaces to split words at); case-insensitive like LIKE.
    f"""CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(
        prompt, negative_prompt, content='tasks', content_rowid='rowid', tokenize='trigram')""",
    f"""CREATE TRIGGER tasks_fts_ai AFTER INSERT ON tasks BEGIN
        INSERT INTO {FTS_TABLE}(rowid, prompt, negative_prompt)
        VALUES (new.rowid, new.prompt, new.negative_prompt);
    END""",
    f"""CREATE TRIGGER tasks_fts_ad AFTER DELETE ON tasks BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, prompt, negative_prompt)
        VALUES ('delete', old.rowid, old.prompt, old.negative_prompt);
    END""",
    # Only when the text changes: status, progress and lease updates (most writes) cost nothing.
    f"""CREATE TRIGGER tasks_fts_au AFTER UPDATE OF prompt, negative_prompt ON tasks BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, prompt, negative_prompt)
        VALUES ('delete', old.rowid, old.prompt, old.negative_prompt);
        INSERT INTO {FTS_TABLE}(rowid, prompt, negative_prompt)
        VALUES (new.rowid, new.prompt, new.negative_prompt);
    END""",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
    f"CREATE TABLE {COUNTS_TABLE} (status VARCHAR(20) PRIMARY KEY NOT NULL, n INTEGER NOT NULL)",
    f"""CREATE TRIGGER task_counts_ai AFTER INSERT ON tasks BEGIN
        INSERT INTO {COUNTS_TABLE}(status, n) VALUES (new.status, 1)
        ON CONFLICT(status) DO UPDATE SET n = n + 1;
    END""",
    f"""CREATE TRIGGER task_counts_ad AFTER DELETE ON tasks BEGIN
        UPDATE {COUNTS_TABLE} SET n = n - 1 WHERE status = old.status;
    END""",
    f"""CREATE TRIGGER task_counts_au AFTER UPDATE OF status ON tasks
    WHEN old.status IS NOT new.status BEGIN
        UPDATE {COUNTS_TABLE} SET n = n - 1 WHERE status = old.status;
        INSERT INTO {COUNTS_TABLE}(status, n) VALUES (new.status, 1)
        ON CONFLICT(status) DO UPDATE SET n = n + 1;
    END""",
    f"INSERT INTO {COUNTS_TABLE}(status, n) SELECT status, count(*) FROM tasks GROUP BY status",
]


CLAIMABLE_WHERE = "status IN ('pending', 'processing')"  # app.models.task.CLAIMABLE_WHERE


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.create_index(
            "ix_tasks_claimable",
            ["created_at", "id"],
            unique=False,
            sqlite_where=sa.text(CLAIMABLE_WHERE),
            postgresql_where=sa.text(CLAIMABLE_WHERE),
        )
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(f"CREATE INDEX {TRGM_INDEXES[0]} ON tasks USING gin (prompt gin_trgm_ops)")
    op.execute(f"CREATE INDEX {TRGM_INDEXES[1]} ON tasks USING gin (negative_prompt gin_trgm_ops)")


def downgrade() -> None:
    _drop_search()
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.drop_index("ix_tasks_claimable")


def _drop_search() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("tasks_fts_ai", "tasks_fts_ad", "tasks_fts_au", *COUNT_TRIGGERS):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
        op.execute(f"DROP TABLE IF EXISTS {COUNTS_TABLE}")
        return
    for index in TRGM_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {index}")
