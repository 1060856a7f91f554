"""Image lineage and origin: an edit points to the image it started from; an image says
whether the model made all of it, part of it (over a photo) or none of it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("origin", sa.String(16), nullable=False, server_default="generated")
        )
        batch.create_foreign_key(
            "fk_images_parent_id_images", "images", ["parent_id"], ["id"], ondelete="SET NULL"
        )
    op.create_index("ix_images_parent_id", "images", ["parent_id"])


def downgrade() -> None:
    op.drop_index("ix_images_parent_id", table_name="images")
    with op.batch_alter_table("images") as batch:
        batch.drop_constraint("fk_images_parent_id_images", type_="foreignkey")
        batch.drop_column("origin")
        batch.drop_column("parent_id")
