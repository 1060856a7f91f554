"""Progress log: one row per denoising step, so every step reaches SSE clients.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_progress",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_task_progress"),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_task_progress_task_id_tasks", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_task_progress_task_id_id", "task_progress", ["task_id", "id"])
    op.create_index("ix_task_progress_created_at", "task_progress", ["created_at"])


def downgrade() -> None:
    op.drop_table("task_progress")
