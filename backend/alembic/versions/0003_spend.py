"""spend: unit price, reservation and actual cost per task; settings stored in the database

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        # Money in integer micro-yuan. unit_price: the price in force when the task was accepted;
        # reserved: its maximum cost while it runs (0 once settled); cost: what it actually cost.
        batch_op.add_column(sa.Column("unit_price_micro", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("reserved_micro", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("billed_images", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cost_micro", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_tasks_completed", ["completed_at"], unique=False)
    op.create_table(
        "app_settings",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_settings")
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.drop_index("ix_tasks_completed")
        batch_op.drop_column("cost_micro")
        batch_op.drop_column("billed_images")
        batch_op.drop_column("reserved_micro")
        batch_op.drop_column("unit_price_micro")
