"""The models a worker holds (several per worker), beside the one it was started for.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null on rows of workers started before: they hold only their `model`.
    with op.batch_alter_table("workers") as batch:
        batch.add_column(sa.Column("models", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("models")
