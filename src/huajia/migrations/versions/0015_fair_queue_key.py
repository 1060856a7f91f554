"""The claim order as an indexed key on each task (priority class, owner's turn), so claims,
batches and queue positions read a partial index instead of ranking the whole queue.

Tasks already waiting keep their age order inside their class (turn 0).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_WAITING = sa.text("state = 'pending'")
_ORDER = ["queue_class", "queue_turn", "created_at", "id"]
_INDEXES = {
    "ix_tasks_queue": _ORDER,
    "ix_tasks_queue_model": ["model", *_ORDER],
    "ix_tasks_queue_batch": ["batch_key", *_ORDER],
    "ix_tasks_queue_owner": ["owner", "queue_class", "queue_turn"],
}
# Priority ranks as of this revision (jobs/model.py PRIORITY_ORDER).
_RANKS = {"high": 0, "normal": 1, "low": 2}


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("queue_class", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("queue_turn", sa.Integer(), nullable=False, server_default="0"))
    tasks = sa.table("tasks", sa.column("priority", sa.String()), sa.column("queue_class"))
    rank = sa.case(_RANKS, value=tasks.c.priority, else_=len(_RANKS))
    op.execute(tasks.update().values(queue_class=rank))
    for name, columns in _INDEXES.items():
        op.create_index(name, "tasks", columns, sqlite_where=_WAITING, postgresql_where=_WAITING)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("queue_turn")
        batch.drop_column("queue_class")
