"""Batch key and image count: compatible pending tasks can share one GPU batch.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("batch_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("image_count", sa.Integer(), nullable=False, server_default="1"))
    op.create_index("ix_tasks_state_batch_key", "tasks", ["state", "batch_key"])


def downgrade() -> None:
    op.drop_index("ix_tasks_state_batch_key", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("image_count")
        batch.drop_column("batch_key")
