"""model data: web searches a task used (Ark usage.tool_usage.web_search)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, never a batch rebuild: on SQLite a rebuilt tasks table would lose the
# history-search triggers of 0007 (they follow its rowids).
def upgrade() -> None:
    op.add_column("tasks", sa.Column("web_searches", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("tasks", "web_searches")
