"""edits: the operation of an edit task and the image it was made from

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns with no default: a metadata-only change on both SQLite and PostgreSQL,
    # however many tasks the history holds.
    op.add_column("tasks", sa.Column("operation", sa.String(length=20), nullable=True))
    op.add_column("tasks", sa.Column("parent_image_id", sa.String(length=32), nullable=True))
    op.create_index(
        "ix_tasks_operation_history", "tasks", ["operation", "status", "created_at", "id"], unique=False
    )
    op.create_index("ix_tasks_parent_image", "tasks", ["parent_image_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tasks_parent_image", table_name="tasks")
    op.drop_index("ix_tasks_operation_history", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("parent_image_id")
        batch.drop_column("operation")
