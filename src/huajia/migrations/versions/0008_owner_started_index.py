"""Index for the claim order's "owner served least recently" (max started_at per owner).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_owner_started_at", "tasks", ["owner", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_owner_started_at", table_name="tasks")
