"""Signed webhooks: where to report a task's end, and how delivery is going.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("webhook_url", sa.String(2000), nullable=True))
        batch.add_column(
            sa.Column("webhook_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("webhook_next_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("webhook_delivered_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("webhook_error", sa.Text(), nullable=True))
    op.create_index("ix_tasks_webhook_next_at", "tasks", ["webhook_next_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_webhook_next_at", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        for column in ("webhook_error", "webhook_delivered_at", "webhook_next_at",
                       "webhook_attempts", "webhook_url"):  # fmt: skip
            batch.drop_column(column)
