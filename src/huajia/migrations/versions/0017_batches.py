"""Campaign batches: a sheet of prompts, one task per row (or the row's error).

Revision ID: 0017
Revises: 0015
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warnings", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("webhook_url", sa.String(2000), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_batches"),
    )
    op.create_index("ix_batches_owner_created_at", "batches", ["owner", "created_at"])
    op.create_table(
        "batch_rows",
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(32), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("style", sa.String(64), nullable=True),
        sa.Column("filename", sa.String(100), nullable=True),
        sa.Column("alt", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"],
                                name="fk_batch_rows_batch_id_batches", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"],
                                name="fk_batch_rows_task_id_tasks", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("batch_id", "row", name="pk_batch_rows"),
    )  # fmt: skip
    op.create_index("ix_batch_rows_task_id", "batch_rows", ["task_id"])


def downgrade() -> None:
    op.drop_table("batch_rows")
    op.drop_table("batches")
