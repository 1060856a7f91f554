"""Brand at run time: versioned style presets and registered LoRA files.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "style_presets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", DOCUMENT, nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_style_presets"),
        sa.UniqueConstraint("name", "version", name="uq_style_presets_name_version"),
    )
    op.create_table(
        "loras",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("path", sa.String(2000), nullable=False),
        sa.Column("identity", sa.String(80), nullable=False),
        sa.Column("report", DOCUMENT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_loras"),
    )


def downgrade() -> None:
    op.drop_table("loras")
    op.drop_table("style_presets")
