"""Live previews: the newest preview of each image of a running task, and who asked for them.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(
            sa.Column("previews_wanted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "task_previews",
        sa.Column("task_id", sa.String(32), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task_id", "index", name="pk_task_previews"),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_task_previews_task_id_tasks", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("task_previews")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("previews_wanted")
