"""Fewer indexes to update when a task changes state.

Every claim and every final write moves a row to a new state, and each index leading with
the state takes a new entry then. Three of them only ever served waiting tasks:

- (state, batch_key) and (state, model): the partial indexes over waiting rows
  (`ix_tasks_queue_batch`, `ix_tasks_queue_model`) answer every query that used them;
- (state, model_revision): tasks pinned to a revision that failed are looked up among the
  waiting ones only; a partial index over waiting rows replaces it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_WAITING = sa.text("state = 'pending'")


def upgrade() -> None:
    op.drop_index("ix_tasks_state_batch_key", table_name="tasks")
    op.drop_index("ix_tasks_state_model", table_name="tasks")
    op.drop_index("ix_tasks_state_model_revision", table_name="tasks")
    op.create_index("ix_tasks_queue_revision", "tasks", ["model_revision"],
                    sqlite_where=_WAITING, postgresql_where=_WAITING)  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_tasks_queue_revision", table_name="tasks")
    op.create_index("ix_tasks_state_model_revision", "tasks", ["state", "model_revision"])
    op.create_index("ix_tasks_state_model", "tasks", ["state", "model"])
    op.create_index("ix_tasks_state_batch_key", "tasks", ["state", "batch_key"])
