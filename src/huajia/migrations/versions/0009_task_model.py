"""The model a task asks for as a column (claims filtered on an index, not a JSON path).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("model", sa.String(200), nullable=True))
    # Every stored request, of any version, names its model at the top level.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE tasks SET model = request->>'model'")
    else:
        op.execute("UPDATE tasks SET model = json_extract(request, '$.model')")
    op.create_index("ix_tasks_state_model", "tasks", ["state", "model"])


def downgrade() -> None:
    op.drop_index("ix_tasks_state_model", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("model")
