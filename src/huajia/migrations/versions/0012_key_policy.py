"""Per-key policy: admin-edited rules (global and per key), rate-limit windows, and the
reviewer role.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ROLES_BEFORE = "role IN ('editor', 'admin')"
ROLES_AFTER = "role IN ('editor', 'admin', 'reviewer')"


def upgrade() -> None:
    op.create_table(
        "policies",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("rules", DOCUMENT, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_policies"),
    )
    op.create_table(
        "rate_windows",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_rate_windows"),
    )
    _roles(ROLES_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM api_keys WHERE role = 'reviewer'")
    _roles(ROLES_BEFORE)
    op.drop_table("rate_windows")
    op.drop_table("policies")


def _roles(condition: str) -> None:
    # SQLite cannot alter a constraint: batch mode copies the table with the new one.
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint("ck_api_keys_role", type_="check")
        batch.create_check_constraint("ck_api_keys_role", condition)
