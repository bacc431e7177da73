"""image layers: the transparent layers of a layered image (issue 17 item 2c)

Revision ID: 0013
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_layers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("image_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("z_index", sa.Integer(), nullable=False),
        sa.Column("rel_path", sa.String(length=300), nullable=False),
        sa.Column("thumb_rel_path", sa.String(length=300), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("box_x0", sa.Integer(), nullable=True),
        sa.Column("box_y0", sa.Integer(), nullable=True),
        sa.Column("box_x1", sa.Integer(), nullable=True),
        sa.Column("box_y1", sa.Integer(), nullable=True),
        sa.Column("norm_x0", sa.Integer(), nullable=True),
        sa.Column("norm_y0", sa.Integer(), nullable=True),
        sa.Column("norm_x1", sa.Integer(), nullable=True),
        sa.Column("norm_y1", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=2000), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_image_layers_image_id_images"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_layers")),
        sa.UniqueConstraint("image_id", "position", name="uq_image_layers_position"),
    )
    with op.batch_alter_table("image_layers") as batch_op:
        batch_op.create_index(batch_op.f("ix_image_layers_image_id"), ["image_id"], unique=False)


def downgrade() -> None:
    op.drop_table("image_layers")
