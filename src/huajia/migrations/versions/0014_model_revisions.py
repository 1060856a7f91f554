"""Model revisions: the weights (and model files) new work is served with, changed live by
`huajia reload`; each task is pinned to the revision it was submitted under.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("model_id", sa.String(200), nullable=False),
        sa.Column("weights", sa.String(2000), nullable=True),
        sa.Column("weights_id", sa.String(300), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_model_revisions"),
    )
    op.create_index("ix_model_revisions_model_id", "model_revisions", ["model", "id"])
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("model_revision", sa.Integer(), nullable=True))
    op.create_index("ix_tasks_state_model_revision", "tasks", ["state", "model_revision"])


def downgrade() -> None:
    op.drop_index("ix_tasks_state_model_revision", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("model_revision")
    op.drop_index("ix_model_revisions_model_id", table_name="model_revisions")
    op.drop_table("model_revisions")
