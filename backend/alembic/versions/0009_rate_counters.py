"""rate limits shared by replicas

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_counters",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "bucket", name=op.f("pk_rate_counters")),
    )
    with op.batch_alter_table("rate_counters") as batch_op:
        batch_op.create_index("ix_rate_counters_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("rate_counters")
